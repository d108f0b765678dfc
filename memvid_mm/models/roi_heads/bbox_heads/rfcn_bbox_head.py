# Copyright (c) memvid_mm contributors. All rights reserved.
"""R-FCN box head: position-sensitive score maps, PS RoI pooling, voting.

Shape shorthand: B images, C_in feature channels, H/W feature map size,
k x k bins (``roi_feat_size``), C classes (+1 background), D box code size
(4), R RoIs.
"""
from typing import Sequence, Tuple, Union

import torch
from mmdet.models.roi_heads.bbox_heads import BBoxHead
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from torch import Tensor, nn

from memvid_mm.ops import ps_roi_align, ps_roi_pool
from memvid_mm.ops.roi_utils import pair_output_size

FeatsType = Union[Tensor, Sequence[Tensor]]


def position_sensitive_vote(pooled: Tensor) -> Tensor:
    """Average voting over the k x k position-sensitive bins.

    Args:
        pooled (Tensor): ``(R, C, kh, kw)`` PS-pooled scores.

    Returns:
        Tensor: ``(R, C)``.
    """
    return pooled.mean(dim=(-2, -1))


def single_feature_map(x: FeatsType, in_channels: int) -> Tensor:
    """Return the one ``(B, C_in, H, W)`` map R-FCN reads, checked.

    Args:
        x (Tensor | Sequence[Tensor]): The map, or a 1-element sequence of
            it (a neck output).
        in_channels (int): Expected ``C_in``.

    Returns:
        Tensor: ``(B, C_in, H, W)``.
    """
    if not isinstance(x, Tensor):
        if len(x) != 1:
            raise ValueError('R-FCN reads a single feature map, got '
                             f'{len(x)} levels')
        x = x[0]
    if x.dim() != 4 or x.size(1) != in_channels:
        raise ValueError(f'R-FCN head expects features (B, {in_channels}, '
                         f'H, W) (in_channels), got {tuple(x.shape)}')
    return x


