# Copyright (c) memvid_mm contributors. All rights reserved.
import torch

from memvid_mm.models.layers import (DelayedMemory, EvidenceBoxes,
                                     StrongFeatureState)


def _boxes():
    return EvidenceBoxes(
        frame_id=2,
        image=torch.randn(1, 3, 12, 20),
        bboxes=torch.rand(3, 4),
        scores=torch.rand(3),
        labels=torch.tensor([0, 2, 1]))


def test_delayed_memory_map_tensors_maps_what_it_holds():
    memory = DelayedMemory(
        frame_id=2,
        image=torch.randn(1, 3, 12, 20),
        memory=torch.randn(1, 4, 3, 5))
    doubled = memory.map_tensors(lambda t: t * 2)
    assert doubled.frame_id == 2
    assert torch.equal(doubled.image, memory.image * 2)
    assert torch.equal(doubled.memory, memory.memory * 2)
    assert doubled.boxes is None
    boxes = DelayedMemory(2, torch.randn(1, 3, 12, 20), boxes=_boxes())
    moved = boxes.map_tensors(lambda t: t.to('meta'))
    assert moved.memory is None
    assert moved.boxes.bboxes.device.type == 'meta'
    assert boxes.boxes.bboxes.device.type == 'cpu'  # the original kept


def test_to_moves_the_strong_memories_and_the_delayed_queue():
    state = StrongFeatureState()
    image = torch.randn(1, 3, 12, 20)
    state.strong.write([torch.randn(1, 4, 3, 5)], [image], [0], 'v', 0)
    state.delayed = [
        DelayedMemory(0, image, memory=torch.randn(1, 4, 3, 5)),
        DelayedMemory(1, image, boxes=_boxes())
    ]
    moved = state.to('meta')
    assert moved is not state
    assert moved.strong.memories[0].device.type == 'meta'
    assert (moved.strong.video_id, moved.strong.last_frame_id) == ('v', 0)
    assert [d.frame_id for d in moved.delayed] == [0, 1]
    assert moved.delayed[0].memory.device.type == 'meta'
    assert moved.delayed[1].boxes.labels.device.type == 'meta'
    assert state.delayed[0].memory.device.type == 'cpu'
