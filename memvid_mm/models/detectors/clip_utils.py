# Copyright (c) memvid_mm contributors. All rights reserved.
"""Helpers that move between clip batches and per-frame batches.

Shape shorthand: N clips in a batch, T frames per clip (axis 1 of the
input, in time order, the key frame last), C, H, W image channels and size.
"""
from typing import List, Sequence, Tuple

from mmdet.structures import DetDataSample, TrackDataSample, TrackSampleList
from torch import Tensor

LOSS_FRAME_CHOICES = ('last', 'all')


def check_clip_inputs(inputs: Tensor, data_samples: TrackSampleList) -> None:
    """Check that ``inputs`` (N, T, 3, H, W) matches the N samples of T.

    Args:
        inputs (Tensor): ``(N, T, 3, H, W)`` clips, time on axis 1.
        data_samples (list[:obj:`TrackDataSample`]): One sample per clip,
            each of T frames.

    Raises:
        TypeError: If a sample is not a :obj:`TrackDataSample`.
        ValueError: If ``inputs`` is not 5-D with 3 channels, the sample
            counts differ, or a frame's ``img_shape`` metainfo is larger
            than H x W (the boxes would be clipped to an image the model
            never saw).
    """
    if inputs.dim() != 5 or inputs.shape[2] != 3:
        raise ValueError(f'video detectors take inputs of shape (N, T, 3, H, '
                         f'W), got {tuple(inputs.shape)}; use '
                         f'TrackDataPreprocessor and PackTrackInputs')
    num_clips, num_frames, _, height, width = inputs.shape
    if len(data_samples) != num_clips:
        raise ValueError(f'inputs hold {num_clips} clips but '
                         f'{len(data_samples)} data samples were given')
    for sample in data_samples:
        if not isinstance(sample, TrackDataSample):
            raise TypeError(
                f'video detectors take one TrackDataSample per clip (its '
                f'frames in video_data_samples; PackTrackInputs makes them), '
                f'got {type(sample).__name__}')
        if len(sample) != num_frames:
            raise ValueError(f'inputs hold {num_frames} frames per clip but '
                             f'a TrackDataSample holds {len(sample)}')
        for frame in range(num_frames):
            img_shape = sample[frame].metainfo.get('img_shape')
            if img_shape is not None and (img_shape[0] > height
                                          or img_shape[1] > width):
                raise ValueError(
                    f'a frame\'s img_shape {tuple(img_shape)} is larger than '
                    f'the (H, W) {(height, width)} of the inputs')


def check_key_frame_last(data_samples: TrackSampleList) -> None:
    """Refuse training clips whose key frame is not the last frame.

    The detectors take the loss of the last frame as the key frame's
    (causal clips, as :class:`CausalClipSample` packs them). A pipeline
    that puts it elsewhere (mmdet's reference-frame samplers put
    reference frames after it) would move the loss to another frame.

    Args:
        data_samples (list[:obj:`TrackDataSample`]): N samples of T
            frames; one without ``key_frames_inds`` metainfo is not
            checked.

    Raises:
        ValueError: If a sample's ``key_frames_inds`` is not ``[T - 1]``.
    """
    for sample in data_samples:
        key_inds = sample.metainfo.get('key_frames_inds')
        if key_inds is not None and list(key_inds) != [len(sample) - 1]:
            raise ValueError(
                f'training clips must end at their key frame, got '
                f'key_frames_inds {list(key_inds)} in a clip of '
                f'{len(sample)} frames; sample clips with CausalClipSample, '
                'not a sampler of reference frames around the key frame')


def loss_frame_indices(num_frames: int, loss_frames: str) -> List[int]:
    """Clip positions that receive a detection loss.

    Args:
        num_frames (int): T, the clip length.
        loss_frames (str): ``'last'`` (the key frame only) or ``'all'``.

    Returns:
        list[int]: Positions in ``[0, T)``, ascending.
    """
    if loss_frames == 'last':
        return [num_frames - 1]
    if loss_frames == 'all':
        return list(range(num_frames))
    raise ValueError(f'loss_frames must be one of {LOSS_FRAME_CHOICES}, got '
                     f'"{loss_frames}"')


def gather_frames(
        inputs: Tensor, data_samples: TrackSampleList,
        frame_inds: Sequence[int]) -> Tuple[Tensor, List[DetDataSample]]:
    """Collect the given clip positions of every clip as one image batch.

    Args:
        inputs (Tensor): (N, T, C, H, W).
        data_samples (list[:obj:`TrackDataSample`]): N samples of T frames.
        frame_inds (list[int]): L positions in ``[0, T)``.

    Returns:
        tuple: images (N * L, C, H, W) ordered clip-major, and the matching
        N * L :obj:`DetDataSample` (the same objects, not copies).
    """
    frame_inds = list(frame_inds)
    if not frame_inds:
        raise ValueError('gather_frames needs at least one frame index')
    first, last = frame_inds[0], frame_inds[-1]
    if first >= 0 and frame_inds == list(range(first, last + 1)):
        # a slice, not a list index: the index tensor made from the list
        # would reach a CUDA device by a synchronous copy
        images = inputs[:, first:last + 1]
    else:
        images = inputs[:, frame_inds]
    images = images.flatten(0, 1)  # [N*L, C, H, W]
    samples = [sample[t] for sample in data_samples for t in frame_inds]
    return images, samples
