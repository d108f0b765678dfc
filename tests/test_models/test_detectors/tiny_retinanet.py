# Copyright (c) memvid_mm contributors. All rights reserved.
"""A tiny single-stage detector on a tiny SynthVID detector's features."""
from mmengine.config import ConfigDict


def tiny_retinanet(detector: ConfigDict, num_classes: int = 4) -> dict:
    """A RetinaNet config on the backbone and neck of ``detector``.

    One anchor per position at stride 8 and one 16-channel conv per branch,
    so its outputs are ``(N, num_classes, h, w)`` scores and ``(N, 4, h,
    w)`` box deltas.
    """
    return dict(
        type='RetinaNet',
        backbone=detector.backbone,
        neck=detector.neck,
        bbox_head=dict(
            type='RetinaHead',
            num_classes=num_classes,
            in_channels=detector.neck.out_channels,
            stacked_convs=1,
            feat_channels=16,
            anchor_generator=dict(
                type='AnchorGenerator',
                octave_base_scale=4,
                scales_per_octave=1,
                ratios=[1.0],
                strides=[8]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
            loss_cls=dict(
                type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25),
            loss_bbox=dict(type='L1Loss')))
