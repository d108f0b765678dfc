# Copyright (c) memvid_mm contributors. All rights reserved.
import copy
import random

import cv2
import numpy as np
import pytest
from mmdet.models.data_preprocessors import TrackDataPreprocessor
from mmdet.registry import TRANSFORMS
from mmdet.structures import TrackDataSample
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from memvid_mm.datasets.transforms import CausalClipSample, causal_clip_indices

H, W = 40, 56


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def _video(tmp_path, num_frames=6, video_id=7):
    """A video dict as ImagenetVIDDataset hands it to the pipeline."""
    images = []
    for t in range(num_frames):
        path = str(tmp_path / f'{video_id}_{t:06d}.jpg')
        img = np.zeros((H, W, 3), np.uint8)
        img[:, :8 + 4 * t] = 200  # frame-specific content
        cv2.imwrite(path, img)
        images.append(
            dict(
                img_id=100 * video_id + t,
                img_path=path,
                frame_id=t,
                height=H,
                width=W,
                degradation='none' if t % 2 else 'blur',
                instances=[
                    dict(
                        bbox=[2.0 + t, 4.0, 20.0 + t, 30.0],
                        bbox_label=t % 2,
                        ignore_flag=0,
                        instance_id=3)
                ]))
    return dict(video_id=video_id, video_length=num_frames, images=images)


def test_causal_clip_indices():
    assert causal_clip_indices(5, 3, 2) == ([1, 3, 5], [-4, -2, 0])
    assert causal_clip_indices(1, 3, 1) == ([0, 0, 1], [-1, -1, 0])
    assert causal_clip_indices(0, 4, 3) == ([0, 0, 0, 0], [0, 0, 0, 0])
    assert causal_clip_indices(9, 1, 5) == ([9], [0])


def test_clamped_clip_keeps_steps_of_the_stride():
    # Key frame 5, 6 frames of stride 4: the frames before the video start
    # repeat frame 1 (5 mod 4), so every step is 4 or 0 frames, as the
    # clocks count; clamping at 0 would give a 1-frame step 0 -> 1.
    indices, offsets = causal_clip_indices(5, 6, 4)
    assert indices == [1, 1, 1, 1, 1, 5]
    assert offsets == [-4, -4, -4, -4, -4, 0]
    steps = {b - a for a, b in zip(indices, indices[1:])}
    assert steps <= {0, 4}
    for key in range(20):
        for stride in (1, 2, 3, 4, 8):
            indices, _ = causal_clip_indices(key, 6, stride)
            assert indices[-1] == key and min(indices) >= 0
            assert all(b - a in (0, stride)
                       for a, b in zip(indices, indices[1:]))


def test_clip_is_causal_ordered_and_flags_the_key_frame(tmp_path):
    video = _video(tmp_path)
    out = CausalClipSample(
        num_frames=3, stride=2)(
            dict(copy.deepcopy(video), key_frame_id=5))
    assert out['frame_id'] == [1, 3, 5]
    assert out['img_id'] == [701, 703, 705]
    assert out['key_frame_flags'] == [False, False, True]
    assert out['clip_frame_offsets'] == [-4, -2, 0]
    assert out['clip_stride'] == [2, 2, 2]
    assert out['video_id'] == [7] * 3
    assert out['video_length'] == [3] * 3
    assert out['ori_video_length'] == [6] * 3
    assert out['degradation'] == ['none', 'none', 'none']
    assert all(len(v) == 3 for v in out.values())
    # The input video dict is left untouched.
    assert 'ori_video_length' not in video['images'][1]


def test_clip_is_clamped_at_the_video_start(tmp_path):
    out = CausalClipSample(
        num_frames=4, stride=1)(
            dict(_video(tmp_path), key_frame_id=1))
    assert out['frame_id'] == [0, 0, 0, 1]
    assert out['clip_frame_offsets'] == [-1, -1, -1, 0]
    assert out['key_frame_flags'] == [False, False, False, True]


def test_one_frame_video_gives_independent_copies(tmp_path):
    video = _video(tmp_path, num_frames=1)
    out = CausalClipSample(num_frames=3, stride=4)(video)
    assert out['frame_id'] == [0, 0, 0]
    assert out['clip_frame_offsets'] == [0, 0, 0]
    assert out['key_frame_flags'] == [False, False, True]
    out['instances'][0][0]['bbox'][0] = -1.0
    assert out['instances'][1][0]['bbox'][0] == 2.0


def test_random_key_frame_without_key_frame_id(tmp_path):
    video = _video(tmp_path)
    keys = set()
    for seed in range(20):
        random.seed(seed)
        keys.add(CausalClipSample(num_frames=2)(video)['frame_id'][-1])
    assert keys <= set(range(6)) and len(keys) > 2


