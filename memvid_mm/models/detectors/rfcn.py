# Copyright (c) memvid_mm contributors. All rights reserved.
"""R-FCN as an MMDetection two-stage detector with a reusable head path.

Shape shorthand in this module: N images in a batch, 3 RGB channels, H/W
input image size, C feature channels, h/w feature map size, G ground-truth
boxes of an image, R detections of an image.
"""
from typing import Optional, Sequence, Tuple

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.structures import InstanceData
from torch import Tensor

from ...utils.argument_checks import is_int


def rpn_data_samples(batch_data_samples: SampleList) -> SampleList:
    """Class-agnostic copies of the samples for the RPN (labels set to 0).

    Only the ``gt_instances`` (and ``ignored_instances``) are new objects;
    the caller's samples are left untouched and no image data is copied.

    Args:
        batch_data_samples (list[:obj:`DetDataSample`]): Samples with
            ``gt_instances.bboxes`` (G, 4) and ``gt_instances.labels`` (G,).

    Returns:
        list[:obj:`DetDataSample`]: Samples with the same metainfo and boxes
        whose labels are all 0.
    """
    rpn_samples = []
    for sample in batch_data_samples:
        rpn_sample = DetDataSample(metainfo=sample.metainfo)
        gt = sample.gt_instances
        rpn_sample.gt_instances = InstanceData(
            bboxes=gt.bboxes, labels=torch.zeros_like(gt.labels))
        if 'ignored_instances' in sample:
            ignored = sample.ignored_instances
            boxes = ignored.get('bboxes', gt.bboxes[:0])
            rpn_sample.ignored_instances = InstanceData(
                bboxes=boxes, labels=gt.labels.new_zeros(len(boxes)))
        rpn_samples.append(rpn_sample)
    return rpn_samples


def check_tensor_mode_samples(data_samples: Optional[Sequence]) -> None:
    """Raise a ValueError when tensor mode gets no data samples.

    Args:
        data_samples (Sequence, optional): The data samples given to
            tensor mode.

    Raises:
        ValueError: When ``data_samples`` is None (the RPN needs each
            image's ``img_shape``).
    """
    if data_samples is None:
        raise ValueError("tensor mode (mode='tensor', _forward) needs the "
                         "data samples: the RPN reads each image's "
                         'img_shape')


