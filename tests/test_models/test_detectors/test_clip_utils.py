# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
from mmdet.structures import DetDataSample, TrackDataSample

from memvid_mm.models.detectors.clip_utils import (check_clip_inputs,
                                                   check_key_frame_last,
                                                   gather_frames)
from memvid_mm.utils import SyncingOpRecorder


@pytest.mark.parametrize('frame_inds', [[0], [1, 2], [2], [0, 2], [2, 0], [-1],
                                        range(3)])
def test_gather_frames_orders_clip_major(frame_inds):
    inputs = torch.arange(2 * 3).float().view(2, 3, 1, 1,
                                              1).expand(2, 3, 3, 4, 5)
    samples = [[f'clip{n}-frame{t}' for t in range(3)] for n in range(2)]
    images, gathered = gather_frames(inputs, samples, frame_inds)
    frame_inds = list(frame_inds)
    expected = [3 * n + t % 3 for n in range(2) for t in frame_inds]
    assert images.shape == (len(expected), 3, 4, 5)
    assert images[:, 0, 0, 0].tolist() == expected
    assert gathered == [samples[n][t] for n in range(2) for t in frame_inds]


def test_gather_frames_slices_consecutive_frames():
    """No index tensor made from host data (a synchronous copy to CUDA)."""
    inputs = torch.randn(2, 4, 3, 8, 8)
    samples = [[None] * 4] * 2
    with SyncingOpRecorder() as recorder:
        gather_frames(inputs, samples, [3])
        gather_frames(inputs, samples, range(4))
    assert recorder.ops == []
    with pytest.raises(ValueError, match='at least one frame'):
        gather_frames(inputs, samples, [])


def test_clip_inputs_are_checked():
    samples = []
    for _ in range(2):
        sample = TrackDataSample()
        sample.video_data_samples = [
            DetDataSample(metainfo=dict(img_shape=(8, 6))) for _ in range(3)
        ]
        samples.append(sample)
    check_clip_inputs(torch.zeros(2, 3, 3, 8, 8), samples)  # padded: fine
    for inputs, match in [
        (torch.zeros(6, 3, 8, 8), r'got \(6, 3, 8, 8\)'),
        (torch.zeros(2, 3, 1, 8, 8), r'\(N, T, 3, H, W\), got \(2, 3, 1,'),
        (torch.zeros(2, 3, 4, 8, 8), r'\(N, T, 3, H, W\), got \(2, 3, 4,'),
        (torch.zeros(1, 3, 3, 8, 8), 'inputs hold 1 clips but 2 data'),
        (torch.zeros(2, 2, 3, 8, 8), 'inputs hold 2 frames per clip'),
        (torch.zeros(2, 3, 3, 8, 5),
         r'img_shape \(8, 6\) is larger than the \(H, W\) \(8, 5\)'),
    ]:
        with pytest.raises(ValueError, match=match):
            check_clip_inputs(inputs, samples)


def test_key_frame_must_be_the_last_of_a_training_clip():
    """mmdet's reference-frame samplers put frames after the key frame;
    the loss of the last frame would then be another frame's."""
    sample = TrackDataSample()
    sample.video_data_samples = [DetDataSample() for _ in range(3)]
    check_key_frame_last([sample])  # no key_frames_inds: not checked
    sample.set_metainfo(dict(key_frames_inds=[2]))
    check_key_frame_last([sample])
    sample.set_metainfo(dict(key_frames_inds=[1]))
    with pytest.raises(
            ValueError,
            match=r'training clips must end at their key frame, got '
            r'key_frames_inds \[1\] in a clip of 3 frames'):
        check_key_frame_last([sample])
