# Copyright (c) memvid_mm contributors. All rights reserved.
"""R-FCN as an MMDetection two-stage detector with a reusable head path.

Shape shorthand in this module: N images in a batch, 3 RGB channels, H/W
input image size, C feature channels, h/w feature map size, G ground-truth
boxes of an image, R detections of an image.
"""
from typing import Optional, Sequence

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, SampleList
from mmengine.structures import InstanceData
from torch import Tensor


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
                bboxes=boxes,
                labels=gt.labels.new_zeros(len(boxes)))
        rpn_samples.append(rpn_sample)
    return rpn_samples


def check_tensor_mode_samples(data_samples: Optional[Sequence]) -> None:
    """Raise a ValueError when tensor mode gets no data samples."""
    if data_samples is None:
        raise ValueError("tensor mode (mode='tensor', _forward) needs the "
                         "data samples: the RPN reads each image's "
                         'img_shape')


@MODELS.register_module()
class RFCN(TwoStageDetector):
    """R-FCN (Dai et al., 2016) whose head path also runs on given features.

    The detector is mmdet's :class:`TwoStageDetector` (backbone, the 3x3
    conv + ReLU embedding as neck, RPN, :class:`RFCNRoIHead`); the RPN and
    the R-FCN head read the same embedded map. ``loss``, ``predict`` and
    ``_forward`` are split into feature extraction and ``_head_loss`` /
    ``_head_predict`` / ``_head_forward``, so a video detector can run the
    very same head path on memory features instead of per-frame features.

    Input contract: ``batch_inputs`` (N, 3, H, W) normalised images; boxes
    are (x1, y1, x2, y2) in the input image. ``predict`` returns the samples
    with ``pred_instances`` (``bboxes`` (R, 4), ``scores`` (R,), ``labels``
    (R,)), in the original image when ``rescale=True``.
    """

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
        rpn_losses, rpn_results = self.rpn_head.loss_and_predict(
            x, rpn_data_samples(batch_data_samples),
            proposal_cfg=proposal_cfg)
        losses = {(f'rpn_{key}' if 'loss' in key and 'rpn' not in key else
                   key): value
                  for key, value in rpn_losses.items()}
        losses.update(
            self.roi_head.loss(x, rpn_results, batch_data_samples))
        return losses

    def _head_predict(self,
                      x: tuple,
                      batch_data_samples: SampleList,
                      rescale: bool = True) -> SampleList:
        """Detections computed on given feature maps (each (N, C, h, w))."""
        rpn_results = self.rpn_head.predict(
            x, batch_data_samples, rescale=False)
        results = self.roi_head.predict(
            x, rpn_results, batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _head_forward(self, x: tuple,
                      batch_data_samples: SampleList) -> tuple:
        """RPN proposals and raw R-FCN outputs on given feature maps."""
        check_tensor_mode_samples(batch_data_samples)
        rpn_results = self.rpn_head.predict(
            x, batch_data_samples, rescale=False)
        return (self.roi_head.forward(x, rpn_results, batch_data_samples), )
