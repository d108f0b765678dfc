# Copyright (c) memvid_mm contributors. All rights reserved.
"""Official ImageNet VID evaluation with FGFA's motion-speed splits.

This re-implements the ILSVRC 2015 VID devkit (``eval_vid_detection.m``)
and the motion-speed breakdown of FGFA (Zhu et al., ICCV 2017) on numpy
arrays, vectorised: 176k frames with 100 detections each (ImageNet VID
val size) take about 15 s on one CPU core.

Shape shorthand: F frames, G ground-truth boxes (all frames), D detections
(all frames), C classes, P (detection, GT) pairs of one frame and class.

Protocol (every rule below is tested in
``tests/test_evaluation/test_functional/test_vid_eval.py``):

* Boxes are ``(x1, y1, x2, y2)`` in the inclusive pixel convention of the
  devkit: ``w = x2 - x1 + 1``, ``h = y2 - y1 + 1``, also in the IoU, whose
  intersection counts only when its inclusive width and height are > 0.
* A GT's IoU threshold is ``min(0.5, w*h / ((w+10)*(h+10)))``.
* Matching, per frame: detections in descending score (ties: input order,
  stable sort) each take the not-yet-matched GT of the same class with the
  highest IoU among those whose IoU reaches that GT's own threshold (IoU
  ties: the GT listed first). A matched detection is a TP, an unmatched
  one an FP. Matching does not depend on the speed split: it is done once
  against all GTs, and a split only re-labels the outcome (FGFA).
* AP per class: detections of all frames ranked by score (stable: ties
  keep frame order, then in-frame order, as the devkit's stable MATLAB
  ``sort``); precision ``tp / max(tp + fp, eps)``, recall ``tp / npos``;
  AP is the area under the precision envelope (precision made
  non-increasing from the right) summed over every recall step, with the
  sentinels (0, 0) and (1, 0) of the VOC all-points rule.
* mAP is the mean over the classes with at least one positive in the
  split. A class without positives gets AP ``nan`` and is left out of the
  mean (as mmdet's ``eval_map``); a split without any positive has mAP
  ``nan``.
* Motion IoU of a GT: the mean IoU with the boxes of the same track (same
  ``video_id`` and ``instance_id``) in the frames whose ``frame_id``
  differs by 1..10 from its own (the ``frame_id``s of the same video, not
  positions in a list, so gaps in a video shorten the window); 0 when the
  track appears in no such frame. A negative ``instance_id`` means "no
  track" (DET-style images): motion IoU 0. A video of more than one frame
  with any GT without a track (``instance_id < 0``) is an error (those GTs
  would count as ``fast``), and so are a ``(video_id, frame_id)`` given
  twice, a track with two boxes in one frame and an ``instance_id`` that
  is not an integer. Precomputed values can be handed in as
  ``motion_ious`` (e.g. the values FGFA ships).
* Split ``[lo, hi]`` keeps the GTs with ``lo <= motion IoU <= hi``. GTs
  outside it are *ignored*: they are not positives and a detection
  matched to one is neither TP nor FP. GTs with ``ignore_flags`` set
  (``iscrowd`` in COCO files; ImageNet VID has none) are ignored in every
  split, also in ``all``.
* An unmatched detection compares IoU_in, its best IoU with the in-split
  GTs, and IoU_ig, its best IoU with the ignored GTs. As in FGFA's loop,
  both maxima run over the same candidates as the matching: GTs of the
  *same class* in the frame that are *not yet matched* when the detection
  is processed, with overlap > 0; no candidate of a kind gives -1.
  IoU_in > IoU_ig: a full FP. IoU_ig > IoU_in: no FP. Equal (mostly both
  -1, a detection on background): a fractional FP equal to the share of
  *in-split* GTs among all GTs of the frame (all classes); in a frame
  without any GT, the share of in-split GTs among all GTs of the data
  set. GTs with ``ignore_flags`` are regions, not objects of a split: they
  count in neither side of the share (a frame holding only such regions
  takes the data set's share), so in ``all`` a background detection is a
  full FP with or without them, as in the devkit and COCO. NOTE: the
  issue text says "the share of the frame's GTs that are ignored"; taken
  literally, a background detection in a frame with GTs
  would cost nothing in split ``all`` (no GT is ignored there), so
  ``mAP`` would no longer be the official metric. The in-split share is
  the reading that keeps ``all`` equal to the devkit and agrees with the
  empty-frame rule (the in-split share of the data set); it is what this
  module implements.
"""
from typing import Any, Dict, Hashable, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import MMLogger, print_log

#: FGFA's motion-speed splits of the motion IoU.
DEFAULT_SPEED_RANGES = (('all', (0., 1.)), ('fast', (0., 0.7)),
                        ('medium', (0.7, 0.9)), ('slow', (0.9, 1.)))
#: The devkit's ``defaultIOUthr`` and ``pixelTolerance``.
DEFAULT_IOU_THR = 0.5
PIXEL_TOLERANCE = 10.
#: Half width (in frames) of FGFA's motion-IoU window.
MOTION_WINDOW = 10


def split_key(prefix: str, split: str) -> str:
    """Name of a per-split result, e.g. ``mAP`` / ``mAP_fast``.

    Args:
        prefix (str): ``'mAP'``, ``'AP'`` or ``'num_pos'``.
        split (str): Split name; ``'all'`` adds no suffix.

    Returns:
        str: The result key.
    """
    return prefix if split == 'all' else f'{prefix}_{split}'


