# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch

from memvid_mm.models.layers import EvidenceBoxes, EvidenceMotion, MemoryState


def _write(state, video_id, frame_id, k=2, value=None):
    feat = torch.randn(1, 4, 3, 5) if value is None else value
    img = torch.randn(1, 3, 12, 20)
    state.write([feat] * k, [img] * k, [frame_id] * k, video_id, frame_id)
    return feat, img


def test_new_state_is_empty_and_needs_reset():
    state = MemoryState()
    assert state.is_empty
    assert state.frame_index == 0
    assert state.memories == [] and state.anchor_imgs == []
    assert state.needs_reset('a', 5)
    # the lists are per instance, not shared between states
    assert MemoryState().memories is not state.memories


def test_first_write_equals_input():
    state = MemoryState()
    feat, img = _write(state, video_id=3, frame_id=0, k=3)
    assert not state.is_empty
    assert state.num_memories == 3
    assert all(torch.equal(m, feat) for m in state.memories)
    assert all(torch.equal(i, img) for i in state.anchor_imgs)
    assert state.anchor_frame_ids == [0, 0, 0]
    assert (state.video_id, state.last_frame_id, state.frame_index) == (3, 0,
                                                                        1)


def test_consecutive_frame_of_same_video_keeps_state():
    state = MemoryState()
    _write(state, 'v', 4)
    assert not state.needs_reset('v', 5)
    _write(state, 'v', 5)
    assert state.frame_index == 2 and state.last_frame_id == 5


def test_new_video_id_resets():
    state = MemoryState()
    _write(state, video_id=1, frame_id=0)
    assert state.needs_reset(video_id=2, frame_id=1)
    state.reset()
    assert state.is_empty
    assert (state.video_id, state.last_frame_id,
            state.frame_index) == (None, None, 0)
    assert state.anchor_frame_ids == [] and state.anchor_imgs == []


def test_non_consecutive_or_first_frame_resets():
    state = MemoryState()
    _write(state, 'v', 7)
    assert state.needs_reset('v', 9)  # skipped a frame
    assert state.needs_reset('v', 7)  # same frame again
    assert state.needs_reset('v', 6)  # went back
    assert state.needs_reset('v', 0)  # a new pass over the video
    assert not state.needs_reset('v', 8)


def test_out_of_order_is_a_reset_in_the_middle_of_a_video():
    state = MemoryState()
    assert not state.is_out_of_order('a', 5)  # nothing held yet
    _write(state, 'a', 3)
    assert not state.is_out_of_order('a', 4)  # the next frame
    assert not state.is_out_of_order('b', 0)  # a video from its start
    assert not state.is_out_of_order('a', 0)  # a new pass over the video
    for video_id, frame_id in (('a', 5), ('a', 3), ('b', 4), ('b', 1)):
        assert state.is_out_of_order(video_id, frame_id)
        assert state.needs_reset(video_id, frame_id)
    # only a gap in the same video is a frame gap
    assert state.is_frame_gap('a', 5) and not state.is_frame_gap('b', 4)


def test_frame_zero_of_the_video_held_restarts_it_without_a_gap():
    """Frame 0 of the video the state holds is a new pass over it: a reset
    of its own (``needs_reset``), neither a gap in the video
    (``is_frame_gap``) nor out of order, whatever frame came last."""
    state = MemoryState()
    _write(state, 'v', 7)
    assert state.needs_reset('v', 0)
    assert not state.is_frame_gap('v', 0)
    assert not state.is_out_of_order('v', 0)


def test_write_validates_lengths():
    state = MemoryState()
    with pytest.raises(ValueError, match='same length'):
        state.write([torch.zeros(1)] * 2, [torch.zeros(1)], [0, 0], 'v', 0)
    with pytest.raises(ValueError, match='at least one'):
        state.write([], [], [], 'v', 0)
    _write(state, 'v', 0, k=2)
    with pytest.raises(ValueError, match='holds 2'):
        _write(state, 'v', 1, k=3)


def test_detach_and_to_return_copies():
    state = MemoryState()
    feat = torch.randn(1, 4, 3, 5, requires_grad=True) * 2
    _write(state, 'v', 0, value=feat)
    detached = state.detach()
    assert all(not m.requires_grad for m in detached.memories)
    assert state.memories[0].requires_grad  # the original is untouched
    assert torch.equal(detached.memories[0], feat.detach())
    assert (detached.video_id, detached.last_frame_id,
            detached.frame_index) == ('v', 0, 1)
    moved = state.to('cpu')
    assert moved is not state
    assert moved.memories[0].device.type == 'cpu'
    assert moved.anchor_frame_ids == state.anchor_frame_ids


