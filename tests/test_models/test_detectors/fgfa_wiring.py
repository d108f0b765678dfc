# Copyright (c) memvid_mm contributors. All rights reserved.
"""The tiny SynthVID R-FCN wired as the paper-scale configs (FGFA's R-FCN)."""
import copy

from mmengine.config import ConfigDict


def fgfa_wired(detector: ConfigDict,
               rpn_channels: int = 32,
               rcnn_channels: int = 32) -> ConfigDict:
    """A copy of a tiny ``RFCN`` config with FGFA's wiring.

    A dilated 3x3 embedding (``FeatureEmbedding``) of ``rpn_channels +
    rcnn_channels`` channels, whose first ``rpn_channels`` a 1x1 RPN
    (``Conv1x1RPNHead``) reads and the rest the R-FCN head.
    """
    cfg = copy.deepcopy(detector)
    cfg.neck = dict(
        type='FeatureEmbedding',
        in_channels=cfg.neck.in_channels[0],
        out_channels=rpn_channels + rcnn_channels,
        dilation=2)
    cfg.rpn_channels = rpn_channels
    cfg.rpn_head.pop('feat_channels')
    cfg.rpn_head.update(type='Conv1x1RPNHead', in_channels=rpn_channels)
    cfg.roi_head.bbox_head.in_channels = rcnn_channels
    return cfg
