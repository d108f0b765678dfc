# Copyright (c) memvid_mm contributors. All rights reserved.
"""Per-frame records shared by the VID metric, the dump and eval_vid.py.

A *frame record* is a dict with

* ``img_id`` (int), ``video_id``, ``frame_id`` (int), ``img_path``;
* predictions in the original image: ``bboxes`` (R, 4) float32
  ``(x1, y1, x2, y2)``, ``scores`` (R,) float32, ``labels`` (R,) int64;
* optionally the original-scale ground truth ``gt_bboxes`` (G, 4) float64,
  ``gt_labels`` (G,), ``gt_instance_ids`` (G,) int64, ``gt_ignore_flags``
  (G,) bool, and ``degradation`` (str or None);
* optionally ``gt_motion_ious`` (G,) float64, the motion IoU of each GT
  computed on the whole video (:func:`select_degradation` sets it, so a
  subset of frames keeps the speed of every object).

``DumpVIDResults`` pickles records without the ground truth, which is
exactly the dump format of docs/design.md, plus two optional keys that
every entry shares (one object, pickled once): ``classes``, the class
names in label order (:func:`dump_class_names`), and ``ann_file``,
``{'path': str, 'sha256': str}`` of the annotation file the dump was made
with (:func:`dump_ann_file`).
"""
import contextlib
import hashlib
import io
import os.path as osp
import re
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine import fileio
from mmengine.logging import MMLogger, print_log
from numpy.typing import DTypeLike

from .coco_ap import coco_box_ap50
from .vid_eval import compute_motion_iou, eval_vid_map, format_vid_table

PRED_KEYS = ('bboxes', 'scores', 'labels')
GT_KEYS = ('gt_bboxes', 'gt_labels', 'gt_instance_ids', 'gt_ignore_flags')
#: ``degradation`` value of the clean frames (SynthVID).
CLEAN_DEGRADATION = 'none'
#: pycocotools ``maxDets`` of mmdet's CocoMetric (``proposal_nums``).
COCO_MAX_DETS = (100, 300, 1000)


def to_numpy(value: Any, dtype: DTypeLike) -> np.ndarray:
    """Convert a tensor / array / list to a numpy array of ``dtype``.

    Args:
        value (Any): A tensor (detached and copied to the host), an array
            or anything ``np.asarray`` takes.
        dtype (DTypeLike): The array's dtype.

    Returns:
        np.ndarray: ``value`` as an array of ``dtype``.
    """
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def instances_to_gt(instances: Sequence[dict]) -> Dict[str, np.ndarray]:
    """Arrays of the original-scale GT of one frame.

    Args:
        instances (Sequence[dict]): mmdet's parsed annotations (the
            ``instances`` metainfo of a data sample), each with ``bbox``
            ``[x1, y1, x2, y2]``, ``bbox_label``, ``instance_id`` and
            ``ignore_flag``.

    Returns:
        dict[str, np.ndarray]: ``gt_bboxes`` (G, 4), ``gt_labels`` (G,),
        ``gt_instance_ids`` (G,) (-1 when absent: fine for one-frame
        videos such as DET images; the speed splits reject a longer video
        whose GTs all lack one) and ``gt_ignore_flags`` (G,) bool.
    """
    if instances is None:
        raise ValueError('the data sample has no "instances" metainfo (the '
                         'original-scale GT); keep "instances" in the '
                         'meta_keys of PackTrackInputs')
    for i, inst in enumerate(instances):
        if 'bbox' not in inst or 'bbox_label' not in inst:
            raise ValueError(f'instances[{i}] needs "bbox" and "bbox_label",'
                             f' got keys {sorted(inst)}')
    return dict(
        gt_bboxes=np.array([inst['bbox'] for inst in instances],
                           dtype=np.float64).reshape(-1, 4),
        gt_labels=np.array([inst['bbox_label'] for inst in instances],
                           dtype=np.int64),
        gt_instance_ids=np.array(
            [inst.get('instance_id', -1) for inst in instances],
            dtype=np.int64),
        gt_ignore_flags=np.array(
            [bool(inst.get('ignore_flag', 0)) for inst in instances],
            dtype=bool))


