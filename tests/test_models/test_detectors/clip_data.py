# Copyright (c) memvid_mm contributors. All rights reserved.
"""Tiny packed clip batches for detector tests."""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.structures import InstanceData


def packed_clips(num_clips: int = 2,
                 num_frames: int = 3,
                 size: Sequence[int] = (64, 64),
                 num_classes: int = 3,
                 video_ids: Optional[List[int]] = None,
                 first_frame_id: int = 0,
                 clip_stride: int = 1,
                 num_boxes: int = 2,
                 seed: int = 0) -> dict:
    """Data as ``PackTrackInputs`` makes it: uint8 frames + samples.

    Returns:
        dict: ``inputs`` (list of N uint8 (T, 3, H, W) tensors) and
        ``data_samples`` (list of N :obj:`TrackDataSample`).
    """
    rng = np.random.default_rng(seed)
    h, w = size
    video_ids = video_ids or list(range(num_clips))
    inputs, samples = [], []
    for n in range(num_clips):
        frames = rng.integers(0, 256, (num_frames, 3, h, w), dtype=np.uint8)
        inputs.append(torch.from_numpy(frames))
        frame_samples = []
        for t in range(num_frames):
            sample = DetDataSample(
                metainfo=dict(
                    img_id=1000 * n + t,
                    img_shape=(h, w),
                    ori_shape=(h, w),
                    scale_factor=(1.0, 1.0),
                    frame_id=first_frame_id + t,
                    video_id=video_ids[n],
                    clip_stride=clip_stride))
            xy = rng.uniform(0, 0.6, (num_boxes, 2)) * [w, h]
            wh = rng.uniform(0.2, 0.4, (num_boxes, 2)) * [w, h]
            boxes = np.concatenate([xy, xy + wh], axis=1)
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor(boxes, dtype=torch.float32),
                labels=torch.as_tensor(
                    rng.integers(0, num_classes, num_boxes)),
                instances_ids=torch.arange(num_boxes))
            frame_samples.append(sample)
        track_sample = TrackDataSample()
        track_sample.video_data_samples = frame_samples
        samples.append(track_sample)
    return dict(inputs=inputs, data_samples=samples)