def pairwise_iou_inclusive(
        boxes1: np.ndarray,
        boxes2: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """IoU of aligned box pairs, inclusive pixel convention of the devkit.

    Args:
        boxes1 (np.ndarray): (P, 4) boxes ``(x1, y1, x2, y2)``.
        boxes2 (np.ndarray): (P, 4) boxes, aligned with ``boxes1``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``iou`` (P,) float64, 0 where the
        boxes do not overlap, and ``overlap`` (P,) bool, True where the
        inclusive intersection has width and height > 0.
    """
    boxes1 = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    boxes2 = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    iw = (
        np.minimum(boxes1[:, 2], boxes2[:, 2]) -
        np.maximum(boxes1[:, 0], boxes2[:, 0]) + 1.)
    ih = (
        np.minimum(boxes1[:, 3], boxes2[:, 3]) -
        np.maximum(boxes1[:, 1], boxes2[:, 1]) + 1.)
    overlap = (iw > 0) & (ih > 0)
    inter = np.where(overlap, iw * ih, 0.)
    area1 = ((boxes1[:, 2] - boxes1[:, 0] + 1.) *
             (boxes1[:, 3] - boxes1[:, 1] + 1.))
    area2 = ((boxes2[:, 2] - boxes2[:, 0] + 1.) *
             (boxes2[:, 3] - boxes2[:, 1] + 1.))
    union = area1 + area2 - inter
    # Where the boxes overlap both have positive sides, so union >= inter.
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=overlap)
    return iou, overlap


def gt_iou_thresholds(bboxes: np.ndarray) -> np.ndarray:
    """Per-GT IoU threshold ``min(0.5, w*h / ((w+10)*(h+10)))``.

    Args:
        bboxes (np.ndarray): (G, 4) GT boxes ``(x1, y1, x2, y2)``.

    Returns:
        np.ndarray: (G,) float64 thresholds; small objects get looser ones.
    """
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    w = bboxes[:, 2] - bboxes[:, 0] + 1.
    h = bboxes[:, 3] - bboxes[:, 1] + 1.
    thr = (w * h) / ((w + PIXEL_TOLERANCE) * (h + PIXEL_TOLERANCE))
    return np.minimum(DEFAULT_IOU_THR, thr)


def vid_average_precision(tp: np.ndarray, fp: np.ndarray,
                          num_pos: float) -> float:
    """All-points AP under the precision envelope (devkit's ``VOCap``).

    Args:
        tp (np.ndarray): (N,) TP weights of the class's detections ranked by
            descending score.
        fp (np.ndarray): (N,) FP weights (may be fractional), same order.
        num_pos (float): Number of positives of the class.

    Returns:
        float: AP in [0, 1]; ``nan`` when ``num_pos`` is 0.
    """
    if num_pos <= 0:
        return float('nan')
    tp_cum = np.cumsum(np.asarray(tp, dtype=np.float64))
    fp_cum = np.cumsum(np.asarray(fp, dtype=np.float64))
    recall = tp_cum / float(num_pos)
    precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.], recall, [1.]))
    mpre = np.concatenate(([0.], precision, [0.]))
    # precision envelope: non-increasing from the right
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def _frame_array(frames: Sequence[dict], index: int, key: str,
                 shape_tail: tuple, dtype: np.dtype, what: str) -> np.ndarray:
    """Read ``frames[index][key]`` as an array of shape
    ``(n, *shape_tail)``; errors name the frame (:func:`_frame_name`)."""
    frame = frames[index]
    if key not in frame:
        raise ValueError(f'{_frame_name(frames, index, what)} has no {key!r}')
    try:
        arr = np.asarray(_as_array(frame[key]), dtype=dtype)
    except (TypeError, ValueError) as e:
        raise ValueError(f'{_frame_name(frames, index, what)}: {key!r} is '
                         f'not a numeric array ({e})') from None
    if arr.size == 0:
        return arr.reshape((0, ) + shape_tail)
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        expected = '(' + ', '.join(['n', *map(str, shape_tail)
                                    ]) + (')' if shape_tail else ',)')
        raise ValueError(f'{_frame_name(frames, index, what)}: {key!r} must '
                         f'have shape {expected}, got {arr.shape}')
    return arr


def _flatten(frames: Sequence[dict], fields: Dict[str, tuple],
             what: str) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Concatenate per-frame arrays; returns them and each row's frame.

    ``fields`` maps a key to ``(shape_tail, dtype, required)``. An optional
    key must be in every frame or in none.
    """
    for i, frame in enumerate(frames):
        if not isinstance(frame, dict):
            raise TypeError(f'{what}[{i}] must be a dict, got {type(frame)}')
    for key in [key for key, field in fields.items() if not field[2]]:
        has = [key in frame for frame in frames]
        if any(has) and not all(has):
            raise ValueError(
                f'{_frame_name(frames, has.index(False), what)} has no '
                f'{key!r}, but {what}[{has.index(True)}] has: give it in '
                f'every frame or in none ({sum(has)} of {len(frames)} '
                'have it)')
    try:
        return _flatten_fast(frames, fields)
    except (KeyError, TypeError, ValueError, AttributeError):
        # malformed or unusual (e.g. empty arrays of shape (0,)) input:
        # the per-frame path converts it or names the frame at fault
        return _flatten_checked(frames, fields, what)


def _flatten_fast(frames: Sequence[dict],
                  fields: Dict[str, tuple]) -> Tuple[dict, np.ndarray]:
    """Vectorised :func:`_flatten` for well-formed input; raises if not."""
    flat, counts = {}, None
    for key, (tail, dtype, required) in fields.items():
        if not frames or (not required and key not in frames[0]):
            flat[key] = None if frames else np.zeros((0, ) + tail, dtype)
            continue
        values = [_as_array(f[key]) for f in frames]
        lengths = np.fromiter(map(len, values), np.int64, len(values))
        arr = np.concatenate(values).astype(dtype, copy=False)
        if arr.shape[1:] != tail:
            raise ValueError(key)
        if counts is None:
            counts = lengths
        elif not np.array_equal(counts, lengths):
            raise ValueError(key)
        flat[key] = arr
    if counts is None:
        counts = np.zeros(len(frames), dtype=np.int64)
    return flat, np.repeat(np.arange(len(frames)), counts)


def _as_array(value: Any) -> np.ndarray:
    """Numpy view of an array-like (torch tensors are moved to CPU)."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return value if isinstance(value, np.ndarray) else np.asarray(value)


