# Copyright (c) memvid_mm contributors. All rights reserved.
"""The RPN head of DFF's and FGFA's R-FCN: 1x1 convolutions only.

Shape shorthand in this module: N images, C input channels, h/w feature map
size, A anchors per cell.
"""
from typing import Tuple

from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
from mmdet.utils import MultiConfig
from torch import Tensor, nn


@MODELS.register_module()
class Conv1x1RPNHead(RPNHead):
    """An RPN head whose 1x1 score and box convolutions read the map itself.

    mmdet's :class:`RPNHead` first runs a 3x3 convolution and a ReLU. FGFA's
    and DFF's MXNet R-FCN, whose set-up the paper follows, have none: their
    ``rpn_cls_score`` and ``rpn_bbox_pred`` are 1x1 convolutions on the
    first half of the ReLU'd 1024-d embedding (the R-FCN head reads the
    other half; :class:`~memvid_mm.models.detectors.RFCN`'s
    ``rpn_channels``). Proposals, targets and losses are mmdet's RPN's.

    Args:
        in_channels (int): Channels of the map the head reads (C).
        num_classes (int): Must be 1, as for :class:`RPNHead`. Defaults
            to 1.
        init_cfg (dict or list[dict]): Initialisation. Defaults to a normal
            distribution with std 0.01, as :class:`RPNHead`'s.
        **kwargs: The other arguments of mmdet's ``AnchorHead``
            (``anchor_generator``, ``bbox_coder``, the losses, ``train_cfg``
            and ``test_cfg``); ``feat_channels``, if given, must equal
            ``in_channels``, since there is no convolution to change it.

    Raises:
        ValueError: If ``feat_channels`` differs from ``in_channels``, or
            ``num_convs`` is given.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int = 1,
                 init_cfg: MultiConfig = dict(
                     type='Normal', layer='Conv2d', std=0.01),
                 **kwargs) -> None:
        feat_channels = kwargs.pop('feat_channels', in_channels)
        if feat_channels != in_channels:
            raise ValueError(f'Conv1x1RPNHead has no convolution before its '
                             f'1x1 outputs: feat_channels ({feat_channels}) '
                             f'must be in_channels ({in_channels}) or left '
                             f'out')
        if 'num_convs' in kwargs:
            raise ValueError('Conv1x1RPNHead has no 3x3 convolutions: leave '
                             'num_convs out (or use RPNHead)')
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            init_cfg=init_cfg,
            feat_channels=in_channels,
            **kwargs)

    def _init_layers(self) -> None:
        """Build the two 1x1 output convolutions."""
        self.rpn_cls = nn.Conv2d(self.in_channels,
                                 self.num_base_priors * self.cls_out_channels,
                                 1)
        self.rpn_reg = nn.Conv2d(
            self.in_channels,
            self.num_base_priors * self.bbox_coder.encode_size, 1)

    def forward_single(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Scores and box deltas of one level.

        Args:
            x (Tensor): ``(N, C, h, w)`` the map.

        Returns:
            tuple[Tensor, Tensor]: ``(N, A, h, w)`` objectness logits
            (``(N, 2A, h, w)`` with a softmax loss) and ``(N, 4A, h, w)``
            box deltas.
        """
        return self.rpn_cls(x), self.rpn_reg(x)
