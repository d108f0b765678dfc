# Copyright (c) memvid_mm contributors. All rights reserved.
"""The "(split)" baseline of the paper's Table 3: a frame cut in two.

"A trivial two times speed-up can be achieved by splitting the image into
two halves, running the detector individually and merging the detections
before NMS" (Sec. 5.3): each half would run on its own GPU. Here the two
halves run one after the other; a memory detector keeps one memory per
half (:class:`~memvid_mm.models.layers.SplitHalvesState`). The halves are
the left and the right half of the frame (a vertical cut), each padded as
the data preprocessor pads an image, so that each is detected as an image
of its own, and objects across the cut are truncated, which is what the
baseline shows.

Shape shorthand: H/W the network input's size (padded), h/w the unpadded
frame's (``img_shape``), R RoIs of a half, K classes, D detections.
"""
from dataclasses import dataclass
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.layers import multiclass_nms
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import scale_boxes
from mmdet.utils import ConfigType
from mmengine.structures import InstanceData
from torch import Tensor, nn

from .rfcn import RFCN


@dataclass
class FrameHalf:
    """One half of a frame, an image of its own.

    Attributes:
        image (Tensor): ``(1, 3, H', W')`` the half, padded at the bottom
            and right with zeros to a multiple of the pad divisor.
        sample (DetDataSample): Its sample: the frame's metainfo with its
            own ``img_shape`` (the unpadded half), ``pad_shape`` and
            ``batch_input_shape``; no annotations.
        x_offset (int): Its left edge in the frame's network input
            (0 for the left half).
    """

    image: Tensor
    sample: DetDataSample
    x_offset: int


def check_split_halves(value: object) -> bool:
    """Check a ``test_cfg.split_halves`` setting.

    Args:
        value (object): The setting.

    Returns:
        bool: It.

    Raises:
        TypeError: When it is not a bool.
    """
    if not isinstance(value, bool):
        raise TypeError(f'test_cfg.split_halves must be a bool, got '
                        f'{value!r}')
    return value


def split_frame_halves(image: Tensor, data_sample: DetDataSample,
                       pad_size_divisor: int) -> Tuple[FrameHalf, FrameHalf]:
    """Cut a frame into its left and right halves.

    Args:
        image (Tensor): The frame (1, 3, H, W), normalised and padded;
            its ``img_shape`` (h, w) is the part before padding.
        data_sample (:obj:`DetDataSample`): Its sample (not changed).
        pad_size_divisor (int): Each half is padded to a multiple of this
            (the data preprocessor's ``pad_size_divisor``, or the features'
            stride), with 0, the value the preprocessor pads with.

    Returns:
        tuple[FrameHalf, FrameHalf]: The left half, columns ``[0, w // 2)``,
        and the right one, ``[w // 2, w)``, each rows ``[0, h)``.

    Raises:
        ValueError: When the frame is less than 2 pixels wide, or its
            ``img_shape`` does not fit in ``image``.
    """
    metainfo = data_sample.metainfo
    height, width = tuple(metainfo.get('img_shape', image.shape[-2:]))[:2]
    if width < 2 or height > image.shape[-2] or width > image.shape[-1]:
        raise ValueError(
            f'video {metainfo.get("video_id")}: frame '
            f'{metainfo.get("frame_id")}: cannot split a frame of '
            f'img_shape {(height, width)} (input '
            f'{tuple(image.shape[-2:])}) into two halves')
    cut = width // 2
    halves = []
    for left, right in ((0, cut), (cut, width)):
        part = image[..., :height, left:right]
        pad_h = -height % pad_size_divisor
        pad_w = -(right - left) % pad_size_divisor
        part = F.pad(part, (0, pad_w, 0, pad_h), value=0.0)
        padded = tuple(part.shape[-2:])
        sample = DetDataSample(
            metainfo={
                **metainfo, 'img_shape': (height, right - left),
                'pad_shape': padded,
                'batch_input_shape': padded
            })
        halves.append(FrameHalf(part.contiguous(), sample, left))
    return halves[0], halves[1]