def _flatten_checked(frames: Sequence[dict], fields: Dict[str, tuple],
                     what: str) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Per-frame :func:`_flatten` with an error naming the bad frame."""
    parts = {key: [] for key in fields}
    counts = np.zeros(len(frames), dtype=np.int64)
    for i, frame in enumerate(frames):
        n = None
        for key, (tail, dtype, required) in fields.items():
            if not required and key not in frame:
                continue
            arr = _frame_array(frames, i, key, tail, dtype, what)
            if n is not None and len(arr) != n:
                raise ValueError(f'{_frame_name(frames, i, what)} has {n} '
                                 f'boxes but {len(arr)} {key!r}')
            n = len(arr)
            parts[key].append(arr)
        counts[i] = n
    flat = {}
    for key, (tail, dtype, required) in fields.items():
        if not required and len(parts[key]) < len(frames):
            flat[key] = None
        elif parts[key]:
            flat[key] = np.concatenate(parts[key])
        else:
            flat[key] = np.zeros((0, ) + tail, dtype=dtype)
    return flat, np.repeat(np.arange(len(frames)), counts)


def _frame_name(frames: Sequence[dict], index: int, what: str) -> str:
    """``what[index]`` with the frame's ``img_id`` / ``video_id`` /
    ``frame_id``, those it has."""
    frame = frames[index]
    ids = ', '.join(f'{key}={_id_repr(frame[key])}'
                    for key in ('img_id', 'video_id', 'frame_id')
                    if key in frame)
    return f'{what}[{index}]' + (f' ({ids})' if ids else '')


def check_frames_aligned(det_results: Sequence[dict],
                         annotations: Sequence[dict]) -> None:
    """Raise a ValueError unless the i-th detections are the i-th frame's.

    The two lists must be as long, and where both dicts of a position carry
    ``img_id``, ``video_id`` or ``frame_id``, the values must agree: frames
    paired by position but given in another order would be scored against
    other frames' boxes.

    Args:
        det_results (Sequence[dict]): Per-frame detections.
        annotations (Sequence[dict]): Per-frame ground truth.
    """
    if len(det_results) != len(annotations):
        raise ValueError(f'det_results has {len(det_results)} frames but '
                         f'annotations has {len(annotations)}')
    for index, (det, ann) in enumerate(zip(det_results, annotations)):
        for key in ('img_id', 'video_id', 'frame_id'):
            if key in det and key in ann and \
                    _plain(det[key]) != _plain(ann[key]):
                raise ValueError(
                    f'{_frame_name(det_results, index, "det_results")} is '
                    f'not the frame of '
                    f'{_frame_name(annotations, index, "annotations")}: '
                    f'the two lists must be in the same frame order')


def _check_rows(bad: np.ndarray, values: np.ndarray, row_frame: np.ndarray,
                frames: Sequence[dict], what: str, key: str,
                problem: str) -> None:
    """Raise a ValueError naming the frame of the first bad row, if any.

    Args:
        bad (np.ndarray): (N,) bool, True for the rows at fault.
        values (np.ndarray): (N, ...) the flattened ``key`` values.
        row_frame (np.ndarray): (N,) frame index of each row (sorted).
        frames (Sequence[dict]): The per-frame input (for the ids).
        what (str): Name of the input, e.g. ``'annotations'``.
        key (str): The key of the values, e.g. ``'bboxes'``.
        problem (str): What is wrong, e.g. ``'is not finite'``.
    """
    rows = np.flatnonzero(bad)
    if not rows.size:
        return
    row = rows[0]
    index = int(row_frame[row])
    position = row - np.searchsorted(row_frame, index)
    more = f' ({rows.size} such entries in all)' if rows.size > 1 else ''
    raise ValueError(f'{_frame_name(frames, index, what)}: {key}[{position}]'
                     f' = {values[row].tolist()} {problem}{more}')


def _integer_labels(flat: dict, row_frame: np.ndarray, frames: Sequence[dict],
                    what: str) -> np.ndarray:
    """The float ``labels`` as int64; a non-integer value is an error."""
    labels = flat['labels']
    _check_rows(labels != np.round(labels), labels, row_frame, frames, what,
                'labels', 'is not an integer class index')
    return labels.astype(np.int64)


def _integer_instance_ids(instance_ids: np.ndarray, gt_frame: np.ndarray,
                          annotations: Sequence[dict]) -> np.ndarray:
    """The float ``instance_ids`` as int64; a non-integer value is an error
    (cast, 0.7 and 0.2 would become one track)."""
    _check_rows(instance_ids != np.round(instance_ids), instance_ids, gt_frame,
                annotations, 'annotations', 'instance_ids',
                'is not an integer track id')
    return instance_ids.astype(np.int64)


def _check_one_box_per_track(instance_ids: np.ndarray, gt_frame: np.ndarray,
                             annotations: Sequence[dict]) -> None:
    """Refuse a track (``instance_id >= 0``) with two boxes in one frame.

    Its motion IoU would average the IoUs of both boxes with the track's
    neighbours: a track that never moves could count as fast.

    Args:
        instance_ids (np.ndarray): (G,) int64 track ids.
        gt_frame (np.ndarray): (G,) frame index of each GT (a frame is one
            ``(video_id, frame_id)``).
        annotations (Sequence[dict]): The per-frame GT, for the message.

    Raises:
        ValueError: Naming the first such frame and instance_id.
    """
    tracked = np.flatnonzero(instance_ids >= 0)
    order = tracked[np.lexsort((instance_ids[tracked], gt_frame[tracked]))]
    frame, inst = gt_frame[order], instance_ids[order]
    repeat = np.flatnonzero((frame[1:] == frame[:-1])
                            & (inst[1:] == inst[:-1]))
    if repeat.size:
        row = order[repeat[0] + 1]
        index = int(gt_frame[row])
        count = np.count_nonzero((gt_frame == index)
                                 & (instance_ids == instance_ids[row]))
        raise ValueError(
            f'{_frame_name(annotations, index, "annotations")} has '
            f'instance_id {instance_ids[row]} on {count} boxes: a track has '
            'one box per frame, and its motion IoU would mix them '
            f'({repeat.size} such repeats in all)')


def _check_gt_boxes(boxes: np.ndarray, gt_frame: np.ndarray,
                    annotations: Sequence[dict]) -> None:
    """Error naming the frame of a non-finite or reversed GT box.

    Args:
        boxes (np.ndarray): (G, 4) GT boxes ``(x1, y1, x2, y2)``.
        gt_frame (np.ndarray): (G,) frame index of each box.
        annotations (Sequence[dict]): The per-frame GT.
    """
    _check_rows(~np.isfinite(boxes).all(axis=1), boxes, gt_frame, annotations,
                'annotations', 'bboxes', 'is not finite')
    _check_rows((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]),
                boxes, gt_frame, annotations, 'annotations', 'bboxes',
                'has x2 < x1 or y2 < y1 (boxes are (x1, y1, x2, y2))')


def _flatten_annotations(annotations: Sequence[dict]) -> dict:
    """Concatenate and check the per-frame GT (see eval_vid_map).

    Raises:
        ValueError: Naming the frame (index, ``video_id``, ``frame_id``)
            of a non-finite or reversed (x2 < x1 or y2 < y1) box, a
            non-integer label or a motion IoU outside [0, 1].
    """
    fields = dict(
        bboxes=((4, ), np.float64, True),
        labels=((), np.float64, True),
        instance_ids=((), np.float64, False),
        ignore_flags=((), bool, False),
        motion_ious=((), np.float64, False))
    gt, gt_frame = _flatten(annotations, fields, 'annotations')
    _check_gt_boxes(gt['bboxes'], gt_frame, annotations)
    gt['labels'] = _integer_labels(gt, gt_frame, annotations, 'annotations')
    if gt['instance_ids'] is not None:
        gt['instance_ids'] = _integer_instance_ids(gt['instance_ids'],
                                                   gt_frame, annotations)
    motion = gt['motion_ious']
    if motion is not None:
        # NaN fails both comparisons: it would be in every split
        _check_rows(~((motion >= 0.) & (motion <= 1.)), motion, gt_frame,
                    annotations, 'annotations', 'motion_ious',
                    'is not in [0, 1]')
    gt['frame'] = gt_frame
    return gt


def _flatten_detections(det_results: Sequence[dict]) -> dict:
    """Concatenate the per-frame detections of ``det_results``."""
    fields = dict(
        bboxes=((4, ), np.float64, True),
        scores=((), np.float64, True),
        labels=((), np.float64, True))
    det, det_frame = _flatten(det_results, fields, 'det_results')
    _check_rows(~np.isfinite(det['scores']), det['scores'], det_frame,
                det_results, 'det_results', 'scores', 'is not finite')
    _check_rows(~np.isfinite(det['bboxes']).all(axis=1), det['bboxes'],
                det_frame, det_results, 'det_results', 'bboxes',
                'is not finite')
    det['labels'] = _integer_labels(det, det_frame, det_results, 'det_results')
    det['frame'] = det_frame
    return det


def compute_motion_iou(annotations: Sequence[dict],
                       window: int = MOTION_WINDOW,
                       check_tracks: bool = False) -> List[np.ndarray]:
    """FGFA motion IoU of every GT box.

    The motion IoU of a GT is the mean IoU (inclusive convention) with the
    boxes of the same track (``video_id``, ``instance_id``) in the frames of
    that video whose ``frame_id`` differs by 1 to ``window`` from its own;
    0 when there is none or the ``instance_id`` is negative.

    Args:
        annotations (Sequence[dict]): One dict per frame with ``bboxes``
            (G_f, 4), ``instance_ids`` (G_f,), ``video_id`` and
            ``frame_id``.
        window (int): Half width of the window in frames. Defaults to 10.
        check_tracks (bool): Refuse a video of several frames with a GT
            without a track (``instance_id < 0``), which would count as
            fast however it moves, as :func:`eval_vid_map` does for the
            speed splits. Defaults to False (such GTs get 0).

    Returns:
        list[np.ndarray]: One (G_f,) float64 array per frame.

    Raises:
        ValueError: If two frames share a ``(video_id, frame_id)``, a
            ``frame_id`` or ``instance_id`` is not an integer, a track has
            two boxes in one frame, a box is not finite or reversed, or
            (with ``check_tracks``) a video of several
            frames has an untracked GT.
    """
    fields = dict(
        bboxes=((4, ), np.float64, True), instance_ids=((), np.float64, True))
    gt, gt_frame = _flatten(annotations, fields, 'annotations')
    _check_gt_boxes(gt['bboxes'], gt_frame, annotations)
    gt['instance_ids'] = _integer_instance_ids(gt['instance_ids'], gt_frame,
                                               annotations)
    names, video_index, frame_ids = _index_videos(annotations)
    _check_one_box_per_track(gt['instance_ids'], gt_frame, annotations)
    if check_tracks:
        _check_tracked_videos(gt['instance_ids'], gt_frame, names, video_index)
    motion = _motion_iou_flat(gt['bboxes'], gt['instance_ids'], gt_frame,
                              video_index, frame_ids, window)
    counts = np.bincount(gt_frame, minlength=len(annotations))
    # F + 1 pieces, the last one empty: also right for F = 0
    return np.split(motion, np.cumsum(counts))[:-1]


def _motion_iou_flat(boxes: np.ndarray, instance_ids: np.ndarray,
                     gt_frame: np.ndarray, video_of_frame: np.ndarray,
                     frame_id: np.ndarray, window: int) -> np.ndarray:
    """Motion IoU of G flattened GTs (see :func:`compute_motion_iou`).

    Args:
        boxes (np.ndarray): (G, 4) GT boxes.
        instance_ids (np.ndarray): (G,) track ids, < 0: untracked.
        gt_frame (np.ndarray): (G,) frame index of each GT.
        video_of_frame (np.ndarray): (F,) video index of each frame.
        frame_id (np.ndarray): (F,) ``frame_id`` of each frame.
        window (int): Half width of the window in frames.

    Returns:
        np.ndarray: (G,) motion IoU.
    """
    num_gts = len(gt_frame)
    sums = np.zeros(num_gts)
    counts = np.zeros(num_gts, dtype=np.int64)
    tracked = np.flatnonzero(instance_ids >= 0)
    # sort the tracked GTs by (video, instance, frame_id); a track is then
    # contiguous and its neighbours within the window are the next rows
    order = tracked[np.lexsort(
        (frame_id[gt_frame[tracked]], instance_ids[tracked],
         video_of_frame[gt_frame[tracked]]))]
    video = video_of_frame[gt_frame[order]]
    inst, fid = instance_ids[order], frame_id[gt_frame[order]]
    boxes = boxes[order]
    shift = 1
    while shift < len(order):
        same = ((video[shift:] == video[:-shift]) &
                (inst[shift:] == inst[:-shift]))
        gap = fid[shift:] - fid[:-shift]
        near = same & (gap <= window)
        if not near.any():  # then no row further away is near either
            break
        pairs = np.flatnonzero(near & (gap > 0))
        iou, _ = pairwise_iou_inclusive(boxes[pairs], boxes[pairs + shift])
        for ends in (order[pairs], order[pairs + shift]):
            np.add.at(sums, ends, iou)
            np.add.at(counts, ends, 1)
        shift += 1
    return np.divide(sums, counts, out=np.zeros(num_gts), where=counts > 0)


def _index_videos(
        annotations: Sequence[dict]
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group the frames into videos and check each frame appears once.

    Args:
        annotations (Sequence[dict]): One dict per frame with ``video_id``
            and ``frame_id``.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (V,) the distinct
        ``video_id`` values, (F,) the dense video index of each frame into
        them and (F,) the int64 ``frame_id`` of each frame.

    Raises:
        ValueError: If a key is missing, a ``frame_id`` is not an integer,
            a ``video_id`` is not hashable or two frames share a
            ``(video_id, frame_id)``, naming the video and frame. Video ids
            are compared as Python values: ``1`` and ``'1'`` are two
            videos.
    """
    # indexed by the Python values, not by np.unique of an array, which
    # would make video 1 and video '1' one video of string ids
    index_of: Dict[Hashable, int] = {}
    videos, video_index, frame_ids = [], [], []
    for i, ann in enumerate(annotations):
        for key in ('video_id', 'frame_id'):
            if key not in ann:
                raise ValueError(f'annotations[{i}] has no {key!r} (needed '
                                 'for the motion IoU)')
        if not _is_integer(ann['frame_id']):
            raise ValueError(
                f'{_frame_name(annotations, i, "annotations")}: frame_id '
                f"{ann['frame_id']!r:.50} is not an integer")
        video = _plain(ann['video_id'])
        try:
            video_index.append(index_of.setdefault(video, len(index_of)))
        except TypeError:
            raise ValueError(
                f'{_frame_name(annotations, i, "annotations")}: video_id '
                f'{video!r:.50} is not hashable; expected an int or a '
                'str') from None
        videos.append(video)
        frame_ids.append(int(ann['frame_id']))
    video_index = np.asarray(video_index, dtype=np.int64).reshape(-1)
    names = np.empty(len(index_of), dtype=object)
    for name, index in index_of.items():
        names[index] = name
    frame_ids = np.asarray(frame_ids, dtype=np.int64).reshape(-1)
    order = np.lexsort((frame_ids, video_index))
    repeat = np.flatnonzero((video_index[order][1:] == video_index[order][:-1])
                            & (frame_ids[order][1:] == frame_ids[order][:-1]))
    if repeat.size:
        first, second = sorted(order[repeat[0]:repeat[0] + 2])
        raise ValueError(
            f'video {_id_repr(videos[first])} has two frames with frame_id '
            f'{frame_ids[first]} (annotations[{first}] and '
            f'annotations[{second}]); each (video_id, frame_id) must appear '
            'once')
    return names, video_index, frame_ids