@MODELS.register_module()
class RFCN(TwoStageDetector):
    """R-FCN (Dai et al., 2016) whose head path also runs on given features.

    The detector is mmdet's :class:`TwoStageDetector` (backbone, the 3x3
    conv + ReLU embedding as neck, RPN, :class:`RFCNRoIHead`); the RPN and
    the R-FCN head read the same embedded map, or, with ``rpn_channels``,
    its first channels and the rest, as DFF's and FGFA's MXNet R-FCN split
    their 1024-d embedding into two halves of 512. ``loss``, ``predict`` and
    ``_forward`` are split into feature extraction and ``_head_loss`` /
    ``_head_predict`` / ``_head_forward``, so a video detector can run the
    very same head path on memory features instead of per-frame features.

    Input contract: ``batch_inputs`` (N, 3, H, W) normalised images; boxes
    are (x1, y1, x2, y2) in the input image. ``predict`` returns the samples
    with ``pred_instances`` (``bboxes`` (R, 4), ``scores`` (R,), ``labels``
    (R,)), in the original image when ``rescale=True``.

    Args:
        backbone (dict): The backbone.
        neck (dict, optional): The embedding, one map of C channels.
            Defaults to None.
        rpn_head (dict, optional): The RPN head. Defaults to None.
        roi_head (dict, optional): The :class:`RFCNRoIHead`. Defaults to
            None.
        train_cfg (dict, optional): ``rpn``, ``rpn_proposal`` and ``rcnn``
            training settings. Defaults to None.
        test_cfg (dict, optional): ``rpn`` and ``rcnn`` test settings.
            Defaults to None.
        rpn_channels (int, optional): The RPN reads the embedding's first
            ``rpn_channels`` channels (its ``in_channels``) and the R-FCN
            head the remaining ones (its ``bbox_head.in_channels``).
            Defaults to None: both read every channel.
        data_preprocessor (dict, optional): The data preprocessor. Defaults
            to None.
        init_cfg (dict or list[dict], optional): Initialisation. Defaults to
            None.

    Raises:
        ValueError: If ``rpn_channels`` is not a positive int or differs
            from ``rpn_head.in_channels``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 rpn_head: OptConfigType = None,
                 roi_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 rpn_channels: Optional[int] = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if rpn_channels is not None:
            if not (self.with_rpn and self.with_roi_head):
                raise ValueError('RFCN rpn_channels splits the features '
                                 'between rpn_head and roi_head: give both')
            if not is_int(rpn_channels) or rpn_channels < 1:
                raise ValueError(f'RFCN rpn_channels must be a positive int '
                                 f'or None, got {rpn_channels!r}')
            if self.rpn_head.in_channels != rpn_channels:
                raise ValueError(
                    f'RFCN rpn_channels={rpn_channels} but rpn_head.'
                    f'in_channels={self.rpn_head.in_channels}: the RPN '
                    f'reads the first rpn_channels channels of the '
                    f'embedding')
        self.rpn_channels = rpn_channels

    @property
    def feature_channels(self) -> int:
        """int: Channels of the embedded map the heads read (C)."""
        if self.rpn_channels is None:
            return self.rpn_head.in_channels
        return self.rpn_channels + self.roi_head.bbox_head.in_channels

    def head_features(
            self, x: Sequence[Tensor]
    ) -> Tuple[Tuple[Tensor, ...], Tuple[Tensor, ...]]:
        """The parts of the feature maps that the RPN and the head read.

        Args:
            x (Sequence[Tensor]): Feature maps, each (N, C, h, w).

        Returns:
            tuple: The RPN's maps, each (N, rpn_channels, h, w), and the
            R-FCN head's, each (N, C - rpn_channels, h, w); without
            ``rpn_channels`` both are the maps themselves.

        Raises:
            ValueError: If a map does not have ``feature_channels``
                channels while the channels are split.
        """
        if self.rpn_channels is None:
            return tuple(x), tuple(x)
        self._check_split_channels(x)
        return (tuple(level[:, :self.rpn_channels] for level in x),
                tuple(level[:, self.rpn_channels:] for level in x))

    def _check_split_channels(self, x: Sequence[Tensor]) -> None:
        """Refuse maps whose channels the split would share out wrongly."""
        for level in x:
            if level.dim() != 4 or level.shape[1] != self.feature_channels:
                raise ValueError(
                    f'RFCN splits {self.feature_channels}-channel features '
                    f'(rpn_channels={self.rpn_channels} + roi_head.'
                    f'bbox_head.in_channels='
                    f'{self.roi_head.bbox_head.in_channels}), got a map '
                    f'{tuple(level.shape)}: set the embedding (neck) '
                    f'out_channels to {self.feature_channels}')

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """Losses of a batch of images (N, 3, H, W).

        Args:
            batch_inputs (Tensor): (N, 3, H, W) normalised images.
            batch_data_samples (list[:obj:`DetDataSample`]): N samples with
                ``gt_instances`` (``bboxes`` (G, 4) as (x1, y1, x2, y2) in
                the input image, ``labels`` (G,)).

        Returns:
            dict[str, Tensor]: RPN losses prefixed ``rpn_`` and the R-FCN
            head losses (``loss_cls``, ``loss_bbox``, ``acc``).
        """
        return self._head_loss(
            self.extract_feat(batch_inputs), batch_data_samples)

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detections for a batch of images (N, 3, H, W).

        Args:
            batch_inputs (Tensor): (N, 3, H, W) normalised images.
            batch_data_samples (list[:obj:`DetDataSample`]): N samples with
                the image metainfo (``img_shape``, ``scale_factor``).
            rescale (bool): Give the boxes in the original image rather
                than in the input image. Defaults to True.

        Returns:
            list[:obj:`DetDataSample`]: The N samples with
            ``pred_instances``: ``bboxes`` (R, 4) as (x1, y1, x2, y2),
            ``scores`` (R,) and ``labels`` (R,).
        """
        return self._head_predict(
            self.extract_feat(batch_inputs), batch_data_samples, rescale)

    def _forward(self, batch_inputs: Tensor,
                 batch_data_samples: SampleList) -> tuple:
        """Raw head outputs for a batch of images (N, 3, H, W)."""
        return self._head_forward(
            self.extract_feat(batch_inputs), batch_data_samples)

    def _head_loss(self, x: tuple, batch_data_samples: SampleList) -> dict:
        """RPN and R-FCN losses computed on given feature maps.

        Args:
            x (tuple[Tensor]): Feature maps, each (N, C, h, w).
            batch_data_samples (list[:obj:`DetDataSample`]): N samples with
                ``gt_instances``.

        Returns:
            dict[str, Tensor]: RPN losses prefixed ``rpn_`` and head losses.
        """
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        rpn_x, rcnn_x = self.head_features(x)
        rpn_losses, rpn_results = self.rpn_head.loss_and_predict(
            rpn_x,
            rpn_data_samples(batch_data_samples),
            proposal_cfg=proposal_cfg)
        losses = {
            (f'rpn_{key}' if 'loss' in key and 'rpn' not in key else key):
            value
            for key, value in rpn_losses.items()
        }
        losses.update(
            self.roi_head.loss(rcnn_x, rpn_results, batch_data_samples))
        return losses

    def _head_predict(self,
                      x: tuple,
                      batch_data_samples: SampleList,
                      rescale: bool = True) -> SampleList:
        """Detections computed on given feature maps (each (N, C, h, w))."""
        rpn_x, rcnn_x = self.head_features(x)
        rpn_results = self.rpn_head.predict(
            rpn_x, batch_data_samples, rescale=False)
        results = self.roi_head.predict(
            rcnn_x, rpn_results, batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _head_forward(self, x: tuple, batch_data_samples: SampleList) -> tuple:
        """RPN proposals and raw R-FCN outputs on given feature maps."""
        check_tensor_mode_samples(batch_data_samples)
        rpn_x, rcnn_x = self.head_features(x)
        rpn_results = self.rpn_head.predict(
            rpn_x, batch_data_samples, rescale=False)
        return (self.roi_head.forward(rcnn_x, rpn_results,
                                      batch_data_samples), )