def _values_equal(a: Any, b: Any) -> bool:
    """Equality of record values (arrays compared element-wise)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.dtype == b.dtype and np.array_equal(a, b))
    return a == b


def frames_equal(a: dict, b: dict) -> bool:
    """Whether two frame records have the same keys and content.

    Args:
        a (dict): A frame record.
        b (dict): Another frame record.

    Returns:
        bool: True when the keys are the same and every value is equal
        (arrays: same dtype and element-wise equal).
    """
    return a.keys() == b.keys() and all(
        _values_equal(a[key], b[key]) for key in a)


def merge_frame_records(records: Sequence[dict]) -> List[dict]:
    """Sort records by ``img_id`` and keep each frame once.

    Under DDP a frame may arrive from more than one rank (or twice from one
    rank); identical copies are merged, different ones are an error.

    Args:
        records (Sequence[dict]): Frame records, any order.

    Returns:
        list[dict]: One record per ``img_id``, sorted by ``img_id``.
    """
    by_id = {}
    for record in records:
        img_id = record['img_id']
        if img_id in by_id:
            if not frames_equal(by_id[img_id], record):
                raise ValueError(f'img_id {img_id} was evaluated twice with '
                                 'different content (predictions or GT)')
            continue
        by_id[img_id] = record
    return [by_id[img_id] for img_id in sorted(by_id)]


def check_unique_frames(frames: Sequence[dict]) -> None:
    """Check that no two frame records share a ``(video_id, frame_id)``.

    Identical copies of a frame (same ``img_id``) must be merged first with
    :func:`merge_frame_records`.

    Args:
        frames (Sequence[dict]): Frame records.

    Raises:
        ValueError: Naming the video, the frame id and both ``img_id``s.
    """
    seen = {}
    for frame in frames:
        key = (frame['video_id'], frame['frame_id'])
        if key in seen:
            raise ValueError(
                f'video {key[0]} has two frame records with frame_id '
                f'{key[1]} (img_id {seen[key]} and {frame["img_id"]}); each '
                '(video_id, frame_id) must be one frame, evaluated once')
        seen[key] = frame['img_id']


def frames_to_eval_inputs(
        frames: Sequence[dict]) -> Tuple[List[dict], List[dict]]:
    """Split frame records into ``eval_vid_map``'s two lists.

    Args:
        frames (Sequence[dict]): Frame records with predictions and GT.

    Returns:
        tuple[list[dict], list[dict]]: ``det_results`` and ``annotations``.
    """
    det_results, annotations = [], []
    for frame in frames:
        # the ids name the frame in eval_vid_map's errors
        ids = {
            key: frame[key]
            for key in ('img_id', 'video_id', 'frame_id') if key in frame
        }
        det_results.append(dict({key: frame[key] for key in PRED_KEYS}, **ids))
        annotations.append(
            dict(
                bboxes=frame['gt_bboxes'],
                labels=frame['gt_labels'],
                instance_ids=frame['gt_instance_ids'],
                ignore_flags=frame['gt_ignore_flags'],
                **ids))
        if 'gt_motion_ious' in frame:
            annotations[-1]['motion_ious'] = frame['gt_motion_ious']
    return det_results, annotations


def select_degradation(frames: Sequence[dict], kind: str) -> List[dict]:
    """The frames of one degradation kind, each GT keeping its speed.

    The motion IoU of every GT is computed on all ``frames`` first (it
    looks 10 frames either way, mostly at frames of other kinds) and
    stored as ``gt_motion_ious`` in copies of the selected records, so
    ``mAP_fast`` / ``_medium`` / ``_slow`` of the subset use the speed the
    objects have in the whole video.

    Args:
        frames (Sequence[dict]): Frame records with GT and
            ``degradation``, every frame of the videos.
        kind (str): A ``degradation`` value, e.g. ``'blur'`` or
            ``'none'``.

    Returns:
        list[dict]: Shallow copies of the frames of that kind, with
        ``gt_motion_ious`` (G,).

    Raises:
        ValueError: If no frame has that degradation (the kinds present
            are named), or a video of several frames has a GT without a
            track (it would count as fast; see ``compute_motion_iou``'s
            ``check_tracks``).
    """
    _, annotations = frames_to_eval_inputs(frames)
    motion_ious = compute_motion_iou(annotations, check_tracks=True)
    selected = [
        dict(frame, gt_motion_ious=ious)
        for frame, ious in zip(frames, motion_ious)
        if frame.get('degradation') == kind
    ]
    if not selected:
        present = sorted({str(f.get('degradation')) for f in frames})
        raise ValueError(f'no frame has degradation {kind!r}; the frames '
                         f'have {present}')
    return selected


def coco_ap50(frames: Sequence[dict],
              num_classes: int,
              max_dets: Sequence[int] = COCO_MAX_DETS,
              backend: str = 'numpy') -> float:
    """COCO-style bbox AP at IoU 0.5 on the same frames.

    This is pycocotools' AP at IoU 0.5, area ``all`` and ``max(max_dets)``
    detections per image and category (COCOeval sorts ``maxDets``): what
    mmdet's ``CocoMetric`` / ``CocoVideoMetric`` report as ``bbox_mAP_50``
    with their default ``proposal_nums=(100, 300, 1000)``. Boxes become
    COCO ``[x, y, w, h]`` with ``w = x2 - x1`` (mmdet's exclusive
    convention) and ``gt_ignore_flags`` become ``iscrowd``.

    Args:
        frames (Sequence[dict]): Frame records with predictions and GT, in
            ``img_id`` order (pycocotools ranks ties by image id).
        num_classes (int): C; category ids are ``label + 1``.
        max_dets (Sequence[int]): pycocotools ``maxDets`` (3 values, the
            largest is used). Defaults to (100, 300, 1000).
        backend (str): ``'numpy'`` (:func:`coco_box_ap50`, vectorised, the
            same number) or ``'pycocotools'`` (``COCOeval`` itself: minutes
            and tens of GB on the full ImageNet VID val). Defaults to
            ``'numpy'``.

    Returns:
        float: AP50 in [0, 1]; ``nan`` when there is no (non-crowd) GT box.
    """
    if backend == 'numpy':
        det_results, annotations = frames_to_eval_inputs(frames)
        # COCOeval sorts maxDets and keeps the largest
        return coco_box_ap50(det_results, annotations, num_classes,
                             max(max_dets))
    if backend != 'pycocotools':
        raise ValueError("backend must be 'numpy' or 'pycocotools', got "
                         f'{backend!r}')
    return _coco_ap50_pycocotools(frames, num_classes, max_dets)


def _coco_lists(frames: Sequence[dict]) -> Tuple[list, list, list]:
    """COCO ``images``, GT ``annotations`` and result dicts of frames."""
    images, gts, dets = [], [], []
    for frame in frames:
        img_id = int(frame['img_id'])
        images.append(dict(id=img_id))
        for box, label, crowd in zip(frame['gt_bboxes'], frame['gt_labels'],
                                     frame['gt_ignore_flags']):
            x1, y1, x2, y2 = map(float, box)
            gts.append(
                dict(
                    id=len(gts) + 1,  # pycocotools needs ids > 0
                    image_id=img_id,
                    category_id=int(label) + 1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=(x2 - x1) * (y2 - y1),
                    iscrowd=int(crowd)))
        for box, score, label in zip(frame['bboxes'], frame['scores'],
                                     frame['labels']):
            x1, y1, x2, y2 = map(float, box)
            dets.append(
                dict(
                    image_id=img_id,
                    category_id=int(label) + 1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    score=float(score)))
    return images, gts, dets


def _coco_ap50_pycocotools(frames: Sequence[dict], num_classes: int,
                           max_dets: Sequence[int]) -> float:
    """:func:`coco_ap50` with pycocotools' ``COCOeval``."""
    from mmdet.datasets.api_wrappers import COCO, COCOeval

    images, gts, dets = _coco_lists(frames)
    if all(gt['iscrowd'] for gt in gts):
        return float('nan')
    if not dets:
        return 0.
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools chatter
        coco_gt = COCO()
        coco_gt.dataset = dict(
            images=images,
            annotations=gts,
            categories=[dict(id=c + 1) for c in range(num_classes)])
        coco_gt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(dets), 'bbox')
        coco_eval.params.catIds = list(range(1, num_classes + 1))
        coco_eval.params.imgIds = [image['id'] for image in images]
        coco_eval.params.maxDets = list(max_dets)
        coco_eval.evaluate()
        coco_eval.accumulate()
    # precision: [T, R, K, A, M]; IoU 0.5 is T=0, area 'all' is A=0
    precision = coco_eval.eval['precision'][0, :, :, 0, -1]
    valid = precision > -1
    return float(precision[valid].mean()) if valid.any() else float('nan')