def raw_detections(image_detector: nn.Module, x: Tuple[Tensor],
                   sample: DetDataSample) -> InstanceData:
    """A two-stage detector's detections of one image before NMS.

    Args:
        image_detector (nn.Module): A two-stage detector (:class:`RFCN`,
            ``FasterRCNN``) with ``rpn_head`` and ``roi_head``.
        x (tuple[Tensor]): Its feature maps of the image, each
            (1, C, h', w').
        sample (:obj:`DetDataSample`): The image's sample
            (``img_shape``).

    Returns:
        InstanceData: ``bboxes`` (R, K * 4), or (R, 4) with a
        class-agnostic regression, in the image's network-input pixels,
        clipped to its ``img_shape``; ``scores`` (R, K + 1), the last
        column the background's.
    """
    rpn_x, rcnn_x = x, x
    if isinstance(image_detector, RFCN):  # the heads may read apart
        rpn_x, rcnn_x = image_detector.head_features(x)
    rpn_results = image_detector.rpn_head.predict(
        rpn_x, [sample], rescale=False)
    return image_detector.roi_head.predict_bbox(
        rcnn_x, [sample.metainfo],
        rpn_results,
        rcnn_test_cfg=None,
        rescale=False)[0]


def merge_half_detections(halves: Sequence[InstanceData],
                          x_offsets: Sequence[int], rcnn_test_cfg: ConfigType,
                          scale_factor: Sequence[float]) -> InstanceData:
    """The halves' detections before NMS, in one frame, then NMS.

    Args:
        halves (Sequence[InstanceData]): :func:`raw_detections` of each
            half.
        x_offsets (Sequence[int]): Each half's left edge in the frame's
            network input.
        rcnn_test_cfg (dict): The R-CNN / R-FCN head's test settings
            (``score_thr``, ``nms``, ``max_per_img``), as in a frame
            detected whole.
        scale_factor (Sequence[float]): The frame's ``(w_scale, h_scale)``
            from the original image to the network input.

    Returns:
        InstanceData: ``bboxes`` (D, 4) in the original image, ``scores``
        (D,), ``labels`` (D,), as the head gives a frame detected whole:
        boxes rescaled, then class-wise NMS.
    """
    boxes, scores = [], []
    for half, x_offset in zip(halves, x_offsets):
        num_rois = half.bboxes.shape[0]
        if num_rois == 0:  # no proposal in this half
            continue
        shift = half.bboxes.new_tensor([x_offset, 0, x_offset, 0])
        boxes.append(
            (half.bboxes.view(num_rois, -1, 4) + shift).view(num_rois, -1))
        scores.append(half.scores)
    if not boxes:
        empty = halves[0].bboxes.new_zeros((0, 4))
        return InstanceData(
            bboxes=empty,
            scores=empty.new_zeros((0, )),
            labels=empty.new_zeros((0, ), dtype=torch.long))
    boxes, scores = torch.cat(boxes), torch.cat(scores)
    inverse = [1 / s for s in scale_factor]
    boxes = scale_boxes(boxes.view(-1, 4), inverse).view(boxes.shape[0], -1)
    dets, labels = multiclass_nms(boxes, scores, rcnn_test_cfg.score_thr,
                                  rcnn_test_cfg.nms, rcnn_test_cfg.max_per_img)
    return InstanceData(bboxes=dets[:, :-1], scores=dets[:, -1], labels=labels)


def detect_split_frame(image_detector: nn.Module, halves: Sequence[FrameHalf],
                       half_features: Sequence[Tuple[Tensor]],
                       data_sample: DetDataSample) -> DetDataSample:
    """Detect a split frame: each half's detections before NMS
    (:func:`raw_detections`), merged (:func:`merge_half_detections`).

    Args:
        image_detector (nn.Module): The two-stage detector whose RPN and
            RoI head run on the features; its ``test_cfg.rcnn`` sets the
            merge's NMS.
        halves (Sequence[FrameHalf]): The frame's halves
            (:func:`split_frame_halves`).
        half_features (Sequence[tuple[Tensor]]): Each half's feature maps,
            each (1, C, h', w').
        data_sample (:obj:`DetDataSample`): The frame's sample.

    Returns:
        :obj:`DetDataSample`: ``data_sample`` with ``pred_instances``
        (``bboxes`` (D, 4) in the original image, ``scores`` (D,),
        ``labels`` (D,)).
    """
    detections = [
        raw_detections(image_detector, x, half.sample)
        for half, x in zip(halves, half_features)
    ]
    data_sample.pred_instances = merge_half_detections(
        detections, [half.x_offset for half in halves],
        image_detector.test_cfg.rcnn, data_sample.metainfo['scale_factor'])
    return data_sample