@pytest.mark.parametrize('kwargs', [
    dict(num_frames=0),
    dict(stride=0),
    dict(num_frames=2.5),
    dict(num_frames=True),
    dict(stride=True)
])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CausalClipSample(**kwargs)


def test_bad_key_frame_id_raises(tmp_path):
    with pytest.raises(ValueError, match='key_frame_id'):
        CausalClipSample()(dict(_video(tmp_path), key_frame_id=6))


@pytest.mark.parametrize('num_images, video_length', [(3, 4), (0, 0)])
def test_video_length_other_than_its_images_names_the_video(
        tmp_path, num_images, video_length):
    video = dict(
        _video(tmp_path, num_frames=num_images), video_length=video_length)
    with pytest.raises(
            ValueError,
            match=f'video 7 has video_length {video_length} and '
            f'{num_images} images'):
        CausalClipSample()(video)


def test_registered_and_repr():
    t = TRANSFORMS.build(dict(type='CausalClipSample', num_frames=5, stride=3))
    assert isinstance(t, CausalClipSample)
    assert 'num_frames=5' in repr(t) and 'stride=3' in repr(t)


def _pipeline(num_frames=3, scale=None):
    resize = (
        dict(
            type='RandomResize', scale=[(40, 30),
                                        (112, 80)], keep_ratio=True) if
        scale is None else dict(type='Resize', scale=scale, keep_ratio=True))
    return Compose([
        dict(type='CausalClipSample', num_frames=num_frames, stride=2),
        dict(
            type='TransformBroadcaster',
            share_random_params=True,
            transforms=[
                dict(type='LoadVIDFrame'),
                dict(type='LoadTrackAnnotations'),
                resize,
                dict(type='RandomFlip', prob=0.5),
            ]),
        dict(
            type='PackTrackInputs',
            meta_keys=('clip_frame_offsets', 'degradation')),
    ])


def test_shared_random_augmentation_across_the_clip(tmp_path):
    video = _video(tmp_path)
    pipeline = _pipeline()
    flips, shapes = set(), set()
    for seed in range(12):
        random.seed(seed)
        np.random.seed(seed)
        out = pipeline(dict(copy.deepcopy(video), key_frame_id=4))
        frames = out['data_samples'].video_data_samples
        frame_flips = {f.metainfo['flip'] for f in frames}
        frame_shapes = {f.metainfo['img_shape'] for f in frames}
        assert len(frame_flips) == 1 and len(frame_shapes) == 1
        flips |= frame_flips
        shapes |= frame_shapes
        # The same transform hit every frame: the boxes moved alike.
        boxes = [f.gt_instances.bboxes[0].tolist() for f in frames]
        widths = {round(b[2] - b[0], 3) for b in boxes}
        assert len(widths) == 1
    assert flips == {True, False}
    assert len(shapes) > 2


def test_full_pipeline_and_track_data_preprocessor(tmp_path):
    pipeline = _pipeline(num_frames=3, scale=(112, 80))
    clips = [
        pipeline(dict(_video(tmp_path, video_id=v), key_frame_id=k))
        for v, k in ((1, 5), (2, 0))
    ]
    sample = clips[0]['data_samples']
    assert isinstance(sample, TrackDataSample) and len(sample) == 3
    assert sample.metainfo['key_frames_inds'] == [2]
    assert sample.metainfo['ref_frames_inds'] == [0, 1]
    assert [f.metainfo['clip_frame_offsets'] for f in sample] == [-4, -2, 0]
    assert [f.metainfo['frame_id'] for f in sample] == [1, 3, 5]
    assert [f.metainfo['degradation'] for f in sample] == ['none'] * 3
    assert clips[0]['inputs'].shape == (3, 3, 80, 112)
    key = sample[2]
    scale = key.metainfo['scale_factor']
    expected = np.array([7.0, 4.0, 25.0, 30.0]) * np.tile(scale, 2)
    if key.metainfo['flip']:
        expected = np.array(
            [112 - expected[2], expected[1], 112 - expected[0], expected[3]])
    np.testing.assert_allclose(
        key.gt_instances.bboxes[0].numpy(), expected, rtol=1e-5)
    assert key.gt_instances.labels.tolist() == [1]
    assert key.gt_instances.instances_ids.tolist() == [3]

    preprocessor = TrackDataPreprocessor(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16)
    data = preprocessor(pseudo_collate(clips), training=True)
    assert data['inputs'].shape == (2, 3, 3, 80, 112)
    assert data['inputs'].dtype.is_floating_point
    assert len(data['data_samples']) == 2
    assert data['data_samples'][1][0].metainfo['batch_input_shape'] == (80,
                                                                        112)