def _is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer scalar; bools are not.

    An int, a numpy integer or a 0-d integer array / tensor is.
    """
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, RuntimeError):
        return False
    return array.ndim == 0 and np.issubdtype(array.dtype, np.integer)


def _plain(value: Any) -> Any:
    """An id with numpy scalars as Python values."""
    return value.item() if isinstance(value, np.generic) else value


def _id_repr(value: Any) -> str:
    """``repr`` of an id, numpy scalars shown as Python values."""
    return repr(_plain(value))


def _check_tracked_videos(instance_ids: np.ndarray, gt_frame: np.ndarray,
                          video_names: np.ndarray,
                          video_index: np.ndarray) -> None:
    """Error if a multi-frame video has a GT that is not tracked.

    A GT without an ``instance_id >= 0`` gets motion IoU 0, i.e. counts as
    ``fast``, however it moves. One-frame videos (e.g. DET images) need no
    tracks.

    Args:
        instance_ids (np.ndarray): (G,) track ids, < 0: untracked.
        gt_frame (np.ndarray): (G,) frame index of each GT.
        video_names (np.ndarray): (V,) ``video_id`` of each video.
        video_index (np.ndarray): (F,) video index of each frame.

    Raises:
        ValueError: Naming the first such video and its untracked GTs.
    """
    num_videos = len(video_names)
    num_frames = np.bincount(video_index, minlength=num_videos)
    gt_video = video_index[gt_frame]
    untracked = np.bincount(gt_video[instance_ids < 0], minlength=num_videos)
    bad = np.flatnonzero((num_frames > 1) & (untracked > 0))
    if bad.size:
        video = bad[0]
        raise ValueError(
            f'video {_id_repr(video_names[video])} has {num_frames[video]} '
            f'frames and {untracked[video]} of its '
            f'{np.count_nonzero(gt_video == video)} ground-truth boxes have '
            'no instance_id >= 0 (missing instance_ids are filled with -1), '
            f'so they would count as fast ({bad.size} such videos); give '
            'the instance_ids of the tracks (or motion_ious), or evaluate '
            'only the split "all"')


def _group_pairs(det: dict, gt: dict,
                 num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """All (detection, GT) pairs of the same frame and class.

    Returns:
        tuple[np.ndarray, np.ndarray]: (P,) detection and (P,) GT indices,
        ordered by detection.
    """
    gt_key = gt['frame'] * num_classes + gt['labels']
    gt_order = np.argsort(gt_key, kind='stable')
    gt_key_sorted = gt_key[gt_order]
    det_key = det['frame'] * num_classes + det['labels']
    lo = np.searchsorted(gt_key_sorted, det_key, side='left')
    count = np.searchsorted(gt_key_sorted, det_key, side='right') - lo
    pair_det = np.repeat(np.arange(len(det_key)), count)
    first_pair = np.cumsum(count) - count
    within = np.arange(len(pair_det)) - np.repeat(first_pair, count)
    pair_gt = gt_order[np.repeat(lo, count) + within]
    return pair_det, pair_gt


def rank_detections(labels: np.ndarray, scores: np.ndarray,
                    num_classes: int) -> np.ndarray:
    """Order detections by class, then descending score, ties stable.

    Within a class, equal scores keep the input order, which is frame
    order and, in a frame, input order: the devkit's ranking (a stable
    sort of the frame-ordered detections, each frame sorted by score).

    Args:
        labels (np.ndarray): (D,) labels in ``[0, C)``.
        scores (np.ndarray): (D,) scores.
        num_classes (int): C.

    Returns:
        np.ndarray: (D,) indices, class-major.
    """
    dtype = np.int16 if num_classes < 2**15 else np.int64
    by_class = np.argsort(labels.astype(dtype), kind='stable')
    starts = np.searchsorted(labels[by_class], np.arange(num_classes + 1))
    parts = []
    for c in range(num_classes):
        idx = by_class[starts[c]:starts[c + 1]]
        parts.append(idx[np.argsort(-scores[idx], kind='stable')])
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _greedy_match(pair_det: np.ndarray, pair_gt: np.ndarray,
                  pair_iou: np.ndarray, pair_time: np.ndarray,
                  pair_group: np.ndarray, num_dets: int,
                  num_gts: int) -> np.ndarray:
    """The devkit's greedy matching, vectorised in rounds.

    In each round every (frame, class) group lets its earliest detection
    (highest score) that still has a free GT above threshold take its best
    such GT. A detection skipped in a round has no free GT above threshold,
    and GTs only get taken, so it stays unmatched, exactly as in the
    sequential loop. Rounds = the most matches in one group.

    Args:
        pair_det (np.ndarray): (P,) detection index of each valid pair.
        pair_gt (np.ndarray): (P,) GT index of each valid pair.
        pair_iou (np.ndarray): (P,) IoU, above the GT's threshold.
        pair_time (np.ndarray): (P,) processing rank of the detection
            (increasing with descending score within a group).
        pair_group (np.ndarray): (P,) (frame, class) group key.
        num_dets (int): D.
        num_gts (int): G.

    Returns:
        np.ndarray: (D,) matched GT index per detection, -1 if unmatched.
    """
    # per group: by time, then best IoU, then the GT listed first
    alive = np.lexsort((pair_gt, -pair_iou, pair_time, pair_group))
    det_matched = np.zeros(num_dets, dtype=bool)
    gt_taken = np.zeros(num_gts, dtype=bool)
    match_gt = np.full(num_dets, -1, dtype=np.int64)
    while alive.size:
        group = pair_group[alive]
        first = alive[np.concatenate(([True], group[1:] != group[:-1]))]
        match_gt[pair_det[first]] = pair_gt[first]
        det_matched[pair_det[first]] = True
        gt_taken[pair_gt[first]] = True
        alive = alive[~(gt_taken[pair_gt[alive]]
                        | det_matched[pair_det[alive]])]
    return match_gt


def _match(det: dict, gt: dict, time: np.ndarray, num_classes: int) -> dict:
    """Match detections to GTs once (split independent).

    Args:
        det (dict): Flattened detections (frame order).
        gt (dict): Flattened GT.
        time (np.ndarray): (D,) position of each detection in the ranking
            of :func:`rank_detections`; within a (frame, class) group it is
            the devkit's processing order.
        num_classes (int): C.

    Returns:
        dict: The matches, ``matched_time`` (M,) and ``matched_gt`` (M,),
        and for the split rules the candidates of the U unmatched
        detections that overlap a GT of their class that was still free
        when they came: ``cand_time`` (U,), and per candidate pair
        ``cand_slot`` (index into U), ``cand_gt`` and ``cand_iou``.
    """
    num_dets, num_gts = len(det['scores']), len(gt['labels'])
    pair_det, pair_gt = _group_pairs(det, gt, num_classes)
    iou, overlap = pairwise_iou_inclusive(
        np.take(det['bboxes'], pair_det, axis=0),
        np.take(gt['bboxes'], pair_gt, axis=0))
    valid = overlap & (iou >= gt_iou_thresholds(gt['bboxes'])[pair_gt])
    group = det['frame'] * num_classes + det['labels']
    vdet = pair_det[valid]
    match_gt = _greedy_match(vdet, pair_gt[valid], iou[valid], time[vdet],
                             group[vdet], num_dets, num_gts)
    matched = np.flatnonzero(match_gt >= 0)
    # when each GT was taken (num_dets: never)
    taken_at = np.full(num_gts, num_dets, dtype=np.int64)
    taken_at[match_gt[matched]] = time[matched]
    cand = overlap & (match_gt[pair_det] < 0) & (
        taken_at[pair_gt] > time[pair_det])
    cand_dets, cand_slot = np.unique(pair_det[cand], return_inverse=True)
    return dict(
        matched_time=time[matched],
        matched_gt=match_gt[matched],
        cand_time=time[cand_dets],
        cand_slot=cand_slot.reshape(-1),
        cand_gt=pair_gt[cand],
        cand_iou=iou[cand])


def _split_tp_fp(match: dict, frame_ranked: np.ndarray, gt_frame: np.ndarray,
                 gt_ignored: np.ndarray, gt_region: np.ndarray,
                 num_frames: int) -> Tuple[np.ndarray, np.ndarray]:
    """TP / FP weights of the ranked detections for one split.

    Args:
        match (dict): Output of :func:`_match`.
        frame_ranked (np.ndarray): (D,) frame of each ranked detection.
        gt_frame (np.ndarray): (G,) frame of each GT.
        gt_ignored (np.ndarray): (G,) bool, GT outside the split (the
            regions of ``gt_region`` included).
        gt_region (np.ndarray): (G,) bool, GT with ``ignore_flags``
            (``iscrowd``): a region that excuses the detections on it, not
            an object of any split, so it counts in neither side of the
            background share.
        num_frames (int): F.

    Returns:
        tuple[np.ndarray, np.ndarray]: (D,) TP and (D,) FP weights in
        ranking order.
    """
    objects = ~gt_region
    gts_in_frame = np.bincount(gt_frame[objects], minlength=num_frames)
    in_split = np.bincount(
        gt_frame[objects & ~gt_ignored], minlength=num_frames)
    num_objects = np.count_nonzero(objects)
    empty_weight = (np.count_nonzero(objects & ~gt_ignored) /
                    num_objects) if num_objects else 1.
    share = np.divide(
        in_split,
        gts_in_frame,
        out=np.full(num_frames, empty_weight),
        where=gts_in_frame > 0)
    # unmatched and overlapping no free same-class GT: IoU_in = IoU_ig = -1
    fp = share[frame_ranked]
    tp = np.zeros(len(frame_ranked))
    tp[match['matched_time']] = ~gt_ignored[match['matched_gt']]
    fp[match['matched_time']] = 0.
    num_cand = len(match['cand_time'])
    best_in, best_ig = np.full(num_cand, -1.), np.full(num_cand, -1.)
    ignored = gt_ignored[match['cand_gt']]
    np.maximum.at(best_in, match['cand_slot'][~ignored],
                  match['cand_iou'][~ignored])
    np.maximum.at(best_ig, match['cand_slot'][ignored],
                  match['cand_iou'][ignored])
    at = match['cand_time']
    fp[at] = np.where(best_in > best_ig, 1.,
                      np.where(best_in < best_ig, 0., fp[at]))
    return tp, fp


def _split_motion(gt: dict, annotations: Sequence[dict],
                  splits: List[tuple]) -> Optional[np.ndarray]:
    """(G,) motion IoU: given, computed, or None if no split needs it."""
    if gt['motion_ious'] is not None:
        return gt['motion_ious']
    if all(lo <= 0. and hi >= 1. for _, (lo, hi) in splits):
        return None  # motion IoU lies in [0, 1]: every GT is in every split
    if gt['instance_ids'] is None:
        raise ValueError('annotations need "instance_ids" (or '
                         '"motion_ious") for the motion-speed splits')
    names, video_index, frame_ids = _index_videos(annotations)
    _check_tracked_videos(gt['instance_ids'], gt['frame'], names, video_index)
    _check_one_box_per_track(gt['instance_ids'], gt['frame'], annotations)
    return _motion_iou_flat(gt['bboxes'], gt['instance_ids'], gt['frame'],
                            video_index, frame_ids, MOTION_WINDOW)


def _check_speed_ranges(
        speed_ranges: Optional[Union[dict, Sequence]]) -> List[tuple]:
    """Normalise ``speed_ranges`` to ``[(name, (lo, hi)), ...]``."""
    if speed_ranges is None:
        return list(DEFAULT_SPEED_RANGES)
    items = list(speed_ranges.items()) if isinstance(
        speed_ranges, dict) else list(speed_ranges)
    if not items:
        raise ValueError('speed_ranges must not be empty')
    checked = []
    for item in items:
        try:
            name, (lo, hi) = item
            lo, hi = float(lo), float(hi)
        except (TypeError, ValueError):
            raise ValueError('speed_ranges must map names to (lo, hi), got '
                             f'{item!r}') from None
        if not isinstance(name, str) or not lo <= hi:
            raise ValueError(f'speed_ranges entry {item!r} needs a str name '
                             'and lo <= hi')
        checked.append((name, (lo, hi)))
    names = [name for name, _ in checked]
    if len(set(names)) != len(names):
        raise ValueError(f'speed_ranges names must be unique, got {names}')
    return checked


def _resolve_classes(num_classes: Optional[int],
                     class_names: Optional[Sequence[str]], det: dict, gt: dict,
                     det_results: Sequence[dict],
                     annotations: Sequence[dict]) -> Tuple[int, List[str]]:
    """Number and names of the classes; checks the labels, naming the
    frame (of ``det_results`` or ``annotations``) of the first label out
    of range."""
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if num_classes is not None and num_classes != len(class_names):
            raise ValueError(f'num_classes={num_classes} but '
                             f'{len(class_names)} class_names given')
        num_classes = len(class_names)
    if num_classes is None:
        num_classes = int(
            max(det['labels'].max(initial=-1),
                gt['labels'].max(initial=-1))) + 1
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    for what, flat, frames in (('det_results', det, det_results),
                               ('annotations', gt, annotations)):
        labels = flat['labels']
        outside = (labels < 0) | (labels >= num_classes)
        if outside.any():
            _check_rows(
                outside, labels, flat['frame'], frames, what, 'labels',
                f'is outside [0, {num_classes}), where labels must lie '
                f'(they span [{labels.min()}, {labels.max()}])')
    return num_classes, class_names


def eval_vid_map(det_results: Sequence[dict],
                 annotations: Sequence[dict],
                 num_classes: Optional[int] = None,
                 class_names: Optional[Sequence[str]] = None,
                 speed_ranges: Optional[Union[dict, Sequence]] = None,
                 logger: Optional[Union[MMLogger, str]] = None) -> dict:
    """Official ImageNet VID mAP, overall and per motion speed.

    See the module docstring for the protocol.

    Args:
        det_results (Sequence[dict]): One dict per frame: ``bboxes`` (R, 4)
            ``(x1, y1, x2, y2)``, ``scores`` (R,), ``labels`` (R,) in
            ``[0, C)``. Arrays or tensors.
        annotations (Sequence[dict]): One dict per frame, aligned with
            ``det_results``: ``bboxes`` (G_f, 4), ``labels`` (G_f,),
            ``instance_ids`` (G_f,), ``video_id``, ``frame_id``; optional
            ``ignore_flags`` (G_f,) bool and ``motion_ious`` (G_f,)
            (precomputed, then ``instance_ids`` are not needed).
        num_classes (int, optional): C. Defaults to ``len(class_names)``,
            else one more than the largest label.
        class_names (Sequence[str], optional): Names for the table.
            Defaults to None (the labels ``'0'``, ``'1'``, ...).
        speed_ranges (dict | Sequence, optional): ``{name: (lo, hi)}`` or
            ``[(name, (lo, hi)), ...]``, both ends inclusive. Defaults to
            ``None``: ``all (0, 1)``, ``fast (0, 0.7)``,
            ``medium (0.7, 0.9)``, ``slow (0.9, 1)``.
        logger (MMLogger | str, optional): Where to print the per-class
            table (``'silent'``: nowhere; ``None``: stdout, as mmdet's
            ``eval_map``). Defaults to None.

    Returns:
        dict: For each split ``s`` (key suffix ``_s``, none for ``all``):
        ``mAP[_s]`` float, ``AP[_s]`` (C,) per-class AP (``nan`` without
        positives), ``num_pos[_s]`` (C,) positives. Also ``class_names``,
        ``speed_ranges`` (list of ``(name, (lo, hi))``), ``num_gts`` (C,)
        all GTs and ``num_dets`` (C,) detections per class.

    Raises:
        ValueError: On malformed input, naming the frame (its index and
            the ``img_id`` / ``video_id`` / ``frame_id`` it has, as
            ``frames_to_eval_inputs`` of ``vid_frames`` gives them): arrays
            of the wrong shape, non-finite boxes or scores, reversed GT
            boxes (x2 < x1 or y2 < y1), non-integer labels or labels
            outside ``[0, C)``, ``motion_ious`` outside [0, 1], or, where
            the motion IoU is computed, a ``frame_id`` that is not an
            integer (bools are not), a repeated frame, a non-integer
            ``instance_id`` or a track with two boxes in one frame; and
            lists of other lengths or frame orders
            (:func:`check_frames_aligned`).
    """
    check_frames_aligned(det_results, annotations)
    splits = _check_speed_ranges(speed_ranges)
    det = _flatten_detections(det_results)
    gt = _flatten_annotations(annotations)
    num_classes, class_names = _resolve_classes(num_classes, class_names, det,
                                                gt, det_results, annotations)
    # class-major, descending score: the AP ranking and, per frame and
    # class, the devkit's processing order
    rank = rank_detections(det['labels'], det['scores'], num_classes)
    time = np.empty(len(rank), dtype=np.int64)
    time[rank] = np.arange(len(rank))
    class_starts = np.searchsorted(det['labels'][rank],
                                   np.arange(num_classes + 1))
    frame_ranked = det['frame'][rank]
    match = _match(det, gt, time, num_classes)
    motion = _split_motion(gt, annotations, splits)
    ignore_flags = gt['ignore_flags']
    if ignore_flags is None:
        ignore_flags = np.zeros(len(gt['labels']), dtype=bool)
    results = dict(
        class_names=class_names,
        speed_ranges=splits,
        num_gts=np.bincount(gt['labels'], minlength=num_classes),
        num_dets=np.diff(class_starts))
    for name, (lo, hi) in splits:
        ignored = ignore_flags.copy()
        if motion is not None:
            ignored |= (motion < lo) | (motion > hi)
        tp, fp = _split_tp_fp(match, frame_ranked, gt['frame'], ignored,
                              ignore_flags, len(annotations))
        num_pos = np.bincount(gt['labels'][~ignored], minlength=num_classes)
        aps = np.array([
            vid_average_precision(tp[start:end], fp[start:end], npos)
            for start, end, npos in zip(class_starts[:-1], class_starts[1:],
                                        num_pos)
        ])
        results[split_key('AP', name)] = aps
        results[split_key('num_pos', name)] = num_pos
        results[split_key('mAP', name)] = float(
            aps[num_pos > 0].mean()) if (num_pos > 0).any() else float('nan')
    if logger != 'silent':
        print_log('\n' + format_vid_table(results), logger=logger)
    return results


def format_vid_table(results: dict) -> str:
    """Per-class AP table of an :func:`eval_vid_map` result.

    Args:
        results (dict): Output of :func:`eval_vid_map`.

    Returns:
        str: An ASCII table, one row per class and a final ``mAP`` row.
    """
    splits = [name for name, _ in results['speed_ranges']]
    header = ['class', 'gts', 'dets'] + [split_key('AP', s) for s in splits]
    rows = [header]
    for c, name in enumerate(results['class_names']):
        row = [name, str(results['num_gts'][c]), str(results['num_dets'][c])]
        row += [f'{results[split_key("AP", s)][c]:.4f}' for s in splits]
        rows.append(row)
    rows.append(['mAP', '', ''] +
                [f'{results[split_key("mAP", s)]:.4f}' for s in splits])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def fmt(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        return '| ' + ' | '.join(cells) + ' |'

    lines = [rule, fmt(rows[0]), rule]
    lines += [fmt(row) for row in rows[1:-1]]
    lines += [rule, fmt(rows[-1]), rule]
    return '\n'.join(lines)