def check_degradation_values(frames: Sequence[dict],
                             source: Optional[str] = None) -> bool:
    """Check that every frame or none carries a ``degradation`` value.

    A frame whose ``degradation`` is absent or None carries none. The rule
    of the test-time metric (:func:`degradation_subsets`), which the
    offline tools apply to the annotation file too: a frame without a
    value must not count as clean (nor as degraded).

    Args:
        frames (Sequence[dict]): Frame records (or GT frames), each with
            ``img_id`` and optionally ``file_name``.
        source (str, optional): What the frames come from (e.g. the
            annotation file), put in front of the message. Defaults to
            None.

    Returns:
        bool: True if every frame carries a value, False if none does.

    Raises:
        ValueError: If only some frames carry one; names how many lack it
            and the first few of them.
    """
    lacking = [frame for frame in frames if frame.get('degradation') is None]
    if not lacking or len(lacking) == len(frames):
        return not lacking
    examples = ', '.join(
        f'img_id {frame.get("img_id")!r}' +
        (f' ({frame["file_name"]})' if 'file_name' in frame else '')
        for frame in lacking[:3])
    prefix = '' if source is None else f'{source}: '
    raise ValueError(f'{prefix}{len(lacking)} of {len(frames)} frames carry '
                     f'no degradation value, e.g. {examples}; all or none '
                     'must')