def test_detach_in_place_keeps_the_values_and_the_bookkeeping():
    state = MemoryState()
    feat = torch.randn(1, 4, 3, 5, requires_grad=True) * 2
    _write(state, 'v', 0, value=feat)
    state.detach_()
    assert all(not t.requires_grad for t in state.memories + state.anchor_imgs)
    assert torch.equal(state.memories[0], feat.detach())
    assert (state.video_id, state.last_frame_id, state.frame_index) == ('v', 0,
                                                                        1)


def _with_anticipation(state):
    """Give ``state`` the anticipation fields, with graphs."""
    flow = torch.randn(1, 2, 12, 20, requires_grad=True) * 2
    state.recent_imgs = [torch.randn(1, 3, 12, 20, requires_grad=True) * 2]
    state.evidence_motion = EvidenceMotion(
        frame_id=0,
        velocity=flow,
        acceleration=flow * 0,
        anchor_flows={-4: flow + 1})
    return flow


def test_anticipation_fields_are_detached_copied_and_reset():
    state = MemoryState()
    _write(state, 'v', 0)
    flow = _with_anticipation(state)
    copy = state.detach()
    motion = copy.evidence_motion
    assert motion is not state.evidence_motion and motion.frame_id == 0
    assert not any(
        t.requires_grad
        for t in (motion.velocity, motion.acceleration,
                  motion.anchor_flows[-4], copy.recent_imgs[0]))
    assert torch.equal(motion.anchor_flows[-4], flow.detach() + 1)
    assert state.evidence_motion.velocity.requires_grad  # untouched
    assert state.to('cpu').evidence_motion.velocity.device.type == 'cpu'
    state.detach_()
    assert not state.evidence_motion.velocity.requires_grad
    assert not state.recent_imgs[0].requires_grad
    state.reset()
    assert state.recent_imgs == [] and state.evidence_motion is None


def test_skip_advances_the_bookkeeping_only():
    state = MemoryState()
    feat, _ = _write(state, 'v', 3)
    state.skip('v', 4)
    assert (state.last_frame_id, state.frame_index) == (4, 2)
    assert torch.equal(state.memories[0], feat)
    assert not state.needs_reset('v', 5)
    for video_id, frame_id in (('v', 6), ('w', 5)):
        with pytest.raises(ValueError, match='cannot be skipped'):
            state.skip(video_id, frame_id)
    with pytest.raises(ValueError, match='cannot be skipped'):
        MemoryState().skip('v', 0)


def test_evidence_boxes_are_copied_detached_and_reset():
    state = MemoryState()
    _write(state, 'v', 0)
    boxes = torch.rand(3, 4, requires_grad=True) * 2
    state.evidence_boxes = EvidenceBoxes(
        frame_id=0,
        image=torch.randn(1, 3, 12, 20),
        bboxes=boxes,
        scores=torch.rand(3),
        labels=torch.tensor([0, 2, 1]))
    copy = state.detach()
    assert not copy.evidence_boxes.bboxes.requires_grad
    assert torch.equal(copy.evidence_boxes.labels, torch.tensor([0, 2, 1]))
    moved = state.to('meta').evidence_boxes
    assert {
        t.device.type
        for t in (moved.image, moved.bboxes, moved.scores, moved.labels)
    } == {'meta'}
    assert state.evidence_boxes.bboxes.requires_grad
    state.reset()
    assert state.evidence_boxes is None


def test_chained_flow_fields_are_detached_copied_and_reset():
    state = MemoryState()
    _write(state, 'v', 0)
    flow = torch.randn(1, 2, 12, 20, requires_grad=True) * 2
    state.previous_img = torch.randn(1, 3, 12, 20, requires_grad=True) * 2
    state.previous_flows = {0: flow}
    state.previous_frame_id = 0
    copy = state.detach()
    assert copy.previous_frame_id == 0
    assert state.to('cpu').previous_frame_id == 0
    assert not copy.previous_img.requires_grad
    assert not copy.previous_flows[0].requires_grad
    assert torch.equal(copy.previous_flows[0], flow.detach())
    assert state.previous_flows[0].requires_grad  # the original untouched
    assert torch.equal(state.to('cpu').previous_img, state.previous_img)
    state.detach_()
    assert not state.previous_img.requires_grad
    assert not state.previous_flows[0].requires_grad
    assert state.previous_frame_id == 0
    state.reset()
    assert state.previous_img is None and state.previous_flows == {}
    assert state.previous_frame_id is None
