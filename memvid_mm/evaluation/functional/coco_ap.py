# Copyright (c) memvid_mm contributors. All rights reserved.
"""Vectorised COCO box AP at IoU 0.5, equal to pycocotools' ``COCOeval``.

pycocotools evaluates each (image, category) pair in Python; on ImageNet
VID val (176k frames x 30 classes, ~100 detections per frame) that takes
far longer than the evaluation it sits beside. This module computes the
same number with numpy. It reproduces ``COCOeval`` (``iouType='bbox'``,
area range ``all``, the IoU 0.5 row, ``maxDets[-1]`` detections per image
and category) rule by rule; a test checks equality with pycocotools.

* Boxes ``(x1, y1, x2, y2)`` are taken as COCO ``[x1, y1, x2 - x1,
  y2 - y1]`` (mmdet's exclusive convention); areas are ``w * h``.
* Crowd GTs (``ignore_flags``) and GTs whose area lies outside
  ``[0, 1e10]`` are ignored; the IoU with a crowd GT divides by the
  detection's area.
* Per image and category, detections are sorted by score (stable) and cut
  to ``max_det``. Each, in turn, takes the GT with the highest IoU >= 0.5
  among the not-yet-matched ones (crowd GTs stay available), preferring
  non-ignored GTs; among equal IoUs the GT listed last wins (pycocotools'
  ``>=`` update). A detection matched to an ignored GT, or unmatched with
  an area outside the range, is ignored.
* Per category, detections of all images (in the given frame order) are
  ranked by score (stable); precision is made non-increasing from the
  right and read at the 101 recall thresholds ``0, 0.01, ..., 1`` (0
  past the last recall). AP is the mean over the categories with
  non-ignored GTs.
"""
from typing import Sequence

import numpy as np

from .vid_eval import (_flatten_annotations, _flatten_detections, _group_pairs,
                       check_frames_aligned, rank_detections)

#: pycocotools' area range ``all`` and recall thresholds.
AREA_RANGE = (0., 1e10)
RECALL_THRESHOLDS = np.linspace(0., 1., 101)


def coco_box_iou(det_boxes: np.ndarray, gt_boxes: np.ndarray,
                 gt_crowd: np.ndarray) -> np.ndarray:
    """pycocotools' ``bbIou`` for aligned pairs.

    Args:
        det_boxes (np.ndarray): (P, 4) ``(x1, y1, x2, y2)`` detections.
        gt_boxes (np.ndarray): (P, 4) ``(x1, y1, x2, y2)`` GTs.
        gt_crowd (np.ndarray): (P,) bool, the GT is a crowd region.

    Returns:
        np.ndarray: (P,) IoU (intersection over the detection's area for
        crowd GTs); 0 without overlap.
    """
    iw = (
        np.minimum(det_boxes[:, 2], gt_boxes[:, 2]) -
        np.maximum(det_boxes[:, 0], gt_boxes[:, 0]))
    ih = (
        np.minimum(det_boxes[:, 3], gt_boxes[:, 3]) -
        np.maximum(det_boxes[:, 1], gt_boxes[:, 1]))
    overlap = (iw > 0) & (ih > 0)
    inter = np.where(overlap, iw * ih, 0.)
    det_area = _area(det_boxes)
    union = np.where(gt_crowd, det_area, det_area + _area(gt_boxes) - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=overlap)


