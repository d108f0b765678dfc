# Copyright (c) memvid_mm contributors. All rights reserved.
"""The "(split)" baseline: a frame's halves detected apart, merged before
NMS (``test_cfg.split_halves``)."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.config import Config, ConfigDict
from mmengine.structures import InstanceData

from memvid_mm.models.detectors import MemoryRFCN
from memvid_mm.models.detectors.split_halves import (merge_half_detections,
                                                     raw_detections,
                                                     split_frame_halves)
from memvid_mm.models.layers import MemoryState, SplitHalvesState
from .clip_data import packed_clips
from .tiny_retinanet import tiny_retinanet

PER_FRAME_CFGS = [
    'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py',
    'configs/faster_rcnn/faster-rcnn_r18-tiny-d8_1xb4-6e_synthvid.py',
]
CLOCKNET_CFG = (
    'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')
# Not square, and each half a multiple of the pad divisor (16) only after
# padding: 48 rows, 56 columns, halves of 28 columns padded to 32.
FRAME_SIZE = (48, 56)
RCNN_CFG = ConfigDict(
    score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10)


def model_cfg(path, **test_cfg):
    cfg = copy.deepcopy(Config.fromfile(path).model)
    if test_cfg:
        cfg.test_cfg = {**cfg.get('test_cfg', {}), **test_cfg}
    return cfg


def video_frames(model, num_frames, seed=0, video_id=3):
    """Frames of one video as ``predict_frame`` takes them: a list of
    (image (1, 3, H, W), sample)."""
    batch = model.data_preprocessor(
        packed_clips(
            num_clips=1,
            num_frames=num_frames,
            video_ids=[video_id],
            seed=seed,
            size=FRAME_SIZE), False)
    return [(batch['inputs'][:, t].clone(), batch['data_samples'][0][t])
            for t in range(num_frames)]


def assert_same_detections(result, expected):
    assert len(expected.bboxes) > 0
    assert torch.equal(result.bboxes, expected.bboxes)
    assert torch.equal(result.scores, expected.scores)
    assert torch.equal(result.labels, expected.labels)


def test_split_frame_halves_tile_the_frame():
    image = torch.randn(1, 3, 64, 64)
    sample = DetDataSample(
        metainfo=dict(img_shape=(60, 51), frame_id=4, video_id=2))
    left, right = split_frame_halves(image, sample, pad_size_divisor=16)
    # columns [0, 25) and [25, 51), rows [0, 60), zero-padded to 16s
    assert (left.x_offset, right.x_offset) == (0, 25)
    assert left.image.shape == (1, 3, 64, 32)
    assert right.image.shape == (1, 3, 64, 32)
    assert torch.equal(left.image[..., :60, :25], image[..., :60, :25])
    assert torch.equal(right.image[..., :60, :26], image[..., :60, 25:51])
    assert not left.image[..., 60:, :].any()
    assert not left.image[..., 25:].any()
    assert not right.image[..., 26:].any()
    assert left.sample.img_shape == (60, 25)
    assert right.sample.img_shape == (60, 26)
    assert right.sample.pad_shape == right.sample.batch_input_shape == (64, 32)
    assert right.sample.frame_id == 4 and right.sample.video_id == 2
    assert sample.img_shape == (60, 51)  # the frame's sample is unchanged


def test_split_frame_halves_refuses_what_cannot_be_halved():
    image = torch.zeros(1, 3, 16, 16)
    with pytest.raises(ValueError, match=r'frame 7: cannot split.*\(16, 1\)'):
        split_frame_halves(
            image, DetDataSample(metainfo=dict(img_shape=(16, 1), frame_id=7)),
            16)
    with pytest.raises(ValueError, match='cannot split'):
        split_frame_halves(image,
                           DetDataSample(metainfo=dict(img_shape=(16, 20))),
                           16)


def test_merge_shifts_the_right_half_then_suppresses_class_wise():
    # 2 classes + background; class-agnostic boxes (R, 4), each half's
    # clipped to it (raw_detections), so boxes of different halves never
    # overlap and the NMS acts within a half
    left = InstanceData(
        bboxes=torch.tensor([[10., 0., 20., 10.]]),
        scores=torch.tensor([[0.9, 0.0, 0.1]]))
    right = InstanceData(
        bboxes=torch.tensor([[0., 0., 10., 10.], [1., 0., 10., 10.],
                             [0., 0., 9., 10.]]),
        scores=torch.tensor([[0.8, 0.0, 0.2], [0.7, 0.0, 0.3], [0.0, 0.6,
                                                                0.4]]))
    merged = merge_half_detections([left, right], [0, 20], RCNN_CFG,
                                   (0.5, 1.0))
    # the right half's second box overlaps its first (class 0, IoU 0.9):
    # suppressed; its third is of class 1 and stays
    assert merged.labels.tolist() == [0, 0, 1]
    assert torch.allclose(merged.scores, torch.tensor([0.9, 0.8, 0.6]))
    # shifted by 20 in the network input, then x divided by w_scale 0.5
    assert torch.equal(
        merged.bboxes,
        torch.tensor([[20., 0., 40., 10.], [40., 0., 60., 10.],
                      [40., 0., 58., 10.]]))


def test_merge_of_halves_without_proposals_is_empty():
    empty = InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0, 3))
    merged = merge_half_detections([empty, empty], [0, 5], RCNN_CFG,
                                   (1.0, 1.0))
    assert merged.bboxes.shape == (0, 4)
    assert merged.scores.shape == merged.labels.shape == (0, )


@pytest.mark.parametrize('path', PER_FRAME_CFGS, ids=['rfcn', 'faster-rcnn'])
def test_one_whole_frame_merged_is_the_heads_prediction(path):
    """Raw detections and the merge reproduce the head's own NMS."""
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(path)).eval()
    image, sample = video_frames(model, 1)[0]
    sample.set_metainfo(dict(scale_factor=(0.5, 0.8)))
    detector = model.detector
    with torch.no_grad():
        x = detector.extract_feat(image)
        merged = merge_half_detections([raw_detections(detector, x, sample)],
                                       [0], detector.test_cfg.rcnn,
                                       sample.scale_factor)
        expected = detector.predict(
            image, [copy.deepcopy(sample)], rescale=True)[0].pred_instances
    assert_same_detections(merged, expected)