def degradation_subsets(frames: Sequence[dict]) -> Dict[str, List[dict]]:
    """Split frames into ``clean`` / ``degraded`` by their ``degradation``.

    Args:
        frames (Sequence[dict]): Frame records.

    Returns:
        dict[str, list[dict]]: ``{}`` when no frame carries a degradation,
        else ``clean`` (``degradation == 'none'``) and ``degraded`` (any
        other value).

    Raises:
        ValueError: If only some frames carry a degradation value (see
            :func:`check_degradation_values`).
    """
    if not check_degradation_values(frames):
        return {}
    values = [frame['degradation'] for frame in frames]
    return dict(
        clean=[f for f, v in zip(frames, values) if v == CLEAN_DEGRADATION],
        degraded=[f for f, v in zip(frames, values) if v != CLEAN_DEGRADATION])


def has_degradation(frames: Sequence[dict]) -> bool:
    """Whether some frame carries a degradation other than ``'none'``.

    Then ``mAP_clean`` and ``mAP_degraded`` are worth reporting (SynthVID),
    as ``tools/test.py`` does with
    ``ImagenetVIDMetric(degradation_key='degradation')``.

    Args:
        frames (Sequence[dict]): Frame records.

    Returns:
        bool: True if any ``degradation`` differs from ``'none'``.
    """
    return any(
        frame.get('degradation', CLEAN_DEGRADATION) != CLEAN_DEGRADATION
        for frame in frames)