@MODELS.register_module()
class RFCNBBoxHead(BBoxHead):
    """R-FCN box head (Dai et al., 2016) on one stride-16 feature map.

    Two 1x1 convs map the embedded features ``(B, C_in, H, W)`` to
    ``k*k*(C+1)`` class score maps and ``k*k*D`` (class-agnostic) box maps,
    computed once per image. Each RoI is PS-pooled from them
    (:func:`~memvid_mm.ops.ps_roi_pool` or ``ps_roi_align``; channel
    ``c*k*k + i*k + j`` feeds class ``c`` at bin ``(i, j)``) and the k*k
    bins vote by averaging. Targets, losses and ``predict_by_feat`` are
    mmdet's :class:`BBoxHead` ones (softmax cross-entropy, smooth L1).

    Args:
        num_classes (int): Foreground classes ``C``. Defaults to 30.
        in_channels (int): ``C_in``. Defaults to 1024.
        roi_feat_size (int | tuple[int, int]): ``k`` (or ``(kh, kw)``).
            Defaults to 7.
        featmap_stride (int): Stride of the map; spatial scale is
            ``1 / featmap_stride``. Defaults to 16.
        roi_op (str): ``'pool'`` (PS RoI average pooling, as R-FCN, by
            torchvision's rules: see :mod:`~memvid_mm.ops.ps_roi_pool`) or
            ``'align'`` (PS RoI Align). Defaults to ``'pool'``.
        sampling_ratio (int): Samples per bin and axis for ``'align'``
            (<= 0 is adaptive). Defaults to 2.
        reg_class_agnostic (bool): One box per RoI (R-FCN) instead of one
            per class. Defaults to True.
        bbox_coder (dict): Box coder config.
        loss_cls (dict): Classification loss config.
        loss_bbox (dict): Regression loss config.
        predict_box_type (str): Box type of predictions. Defaults to
            ``'hbox'``.
        init_cfg (dict | list[dict], optional): Defaults to Normal init,
            std 0.01 for ``conv_cls`` and 0.001 for ``conv_reg``.
    """

    def __init__(self,
                 num_classes: int = 30,
                 in_channels: int = 1024,
                 roi_feat_size: Union[int, Tuple[int, int]] = 7,
                 featmap_stride: int = 16,
                 roi_op: str = 'pool',
                 sampling_ratio: int = 2,
                 reg_class_agnostic: bool = True,
                 bbox_coder: ConfigType = dict(
                     type='DeltaXYWHBBoxCoder',
                     clip_border=True,
                     target_means=[0., 0., 0., 0.],
                     target_stds=[0.1, 0.1, 0.2, 0.2]),
                 loss_cls: ConfigType = dict(
                     type='CrossEntropyLoss',
                     use_sigmoid=False,
                     loss_weight=1.0),
                 loss_bbox: ConfigType = dict(
                     type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
                 predict_box_type: str = 'hbox',
                 init_cfg: OptMultiConfig = None) -> None:
        if roi_op not in ('pool', 'align'):
            raise ValueError(
                f"roi_op must be 'pool' or 'align', got {roi_op!r}")
        bins_hw = pair_output_size(roi_feat_size, 'roi_feat_size')
        # with_avg_pool=True keeps BBoxHead's throw-away fc layers small;
        # they are replaced by the 1x1 score-map convs below. They are
        # given as the class, which needs no registry: mmdet's default
        # type='Linear' is mmdet's and fails under another default scope.
        super().__init__(
            with_avg_pool=True,
            cls_predictor_cfg=dict(type=nn.Linear),
            reg_predictor_cfg=dict(type=nn.Linear),
            roi_feat_size=roi_feat_size,
            in_channels=in_channels,
            num_classes=num_classes,
            bbox_coder=bbox_coder,
            predict_box_type=predict_box_type,
            reg_class_agnostic=reg_class_agnostic,
            loss_cls=loss_cls,
            loss_bbox=loss_bbox,
            init_cfg=init_cfg)
        del self.avg_pool, self.fc_cls, self.fc_reg
        self.with_avg_pool = False
        self.featmap_stride = featmap_stride
        self.roi_op = roi_op
        self.sampling_ratio = sampling_ratio
        bins = bins_hw[0] * bins_hw[1]
        cls_channels = self.loss_cls.get_cls_channels(num_classes) \
            if self.custom_cls_channels else num_classes + 1
        box_dim = self.bbox_coder.encode_size
        reg_channels = box_dim if reg_class_agnostic else \
            box_dim * num_classes
        self.conv_cls = nn.Conv2d(in_channels, bins * cls_channels, 1)
        self.conv_reg = nn.Conv2d(in_channels, bins * reg_channels, 1)
        if init_cfg is None:
            self.init_cfg = [
                dict(type='Normal', std=0.01, override=dict(name='conv_cls')),
                dict(type='Normal', std=0.001, override=dict(name='conv_reg'))
            ]

    @property
    def spatial_scale(self) -> float:
        """float: Feature map size over image size,
        ``1 / featmap_stride``."""
        return 1.0 / self.featmap_stride

    def score_maps(self, x: FeatsType) -> Tuple[Tensor, Tensor]:
        """Position-sensitive score maps of whole images.

        Args:
            x (Tensor | Sequence[Tensor]): ``(B, C_in, H, W)`` features, or
                a 1-tuple of them.

        Returns:
            tuple[Tensor, Tensor]: ``cls_maps (B, k*k*(C+1), H, W)`` and
            ``reg_maps (B, k*k*D, H, W)`` (``D*C`` when not agnostic).
        """
        feat = single_feature_map(x, self.in_channels)
        return self.conv_cls(feat), self.conv_reg(feat)

    def ps_pool(self, maps: Tensor, rois: Tensor) -> Tensor:
        """PS-pool score maps over RoIs with the configured ``roi_op``.

        Args:
            maps (Tensor): ``(B, k*k*C', H, W)`` position-sensitive maps
                (``C' = C+1`` class scores or ``D`` box deltas).
            rois (Tensor): ``(R, 5)`` ``[batch_idx, x1, y1, x2, y2]`` in
                input image pixels.

        Returns:
            Tensor: ``(R, C', k, k)`` pooled values, one per bin.
        """
        if self.roi_op == 'pool':
            return ps_roi_pool(maps, rois, self.roi_feat_size,
                               self.spatial_scale)
        return ps_roi_align(maps, rois, self.roi_feat_size, self.spatial_scale,
                            self.sampling_ratio)

    def forward(self, x: FeatsType, rois: Tensor) -> Tuple[Tensor, Tensor]:
        """Score RoIs on a feature map.

        Args:
            x (Tensor | Sequence[Tensor]): ``(B, C_in, H, W)`` features, or
                a 1-tuple of them.
            rois (Tensor): ``(R, 5)`` ``[batch_idx, x1, y1, x2, y2]`` in
                input image pixels.

        Returns:
            tuple[Tensor, Tensor]: ``cls_score (R, C+1)`` logits and
            ``bbox_pred (R, D)`` deltas (``(R, D*C)`` when not agnostic).
        """
        cls_maps, reg_maps = self.score_maps(x)
        cls_score = position_sensitive_vote(self.ps_pool(cls_maps, rois))
        bbox_pred = position_sensitive_vote(self.ps_pool(reg_maps, rois))
        return cls_score, bbox_pred

    def roi_losses(self, cls_score: Tensor, bbox_pred: Tensor, labels: Tensor,
                   label_weights: Tensor, bbox_targets: Tensor,
                   bbox_weights: Tensor) -> Tensor:
        """Unreduced classification plus box loss of every RoI (for OHEM).

        Args:
            cls_score (Tensor): ``(R, C+1)``.
            bbox_pred (Tensor): ``(R, D)`` or ``(R, D*C)``.
            labels (Tensor): ``(R,)`` targets, ``C`` for background.
            label_weights (Tensor): ``(R,)``.
            bbox_targets (Tensor): ``(R, D)`` encoded targets.
            bbox_weights (Tensor): ``(R, D)``, zero for negatives.

        Returns:
            Tensor: ``(R,)`` loss per RoI.
        """
        loss_cls = self.loss_cls(
            cls_score, labels, label_weights, reduction_override='none')
        if not self.reg_class_agnostic:
            rows = torch.arange(labels.numel(), device=labels.device)
            bbox_pred = bbox_pred.view(labels.numel(), self.num_classes,
                                       -1)[rows,
                                           labels.clamp(max=self.num_classes -
                                                        1)]  # [R, D]
        loss_bbox = self.loss_bbox(
            bbox_pred, bbox_targets, bbox_weights, reduction_override='none')
        return loss_cls + loss_bbox.sum(dim=-1)

    def extra_repr(self) -> str:
        return (f'roi_op={self.roi_op!r}, roi_feat_size='
                f'{self.roi_feat_size}, featmap_stride={self.featmap_stride}')