@pytest.mark.parametrize('path', PER_FRAME_CFGS, ids=['rfcn', 'faster-rcnn'])
def test_per_frame_split_detects_the_halves_apart(path):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(path, split_halves=True)).eval()
    data = model.data_preprocessor(
        packed_clips(1, 2, num_classes=4, size=FRAME_SIZE), False)
    with torch.no_grad():
        results = model.predict(**copy.deepcopy(data))[0]
    for t in range(2):
        image, sample = data['inputs'][:, t], data['data_samples'][0][t]
        halves = split_frame_halves(image, sample, 16)
        with torch.no_grad():
            expected = merge_half_detections([
                raw_detections(model.detector,
                               model.detector.extract_feat(half.image),
                               half.sample) for half in halves
            ], [0, FRAME_SIZE[1] // 2], model.detector.test_cfg.rcnn,
                                             sample.scale_factor)
        assert_same_detections(results[t].pred_instances, expected)
    whole = MODELS.build(model_cfg(path)).eval()
    whole.load_state_dict(model.state_dict())
    with torch.no_grad():
        unsplit = whole.predict(**copy.deepcopy(data))[0][0].pred_instances
    assert not torch.equal(unsplit.scores, results[0].pred_instances.scores)


def test_per_frame_split_needs_a_two_stage_detector():
    cfg = model_cfg(PER_FRAME_CFGS[0], split_halves=True)
    cfg.detector = tiny_retinanet(cfg.detector)
    with pytest.raises(ValueError, match='two-stage detector.*RetinaNet'):
        MODELS.build(cfg)
    cfg = model_cfg(PER_FRAME_CFGS[0], split_half=True)
    with pytest.raises(ValueError, match="test_cfg keys: \\['split_half'"):
        MODELS.build(cfg)
    cfg = model_cfg(PER_FRAME_CFGS[0], split_halves=1)
    with pytest.raises(TypeError, match='split_halves must be a bool'):
        MODELS.build(cfg)


@pytest.fixture(scope='module')
def split_clocknet() -> MemoryRFCN:
    torch.manual_seed(0)
    return MODELS.build(model_cfg(CLOCKNET_CFG, split_halves=True)).eval()


def test_split_memory_keeps_one_memory_per_half(split_clocknet):
    """Each half advances its own memory, as a whole-frame model would on
    the half frames; the halves' detections merge before NMS."""
    model = split_clocknet
    whole = MODELS.build(model_cfg(CLOCKNET_CFG)).eval()
    whole.load_state_dict(model.state_dict())
    state = model.new_online_state()
    assert isinstance(state, SplitHalvesState)
    left_state, right_state = MemoryState(), MemoryState()
    for image, sample in video_frames(model, 5):
        with torch.no_grad():
            result = model.predict_frame(image, copy.deepcopy(sample),
                                         state).pred_instances
            halves = split_frame_halves(image, sample, 16)
            detections = [
                raw_detections(whole.detector, (whole.online_memory(
                    half.image, half.sample, half_state), ), half.sample)
                for half, half_state in zip(halves, (left_state, right_state))
            ]
        expected = merge_half_detections(detections, [0, FRAME_SIZE[1] // 2],
                                         whole.detector.test_cfg.rcnn,
                                         sample.scale_factor)
        assert_same_detections(result, expected)
    assert state.left.frame_index == state.right.frame_index == 5
    for ours, theirs in ((state.left, left_state), (state.right, right_state)):
        for memory, reference in zip(ours.memories, theirs.memories):
            assert torch.equal(memory, reference)


def test_split_memory_output_is_causal_and_resets_per_video(split_clocknet):
    model = split_clocknet
    frames = video_frames(model, 5)
    later = video_frames(model, 5, seed=9)

    def scores(frame_list):
        state = model.new_online_state()
        with torch.no_grad():
            return [
                model.predict_frame(image, copy.deepcopy(sample),
                                    state).pred_instances.scores
                for image, sample in frame_list
            ]

    reference = scores(frames)
    changed = scores(frames[:3] + later[3:])
    for t in range(3):
        assert torch.equal(reference[t], changed[t])
    assert not torch.equal(reference[4], changed[4])
    state = model.new_online_state()
    with torch.no_grad():
        for image, sample in frames[:3]:
            model.predict_frame(image, copy.deepcopy(sample), state)
        image, sample = video_frames(model, 1, video_id=8)[0]
        model.predict_frame(image, sample, state)
    assert state.left.frame_index == state.right.frame_index == 1
    assert state.left.video_id == state.right.video_id == 8


def test_split_memory_through_the_test_loop_path(split_clocknet):
    model = split_clocknet
    model.test_state.reset()
    assert isinstance(model.test_state, SplitHalvesState)
    reference = model.new_online_state()
    for image, sample in video_frames(model, 3):
        data = dict(
            inputs=image[:, None],
            data_samples=[_track_sample(copy.deepcopy(sample))])
        with torch.no_grad():
            result = model.predict(**data)[0][0].pred_instances
            expected = model.predict_frame(image, copy.deepcopy(sample),
                                           reference).pred_instances
        assert_same_detections(result, expected)


def _track_sample(frame_sample):
    track = TrackDataSample()
    track.video_data_samples = [frame_sample]
    return track


def test_a_non_finite_flow_in_one_half_resets_both(split_clocknet,
                                                   monkeypatch):
    model = split_clocknet
    frames = video_frames(model, 3, seed=4)
    state = model.new_online_state()
    with torch.no_grad():
        for image, sample in frames[:2]:
            model.predict_frame(image, copy.deepcopy(sample), state)
    image, sample = frames[2]
    right_half = split_frame_halves(image, sample, 16)[1].image
    motion = model.motion.forward
    poisoned = []

    def nan_in_the_right_half(current, *args):
        flow = motion(current, *args)
        if torch.equal(current[:1], right_half):
            poisoned.append(True)
            return flow * float('nan')
        return flow

    monkeypatch.setattr(model.motion, 'forward', nan_in_the_right_half)
    with pytest.raises(ValueError, match='frame 2: FlowNet gave'):
        with torch.no_grad():
            model.predict_frame(image, copy.deepcopy(sample), state)
    assert poisoned  # only the right half's flows were not finite
    assert state.left.is_empty and state.right.is_empty


def test_a_width_only_the_right_half_sees_is_refused_before_either_moves(
        split_clocknet):
    """56 to 57 columns keeps the left half at 28 but makes the right one
    29: the frame is refused and neither half's memory advances."""
    model = split_clocknet
    state = model.new_online_state()
    frames = video_frames(model, 2)
    with torch.no_grad():
        for image, sample in frames:
            model.predict_frame(image, copy.deepcopy(sample), state)
    image, sample = frames[1]
    wider = torch.nn.functional.pad(image, (0, 8))
    sample = copy.deepcopy(sample)
    sample.set_metainfo(dict(frame_id=2, img_shape=(48, 57)))
    left_before = [m.clone() for m in state.left.memories]
    with pytest.raises(ValueError, match=r'frame 2 is \(48, 29\)'):
        with torch.no_grad():
            model.predict_frame(wider, sample, state)
    assert state.left.frame_index == state.right.frame_index == 2
    assert all(
        torch.equal(m, b) for m, b in zip(state.left.memories, left_before))


def test_split_memory_refusals(split_clocknet):
    image, sample = video_frames(split_clocknet, 1)[0]
    with pytest.raises(TypeError, match='SplitHalvesState'):
        split_clocknet.predict_frame(image, sample, MemoryState())
    cfg = model_cfg(
        CLOCKNET_CFG,
        split_halves=True,
        evidence_interval=4,
        propagate='boxes')
    with pytest.raises(ValueError, match="split_halves=True needs.*'feat"):
        MODELS.build(cfg)
    with pytest.raises(TypeError, match='split_halves must be a bool'):
        MODELS.build(model_cfg(CLOCKNET_CFG, split_halves='yes'))


def test_strong_detector_must_not_split():
    fast = Config.fromfile('configs/rfcn/rfcn_r18-w8-d8_1xb4-ft3e_synthvid.py')
    cfg = dict(
        type='StrongFeatureRFCN',
        detector=copy.deepcopy(fast.model.detector),
        data_preprocessor=copy.deepcopy(fast.model.data_preprocessor),
        strong_config=Config.fromfile(CLOCKNET_CFG),
        strong_test_cfg=dict(evidence_interval=4, split_halves=True))
    with pytest.raises(ValueError, match='split_halves must be False'):
        MODELS.build(cfg)