def evaluate_vid_frames(
        frames: Sequence[dict],
        class_names: Optional[Sequence[str]] = None,
        speed_ranges: Optional[dict] = None,
        with_coco_ap50: bool = True,
        coco_backend: str = 'numpy',
        with_degradation: bool = False,
        logger: Union[MMLogger, str] = 'silent') -> Tuple[dict, str]:
    """Score frame records: VID mAP per speed, COCO AP50, degradations.

    Args:
        frames (Sequence[dict]): Frame records with predictions and GT,
            each frame once (a repeated ``(video_id, frame_id)`` raises
            ``ValueError``; merge copies with :func:`merge_frame_records`).
        class_names (Sequence[str], optional): Class names; label ``i`` is
            ``class_names[i]``. Defaults to None (inferred from labels).
        speed_ranges (dict, optional): See :func:`eval_vid_map`. Defaults
            to None.
        with_coco_ap50 (bool): Also compute ``bbox_mAP_50``. Defaults to
            True.
        coco_backend (str): ``backend`` of :func:`coco_ap50`. Defaults to
            ``'numpy'``.
        with_degradation (bool): Also compute ``mAP_clean`` and
            ``mAP_degraded`` when the frames carry a ``degradation``.
            Defaults to False.
        logger (MMLogger | str): Where to print the table. Defaults to
            ``'silent'``.

    Returns:
        tuple[dict, str]: The scalar metrics (``mAP``, ``mAP_<split>``,
        optionally ``bbox_mAP_50``, ``mAP_clean``, ``mAP_degraded``) and
        the printable report (per-class table and the extra lines).
    """
    if not frames:
        raise ValueError('no frames to evaluate')
    check_unique_frames(frames)
    det_results, annotations = frames_to_eval_inputs(frames)
    num_classes = None if class_names is None else len(class_names)
    results = eval_vid_map(
        det_results,
        annotations,
        num_classes=num_classes,
        class_names=class_names,
        speed_ranges=speed_ranges,
        logger='silent')
    metrics = {
        key: value
        for key, value in results.items() if key.startswith('mAP')
    }
    num_classes = len(results['class_names'])
    if with_coco_ap50:
        metrics['bbox_mAP_50'] = coco_ap50(
            frames, num_classes, backend=coco_backend)
    if with_degradation:
        subsets = degradation_subsets(frames)
        if not subsets:
            warnings.warn('with_degradation is set but no frame carries a '
                          'degradation value; mAP_clean/mAP_degraded skipped')
        for name, subset in subsets.items():
            metrics[f'mAP_{name}'] = _subset_map(subset, num_classes)
    extra = [
        f'{key}: {value:.4f}' for key, value in metrics.items()
        if key not in results
    ]
    report = '\n'.join([format_vid_table(results)] + extra)
    print_log('\n' + report, logger=logger)
    return metrics, report


def _subset_map(frames: Sequence[dict], num_classes: int) -> float:
    """mAP (split ``all``) on a subset of frames; ``nan`` if empty."""
    if not frames:
        return float('nan')
    det_results, annotations = frames_to_eval_inputs(frames)
    return eval_vid_map(
        det_results,
        annotations,
        num_classes=num_classes,
        speed_ranges=dict(all=(0., 1.)),
        logger='silent')['mAP']


def check_dump_frames(entries: Any) -> None:
    """Validate a ``DumpVIDResults`` pickle (list of frame dicts).

    Args:
        entries (Any): The unpickled object.

    Raises:
        TypeError: ``entries`` is not a list of dicts.
        ValueError: An entry misses a key (or is a whole video sample of
            mmdet's ``DumpDetResults``), has malformed arrays, or an
            ``img_id`` appears twice.
    """
    if not isinstance(entries, (list, tuple)):
        raise TypeError('the dump must be a list of per-frame dicts, got '
                        f'{type(entries).__name__}')
    seen = set()
    required = ('img_id', 'video_id', 'frame_id') + PRED_KEYS
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise TypeError(f'dump entry {i} must be a dict, got '
                            f'{type(entry).__name__}')
        if 'video_data_samples' in entry:
            raise ValueError(
                f'dump entry {i} is a whole video sample, as mmdet\'s '
                'DumpDetResults writes them (and cuts the list to the number '
                'of videos): dump per-frame results with memvid_mm\'s '
                'tools/test.py --out, or add dict(type="DumpVIDResults", '
                'out_file_path=...) to test_evaluator')
        missing = [key for key in required if key not in entry]
        if missing:
            raise ValueError(f'dump entry {i} misses {missing}')
        where = f'dump entry {i} (img_id={entry["img_id"]!r})'
        if entry['img_id'] in seen:
            raise ValueError(f'{where}: img_id appears more than once')
        seen.add(entry['img_id'])
        try:
            bboxes = to_numpy(entry['bboxes'], np.float64)
            scores = to_numpy(entry['scores'], np.float64)
            labels = to_numpy(entry['labels'], np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f'{where}: non-numeric predictions ({e})')
        if bboxes.size == 0:
            bboxes = bboxes.reshape(0, 4)
        if bboxes.ndim != 2 or bboxes.shape[1] != 4:
            raise ValueError(f'{where}: bboxes must be (R, 4), got '
                             f'{bboxes.shape}')
        if scores.shape != (len(bboxes), ) or labels.shape != scores.shape:
            raise ValueError(f'{where}: scores {scores.shape} and labels '
                             f'{labels.shape} must be ({len(bboxes)},)')
        if not (np.isfinite(bboxes).all() and np.isfinite(scores).all()):
            raise ValueError(f'{where}: non-finite bboxes or scores')
        reversed_rows = np.flatnonzero((bboxes[:, 2] < bboxes[:, 0])
                                       | (bboxes[:, 3] < bboxes[:, 1]))
        if reversed_rows.size:
            row = reversed_rows[0]
            raise ValueError(
                f'{where}: {reversed_rows.size} bboxes have x2 < x1 or '
                f'y2 < y1, e.g. row {row} {bboxes[row].tolist()}; bboxes '
                'must be (x1, y1, x2, y2)')
        if np.any(labels != np.round(labels)):
            raise ValueError(f'{where}: labels must be integers')