def _area(boxes: np.ndarray) -> np.ndarray:
    """(N,) COCO area ``w * h`` of (N, 4) ``(x1, y1, x2, y2)`` boxes."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _keep_top(group: np.ndarray, scores: np.ndarray,
              max_det: int) -> np.ndarray:
    """(D,) bool: among the top ``max_det`` by score of its group."""
    order = np.lexsort((-scores, group))
    group_sorted = group[order]
    starts = np.flatnonzero(
        np.concatenate(([True], group_sorted[1:] != group_sorted[:-1])))
    sizes = np.diff(np.append(starts, len(order)))
    position = np.arange(len(order)) - np.repeat(starts, sizes)
    keep = np.zeros(len(order), dtype=bool)
    keep[order[position < max_det]] = True
    return keep


def _coco_match(pair_det: np.ndarray, pair_gt: np.ndarray,
                pair_iou: np.ndarray, pair_time: np.ndarray,
                pair_group: np.ndarray, gt_ignored: np.ndarray,
                gt_crowd: np.ndarray, num_dets: int) -> np.ndarray:
    """COCOeval's greedy matching at one IoU threshold, in rounds.

    Args:
        pair_det (np.ndarray): (P,) detection of each pair above the
            threshold.
        pair_gt (np.ndarray): (P,) GT of each pair.
        pair_iou (np.ndarray): (P,) IoU.
        pair_time (np.ndarray): (P,) processing order of the detection
            within its (image, category) group.
        pair_group (np.ndarray): (P,) group key.
        gt_ignored (np.ndarray): (G,) bool.
        gt_crowd (np.ndarray): (G,) bool; crowd GTs can match repeatedly.
        num_dets (int): D.

    Returns:
        np.ndarray: (D,) matched GT per detection, -1 if unmatched.
    """
    # per group: earliest detection; then non-ignored GTs, best IoU, and
    # among equal IoUs the GT listed last
    alive = np.lexsort(
        (-pair_gt, -pair_iou, gt_ignored[pair_gt], pair_time, pair_group))
    det_done = np.zeros(num_dets, dtype=bool)
    gt_taken = np.zeros(len(gt_ignored), dtype=bool)
    match_gt = np.full(num_dets, -1, dtype=np.int64)
    while alive.size:
        group = pair_group[alive]
        first = alive[np.concatenate(([True], group[1:] != group[:-1]))]
        match_gt[pair_det[first]] = pair_gt[first]
        det_done[pair_det[first]] = True
        gt_taken[pair_gt[first]] = ~gt_crowd[pair_gt[first]]
        alive = alive[~(det_done[pair_det[alive]] | gt_taken[pair_gt[alive]])]
    return match_gt


def _interpolated_ap(tp: np.ndarray, fp: np.ndarray, num_pos: int) -> float:
    """COCOeval's 101-point precision of one category (ranked inputs)."""
    tp_cum, fp_cum = np.cumsum(tp), np.cumsum(fp)
    recall = tp_cum / num_pos
    precision = tp_cum / (tp_cum + fp_cum + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    inds = np.searchsorted(recall, RECALL_THRESHOLDS, side='left')
    q = np.zeros(len(RECALL_THRESHOLDS))
    valid = inds < len(precision)
    q[valid] = precision[inds[valid]]
    return float(q.mean())


def coco_box_ap50(det_results: Sequence[dict],
                  annotations: Sequence[dict],
                  num_classes: int,
                  max_det: int = 1000) -> float:
    """COCO bbox AP at IoU 0.5 (area ``all``), as pycocotools computes it.

    Args:
        det_results (Sequence[dict]): Per frame ``bboxes`` (R, 4)
            ``(x1, y1, x2, y2)``, ``scores`` (R,), ``labels`` (R,).
        annotations (Sequence[dict]): Per frame ``bboxes`` (G_f, 4),
            ``labels`` (G_f,), optional ``ignore_flags`` (G_f,) (crowd).
        num_classes (int): C.
        max_det (int): Detections kept per image and category (COCOeval's
            ``maxDets[-1]``). Defaults to 1000.

    Returns:
        float: AP50 in [0, 1]; ``nan`` when no category has a non-ignored
        GT.

    Raises:
        ValueError: For lists of other lengths or frame orders
            (:func:`~.vid_eval.check_frames_aligned`) and malformed frames.
    """
    check_frames_aligned(det_results, annotations)
    det = _flatten_detections(det_results)
    gt = _flatten_annotations(annotations)
    crowd = gt['ignore_flags']
    if crowd is None:
        crowd = np.zeros(len(gt['labels']), dtype=bool)
    gt_area = _area(gt['bboxes'])
    gt_ignored = crowd | (gt_area < AREA_RANGE[0]) | (gt_area > AREA_RANGE[1])
    group = det['frame'] * num_classes + det['labels']
    keep = _keep_top(group, det['scores'], max_det)
    # ranking: class-major, by score; per (image, class) the COCO order
    rank = rank_detections(det['labels'], det['scores'], num_classes)
    rank = rank[keep[rank]]
    time = np.full(len(keep), -1, dtype=np.int64)
    time[rank] = np.arange(len(rank))

    pair_det, pair_gt = _group_pairs(det, gt, num_classes)
    pairs = keep[pair_det]
    pair_det, pair_gt = pair_det[pairs], pair_gt[pairs]
    iou = coco_box_iou(
        np.take(det['bboxes'], pair_det, axis=0),
        np.take(gt['bboxes'], pair_gt, axis=0), crowd[pair_gt])
    valid = iou >= 0.5
    vdet = pair_det[valid]
    match_gt = _coco_match(vdet, pair_gt[valid], iou[valid], time[vdet],
                           group[vdet], gt_ignored, crowd, len(keep))

    matched = match_gt >= 0
    det_area = _area(det['bboxes'])
    det_ignored = (det_area < AREA_RANGE[0]) | (det_area > AREA_RANGE[1])
    det_ignored[matched] = gt_ignored[match_gt[matched]]
    tp = (matched & ~det_ignored)[rank].astype(np.float64)
    fp = (~matched & ~det_ignored)[rank].astype(np.float64)
    num_pos = np.bincount(gt['labels'][~gt_ignored], minlength=num_classes)
    starts = np.searchsorted(det['labels'][rank], np.arange(num_classes + 1))
    aps = [
        _interpolated_ap(tp[starts[c]:starts[c + 1]],
                         fp[starts[c]:starts[c + 1]], num_pos[c])
        for c in range(num_classes) if num_pos[c] > 0
    ]
    return float(np.mean(aps)) if aps else float('nan')