def dump_class_names(entries: Sequence[dict]) -> Optional[List[str]]:
    """The class names a ``DumpVIDResults`` pickle was written with.

    Args:
        entries (Sequence[dict]): Validated dump entries.

    Returns:
        list[str] | None: The ``classes`` of the entries in label order;
        None for a dump without them (older dumps).

    Raises:
        ValueError: If only some entries carry ``classes``, the entries
            disagree, or it is not a sequence of str.
    """
    values = [entry.get('classes') for entry in entries]
    present = [value for value in values if value is not None]
    if not present:
        return None
    first = present[0]
    if (isinstance(first, str) or not isinstance(first, (list, tuple))
            or not all(isinstance(name, str) for name in first)):
        raise ValueError('the dump\'s "classes" must be a sequence of class '
                         f'names, got {first!r:.200}')
    for i, value in enumerate(values):
        if value is None or list(value) != list(first):
            raise ValueError(
                f'dump entry {i} (img_id={entries[i]["img_id"]!r}) has '
                f'classes {value!r:.200}, but another entry has '
                f'{first!r:.200}; every entry must carry the same names')
    return list(first)


def file_sha256(path: str) -> str:
    """The SHA-256 hex digest of a file's bytes.

    Args:
        path (str): Path (or URI, read through mmengine's file backends).

    Returns:
        str: 64 lowercase hex digits.
    """
    digest = hashlib.sha256()
    with fileio.get_local_path(path) as local_path:
        with open(local_path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                digest.update(chunk)
    return digest.hexdigest()


def ann_file_record(path: str) -> dict:
    """``{'path': str, 'sha256': str}``: the record of a tested annotation
    file that dumps and metrics files carry (the SHA-256 read now)."""
    return dict(path=path, sha256=file_sha256(path))


def is_ann_file_record(value: Any) -> bool:
    """Whether ``value`` is a dict with a ``path`` str and a ``sha256`` of
    64 lowercase hex digits (:func:`ann_file_record`)."""
    return (isinstance(value, dict) and isinstance(value.get('path'), str)
            and isinstance(value.get('sha256'), str)
            and re.fullmatch('[0-9a-f]{64}', value['sha256']) is not None)


def dump_ann_file(entries: Sequence[dict]) -> Optional[dict]:
    """The annotation file a ``DumpVIDResults`` pickle was made with.

    Args:
        entries (Sequence[dict]): Validated dump entries.

    Returns:
        dict | None: ``{'path': str, 'sha256': str}`` (the file's path as
        the test saw it and the SHA-256 of its bytes); None for a dump
        that records none (older dumps, or ``DumpVIDResults`` without
        ``ann_file``).

    Raises:
        ValueError: If only some entries carry ``ann_file``, the entries
            disagree, or it is not such a dict.
    """
    values = [entry.get('ann_file') for entry in entries]
    present = [value for value in values if value is not None]
    if not present:
        return None
    first = present[0]
    if not is_ann_file_record(first):
        raise ValueError('the dump\'s "ann_file" must be a dict with the '
                         'annotation file\'s "path" and "sha256" (64 hex '
                         f'digits), got {first!r:.200}')
    for i, value in enumerate(values):
        if value != first:
            raise ValueError(
                f'dump entry {i} (img_id={entries[i]["img_id"]!r}) has '
                f'ann_file {value!r:.200}, but another entry has '
                f'{first!r:.200}; every entry must carry the same record')
    return dict(path=first['path'], sha256=first['sha256'])


def _slashed(path: str) -> str:
    """``path`` normalised, with ``/`` separators and a leading ``/``."""
    return '/' + osp.normpath(path).replace('\\', '/')


def check_same_image(dump_frame: dict, gt_frame: dict) -> None:
    """Error if a dumped frame's ``img_path`` is not the GT's ``file_name``.

    Frames are joined by ``img_id``; a dump of another annotation file
    whose ids happen to line up would otherwise be scored against the
    wrong boxes. ``img_path`` (data root + prefix + ``file_name``) must
    end with ``file_name``; frames without either are not compared. Only
    the names are compared: another data set with the same file names
    passes, which the dump's ``ann_file`` record (:func:`dump_ann_file`)
    catches.

    Args:
        dump_frame (dict): A validated dump entry.
        gt_frame (dict): Its GT frame, optionally with ``file_name``.

    Raises:
        ValueError: Naming the ``img_id`` and both names.
    """
    img_path, file_name = dump_frame.get('img_path'), gt_frame.get('file_name')
    if not (isinstance(img_path, str) and isinstance(file_name, str)):
        return
    if not _slashed(img_path).endswith(_slashed(file_name)):
        raise ValueError(
            f'img_id {dump_frame["img_id"]}: dumped img_path {img_path!r} '
            f'is not the annotation file\'s {file_name!r}; was the dump '
            'made with another annotation file?')


def attach_ground_truth(dump_frames: Sequence[dict],
                        gt_frames: Sequence[dict]) -> List[dict]:
    """Join dumped predictions with the GT of the annotation file.

    Args:
        dump_frames (Sequence[dict]): Validated dump entries.
        gt_frames (Sequence[dict]): One dict per annotated frame:
            ``img_id``, ``video_id``, ``frame_id``, the ``gt_*`` arrays
            and optionally ``degradation`` (copied to the record).

    Returns:
        list[dict]: Frame records (predictions + GT) sorted by ``img_id``.

    Raises:
        ValueError: A dumped ``img_id`` is not in the annotation file, a
            frame of the file is missing from the dump, ``video_id`` /
            ``frame_id`` disagree, or a dumped ``img_path`` does not end
            with the frame's ``file_name`` (when both are given).
    """
    gt_by_id = {gt['img_id']: gt for gt in gt_frames}
    unknown = [f['img_id'] for f in dump_frames if f['img_id'] not in gt_by_id]
    if unknown:
        raise ValueError(f'{len(unknown)} dumped frames are not in the '
                         f'annotation file, e.g. img_id {unknown[:5]}')
    dumped = {f['img_id'] for f in dump_frames}
    missing = sorted(set(gt_by_id) - dumped)
    if missing:
        raise ValueError(f'{len(missing)} frames of the annotation file are '
                         f'missing from the dump, e.g. img_id {missing[:5]}')
    records = []
    for frame in dump_frames:
        gt = gt_by_id[frame['img_id']]
        for key in ('video_id', 'frame_id'):
            if frame[key] != gt[key]:
                raise ValueError(f'img_id {frame["img_id"]}: dumped {key} '
                                 f'{frame[key]!r} != {gt[key]!r} in the '
                                 'annotation file')
        check_same_image(frame, gt)
        record = dict(
            img_id=frame['img_id'],
            video_id=frame['video_id'],
            frame_id=frame['frame_id'],
            img_path=frame.get('img_path'),
            bboxes=to_numpy(frame['bboxes'], np.float32).reshape(-1, 4),
            scores=to_numpy(frame['scores'], np.float32),
            labels=to_numpy(frame['labels'], np.int64))
        record.update({key: gt[key] for key in GT_KEYS})
        if 'degradation' in gt:
            record['degradation'] = gt['degradation']
        records.append(record)
    return sorted(records, key=lambda r: r['img_id'])
