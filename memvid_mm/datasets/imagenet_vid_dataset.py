# Copyright (c) memvid_mm contributors. All rights reserved.
"""ImageNet VID (and SynthVID) as an mmdet 3.3 video dataset."""
import contextlib
import json
import logging
import math
import os.path as osp
import re
from collections import Counter
from typing import (Any, Callable, Container, Dict, Hashable, Iterable,
                    Iterator, List, Optional, Sequence, Tuple, Union)

import numpy as np
from mmdet.datasets import BaseVideoDataset
from mmdet.registry import DATASETS
from mmengine import fileio
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.logging import print_log

from ..evaluation.functional import check_degradation_values
from ..utils.argument_checks import is_finite_number, is_int
from .class_tables import IMAGENET_VID_CLASSES

# Single images (DET) without ``video_id`` become one-frame videos with ids
# above this, as in mmdet's ``BaseVideoDataset``, and above every real
# ``video_id`` of the file (see :func:`group_frames`).
_SINGLE_VIDEO_ID = 100000
_IMAGE_KEYS = ('id', 'file_name', 'height', 'width')
_ANN_KEYS = ('id', 'image_id', 'category_id', 'bbox')
# Flags are JSON true/false (mmtrack's converters) or 0/1 (COCO style).
_IMAGE_FLAGS = ('is_vid_train_frame', )
_ANN_FLAGS = ('iscrowd', 'ignore', 'occluded', 'generated')
# How far (px) a box may reach past the image border before it is counted
# as extending beyond it: ILSVRC boxes may touch the border (x2 == width).
_OUTSIDE_TOLERANCE = 1


def load_json_object(path: str, name: str) -> dict:
    """Read a JSON file that must hold an object, naming it in errors.

    Args:
        path (str): Local path of the file.
        name (str): The file as the messages name it (e.g.
            ``'annotation file data/vid.json'``).

    Returns:
        dict: The parsed object.

    Raises:
        ValueError: If the file is not valid UTF-8 JSON, or holds another
            JSON value than an object.
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'malformed JSON in {name}: {e}') from e
    if not isinstance(data, dict):
        raise ValueError(f'{name} must hold a JSON object, got '
                         f'{type(data).__name__}')
    return data


def load_coco_vid(ann_file: str, backend_args: Optional[dict] = None) -> dict:
    """Read a CocoVID JSON file and check its top-level structure.

    Args:
        ann_file (str): Path (or URI) of the file.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.

    Returns:
        dict: The parsed file; ``images``, ``annotations`` and
        ``categories`` are lists, and so is ``videos`` where it is given
        (a DET file has none).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not valid JSON, a top-level list is missing or
            ``videos`` is there but no list.
    """
    with fileio.get_local_path(ann_file, backend_args=backend_args) as path:
        data = load_json_object(path, f'annotation file {ann_file}')
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(data.get(key), list):
            raise ValueError(f'annotation file {ann_file} has no list '
                             f"'{key}'")
    if 'videos' in data and not isinstance(data['videos'], list):
        raise ValueError(
            f"annotation file {ann_file}: 'videos' is "
            f"{json.dumps(data['videos'])[:50]}, not a list (leave it out "
            'in a file of single images)')
    return data


def _check_entries(entries: List[dict],
                   keys: Sequence[str],
                   what: str,
                   ann_file: str,
                   int_ids: bool = False) -> Dict[Any, dict]:
    """Index entries by ``id``; error on missing keys, ids that are not
    an int or a str (only an int with ``int_ids``) or repeated ids."""
    by_id: Dict[Any, dict] = {}
    for entry in entries:
        missing = [
            k for k in keys if not isinstance(entry, dict) or k not in entry
        ]
        if missing:
            raise ValueError(f'{ann_file}: {what} entry {entry!r:.200} lacks '
                             f'{missing}')
        if int_ids and not is_int(entry['id']):
            raise ValueError(f'{ann_file}: {what} entry {entry!r:.200} has '
                             f"id {entry['id']!r:.50}; expected an int (the "
                             'evaluation numbers the frames by it)')
        if not _is_id(entry['id']):
            raise ValueError(f'{ann_file}: {what} entry {entry!r:.200} has '
                             f"id {entry['id']!r:.50}; expected an int or a "
                             'str')
        if entry['id'] in by_id:
            raise ValueError(f"{ann_file}: {what} id {entry['id']} repeats")
        by_id[entry['id']] = entry
    return by_id


def _is_id(value: Any) -> bool:
    """Whether ``value`` can be a CocoVID id: an int (not a bool) or a str."""
    return is_int(value) or isinstance(value, str)


def _is_flag(value: Any) -> bool:
    """Whether ``value`` is a CocoVID flag: a bool, or the int 0 or 1."""
    return isinstance(value, bool) or (is_int(value) and value in (0, 1))


def _repeats(entries: Iterable[dict],
             key: Callable[[dict], Hashable]) -> Iterator[tuple]:
    """``(first id, id, key)`` for each entry whose key an earlier one had.

    Args:
        entries (Iterable[dict]): Entries with an ``id``.
        key (Callable[[dict], Hashable]): What must not repeat.
    """
    first_id: Dict[Hashable, Any] = {}
    for entry in entries:
        k = key(entry)
        if k in first_id:
            yield first_id[k], entry['id'], k
        else:
            first_id[k] = entry['id']


def _check_unique(entries: Iterable[dict], key: Callable[[dict], Hashable],
                  what: str, ann_file: str) -> None:
    """Error naming both ids if two entries have the same ``key(entry)``.

    Args:
        entries (Iterable[dict]): Entries with an ``id``.
        key (Callable[[dict], Hashable]): What must not repeat.
        what (str): The error message after the file name, formatted with
            the two ids and the repeated key, e.g. ``'images {0} and {1}
            have the same file_name {2!r}'``.
        ann_file (str): File name for the error message.
    """
    for repeat in _repeats(entries, key):
        raise ValueError(f'{ann_file}: ' + what.format(*repeat))


def _without_ids(entry: dict) -> dict:
    """``entry`` without its ``id`` and ``image_id``."""
    return {k: v for k, v in entry.items() if k not in ('id', 'image_id')}


def _boxes_without_ids(anns: List[dict]) -> List[str]:
    """The annotations of one image without ids, in a canonical order."""
    return sorted(json.dumps(_without_ids(a), sort_keys=True) for a in anns)


def check_image(img: dict, ann_file: str) -> None:
    """Check an image entry's size and its ``is_vid_train_frame`` flag.

    Args:
        img (dict): One CocoVID ``images`` entry (with ``width`` and
            ``height``).
        ann_file (str): File name for the error message.

    Raises:
        ValueError: Naming the file and the image (id and ``file_name``)
            if ``file_name`` is not a non-empty str, ``video_id`` is not an
            int or a str, ``width`` or ``height`` is not a positive int, or
            ``is_vid_train_frame`` is not a bool or 0/1.
    """
    where = f"{ann_file}: image {img['id']} ({img['file_name']!s:.200})"
    if not (isinstance(img['file_name'], str) and img['file_name']):
        raise ValueError(f'{where} has no file_name; expected a path '
                         'relative to the image prefix')
    if 'video_id' in img and not _is_id(img['video_id']):
        raise ValueError(f"{where} has video_id {img['video_id']!r:.50}; "
                         'expected an int or a str')
    for key in ('width', 'height'):
        if not (is_int(img[key]) and img[key] > 0):
            raise ValueError(f'{where} has {key} {img[key]!r:.50}; expected '
                             'a positive int (pixels)')
    _check_flags(img, _IMAGE_FLAGS, where)


def check_annotation_references(ann: dict, images: Container,
                                category_ids: Container,
                                ann_file: str) -> None:
    """Check that an annotation's ``image_id`` and ``category_id`` are ids
    (a bool is not: ``True`` would find the id 1) of a known image and
    category.

    Args:
        ann (dict): One CocoVID ``annotations`` entry.
        images (Container): The image ids.
        category_ids (Container): The category ids.
        ann_file (str): File name for the error message.

    Raises:
        ValueError: Naming the file, the annotation id and the reference.
    """
    for key, known in (('image_id', images), ('category_id', category_ids)):
        if not _is_id(ann[key]) or ann[key] not in known:
            raise ValueError(f"{ann_file}: annotation {ann['id']} has "
                             f'unknown {key} {ann[key]!r:.50}')


def check_annotation_fields(ann: dict, ann_file: str) -> None:
    """Check the types of an annotation's flags and ``instance_id``.

    Args:
        ann (dict): One CocoVID ``annotations`` entry.
        ann_file (str): File name for the error message.

    Raises:
        ValueError: Naming the file and the annotation id if ``iscrowd``,
            ``ignore``, ``occluded`` or ``generated`` is not a bool or 0/1,
            or ``instance_id`` is not an int.
    """
    where = f"{ann_file}: annotation {ann['id']}"
    _check_flags(ann, _ANN_FLAGS, where)
    if 'instance_id' in ann and not is_int(ann['instance_id']):
        raise ValueError(f"{where} has instance_id {ann['instance_id']!r:.50};"
                         ' expected an int (-1 for none)')


def check_tracks(anns: Iterable[dict], images: Dict[Any, dict],
                 ann_file: str) -> None:
    """Check that every box of a video of several frames has a track.

    The evaluation's motion-speed splits (``mAP_fast`` etc.) take a box's
    motion IoU from the boxes of its track (``instance_id`` >= 0) in the
    neighbouring frames; a box without one would count as fast however it
    moves, so the metric refuses it, but only after the whole test. Boxes
    of one-frame videos (images without ``video_id``, e.g. ImageNet DET)
    need no track, as in the metric.

    Args:
        anns (Iterable[dict]): The annotations that are ground truth in
            test mode (of the class list, not ``ignore``), with an int
            ``instance_id`` if any.
        images (dict): Image entries by id.
        ann_file (str): File name for the error message.

    Raises:
        ValueError: Naming the file, the first such annotation, its image
            and video, and how many there are.
    """
    num_frames = Counter(img['video_id'] for img in images.values()
                         if 'video_id' in img)
    untracked = [
        a for a in anns if not _is_tracked(a)
        and num_frames[images[a['image_id']].get('video_id')] > 1
    ]
    if not untracked:
        return
    ann = untracked[0]
    img = images[ann['image_id']]
    got = (f"instance_id {ann['instance_id']}"
           if 'instance_id' in ann else 'no instance_id')
    raise ValueError(
        f"{ann_file}: annotation {ann['id']} (image {img['id']}, "
        f"{img['file_name']}, of video {img['video_id']} with "
        f"{num_frames[img['video_id']]} frames) has {got}; in test mode a "
        "box of a video needs its track's instance_id >= 0, else the "
        'motion-speed splits count it as fast (boxes of the file without '
        f'one: {len(untracked)})')


def _check_flags(entry: dict, keys: Sequence[str], where: str) -> None:
    """Error (prefixed with ``where``) if a present flag is not a flag."""
    for key in keys:
        if key in entry and not _is_flag(entry[key]):
            raise ValueError(f'{where} has {key} {entry[key]!r:.50}; '
                             'expected true/false or 0/1')


def _is_tracked(ann: dict) -> bool:
    """Whether an annotation belongs to a track (``instance_id >= 0``)."""
    return ann.get('instance_id', -1) >= 0


def _box_identity(ann: dict) -> tuple:
    """What two annotations of one box share: image, box, class, track."""
    return (ann['image_id'], tuple(ann['bbox']), ann['category_id'],
            ann.get('instance_id'))


def check_bbox(ann: dict, ann_file: str) -> None:
    """Check that an annotation's ``bbox`` is a well-formed COCO box.

    Well-formed is a list of exactly 4 finite numbers ``[x, y, w, h]`` with
    ``w >= 0``, ``h >= 0`` and finite corners ``x + w``, ``y + h`` (and,
    when given, a finite ``area``).
    Degenerate but well-formed boxes (``w`` or ``h`` below 1, zero area,
    outside the image) pass; the dataset skips them in training as mmdet
    does and keeps them in test mode for the evaluation.

    Args:
        ann (dict): One CocoVID ``annotations`` entry.
        ann_file (str): File name for the error message.

    Raises:
        ValueError: Naming the file and the annotation id if the box (or
            ``area``) is malformed.
    """
    bbox = ann['bbox']
    where = f"{ann_file}: annotation {ann['id']}"
    if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4
            and all(is_finite_number(v) for v in bbox)):
        raise ValueError(f'{where} has a malformed bbox {bbox!r:.100}; '
                         'expected [x, y, w, h]: 4 finite numbers')
    if bbox[2] < 0 or bbox[3] < 0:
        raise ValueError(f'{where} has a bbox {bbox!r} with a negative '
                         'width or height; expected [x, y, w, h]')
    if not (math.isfinite(bbox[0] + bbox[2])
            and math.isfinite(bbox[1] + bbox[3])):
        raise ValueError(f'{where} has a bbox {bbox!r} whose corner x + w '
                         'or y + h is not a finite number; expected [x, y, '
                         'w, h] in pixels')
    if 'area' in ann and not is_finite_number(ann['area']):
        raise ValueError(f"{where} has a malformed area {ann['area']!r:.100};"
                         ' expected a finite number')


def is_degenerate_box(ann: dict, img_info: dict) -> bool:
    """Whether a checked box is one mmdet drops (training only here).

    Args:
        ann (dict): Annotation whose ``bbox`` passed :func:`check_bbox`.
        img_info (dict): Its image, with ``width`` and ``height``.

    Returns:
        bool: True for a width or height below 1, a zero ``area`` or a box
        entirely outside the image.
    """
    x1, y1, w, h = ann['bbox']
    inter_w = max(0, min(x1 + w, img_info['width']) - max(x1, 0))
    inter_h = max(0, min(y1 + h, img_info['height']) - max(y1, 0))
    return (inter_w * inter_h == 0 or w < 1 or h < 1
            or ann.get('area', w * h) <= 0)


def box_extends_beyond(box: Sequence[float], width: int, height: int) -> bool:
    """Whether a box reaches more than 1 px past the image border.

    ILSVRC boxes may touch the border (``x2 == width``), so 1 px is
    tolerated. Such boxes are kept as they are; the callers warn.

    Args:
        box (Sequence[float]): ``(x1, y1, x2, y2)`` in pixels.
        width (int): Image width.
        height (int): Image height.

    Returns:
        bool: True if ``x1`` or ``y1`` is below -1, or ``x2`` (``y2``)
        above the width (height) plus 1.
    """
    x1, y1, x2, y2 = box
    tol = _OUTSIDE_TOLERANCE
    return min(x1, y1) < -tol or x2 > width + tol or y2 > height + tol


def extends_beyond_image(ann: dict, img_info: dict) -> bool:
    """:func:`box_extends_beyond` for a CocoVID annotation and its image.

    Args:
        ann (dict): Annotation whose ``bbox`` passed :func:`check_bbox`.
        img_info (dict): Its image, with ``width`` and ``height``.

    Returns:
        bool: Whether the box ``[x1, y1, w, h]`` reaches more than 1 pixel
        outside the image (see :func:`box_extends_beyond`).
    """
    x1, y1, w, h = ann['bbox']
    return box_extends_beyond((x1, y1, x1 + w, y1 + h), img_info['width'],
                              img_info['height'])


def _frame_id_fault(frames: List[dict]) -> str:
    """Where the sorted ``frames`` of a video first leave 0, 1, 2, ...:
    the repeated or the missing ``frame_id``, with the image(s) at it."""
    for position, frame in enumerate(frames):
        if frame['frame_id'] == position:
            continue
        if frame['frame_id'] < 0:
            return (f"frame_id {frame['frame_id']} is negative "
                    f"({frame['file_name']})")
        if position and frame['frame_id'] == frames[position - 1]['frame_id']:
            return (f"frame_id {frame['frame_id']} repeats (images "
                    f"{frames[position - 1]['file_name']} and "
                    f"{frame['file_name']})")
        after = (f" (after {frames[position - 1]['file_name']})"
                 if position else '')
        return (f'frame_id {position} is missing{after}; the next is '
                f"{frame['frame_id']} ({frame['file_name']})")
    return 'in order'  # not reached for frames that fail the check


def group_frames(images: List[dict], ann_file: str) -> List[List[dict]]:
    """Group images into videos in time order and check each video.

    Videos keep the order of their first image in the file; images without
    ``video_id`` become one-frame videos (``frame_id`` 0) whose made-up
    ``video_id`` lies above 100000 and above every numeric ``video_id`` of
    ``images``, so it never equals a real one.

    Args:
        images (list[dict]): CocoVID ``images`` entries.
        ann_file (str): File name for error messages.

    Returns:
        list[list[dict]]: Per video, its image entries sorted by
        ``frame_id``.

    Raises:
        ValueError: Naming the image if one with a ``video_id`` has no int
            ``frame_id`` (bools are not) or one with a ``frame_id`` has no
            ``video_id`` while other images have one, or has a ``frame_id``
            other than 0 and no ``video_id`` (a video's frames that lost
            their ``video_id`` would otherwise train as unrelated one-frame
            images, without motion); naming the video if
            its ``frame_id`` values are not exactly 0..n-1, a frame's size
            differs from its first frame's, or its frames are out of the
            order of their file names (see :func:`check_frame_order`).
    """
    videos: Dict[Any, List[dict]] = {}
    single_id = _first_single_video_id(images)
    in_videos = any('video_id' in img for img in images)
    for img in images:
        if 'video_id' not in img and 'frame_id' in img and (
                in_videos or img['frame_id'] != 0):
            others = ('unlike other images of the file'
                      if in_videos else 'as no image of the file has one')
            raise ValueError(
                f"{ann_file}: image {img['id']} ({img['file_name']}) has "
                f"frame_id {img['frame_id']!r:.50} but no video_id, {others}; "
                'a video frame needs both (an image with neither, or with '
                'frame_id 0 in a file without video_ids, is a one-frame '
                'image, as in ImageNet DET)')
        if 'video_id' not in img:
            single_id += 1
            videos[('single',
                    single_id)] = [dict(img, video_id=single_id, frame_id=0)]
            continue
        if not is_int(img.get('frame_id')):
            raise ValueError(
                f"{ann_file}: image {img['id']} ({img['file_name']}) has a "
                'video_id but no integer frame_id (got '
                f"{img.get('frame_id')!r:.50}); expected an int 0..n-1")
        videos.setdefault(img['video_id'], []).append(img)
    out = []
    for frames in videos.values():
        frames = sorted(frames, key=lambda x: x['frame_id'])
        ids = [f['frame_id'] for f in frames]
        if ids != list(range(len(frames))):
            raise ValueError(
                f"{ann_file}: video {frames[0]['video_id']} has "
                f'{len(frames)} frames, {_frame_id_fault(frames)}; expected '
                f'frame_ids 0..{len(frames) - 1} without gaps or repeats')
        size = (frames[0]['height'], frames[0]['width'])
        for f in frames:
            if (f['height'], f['width']) != size:
                raise ValueError(
                    f"{ann_file}: frame {f['file_name']} is {f['width']}x"
                    f"{f['height']} but video {f['video_id']} is "
                    f'{size[1]}x{size[0]}')
        check_frame_order(frames, ann_file)
        out.append(frames)
    return out


def check_frame_fields(frames: List[dict], ann_file: str) -> None:
    """Check that every frame of a video has the same image fields.

    A training clip stacks each field of its frames into one list per
    field (mmcv's ``TransformBroadcaster`` needs them of one length), so a
    field (say ``degradation``) on some frames of a video only would fail
    some clips mid-epoch, with an error that names no frame.

    Args:
        frames (list[dict]): The parsed frames of one video
            (:meth:`ImagenetVIDDataset.parse_data_info`), which hold their
            image entry's fields.
        ann_file (str): File name for the error message.

    Raises:
        ValueError: Naming the file, the video, the first frame whose
            fields differ from its first frame's, and the fields.
    """
    first = frames[0]
    for frame in frames[1:]:
        if frame.keys() == first.keys():
            continue
        extra = sorted(frame.keys() - first.keys())
        missing = sorted(first.keys() - frame.keys())
        differences = [
            f'{what} {keys}'
            for what, keys in (('has', extra), ('lacks', missing)) if keys
        ]
        raise ValueError(
            f"{ann_file}: frame {frame['file_name']} of video "
            f"{frame['video_id']} {' and '.join(differences)} of the image "
            f"fields of {first['file_name']}; a training clip stacks its "
            "frames' fields, so the frames of a video need the same ones")


def _file_number(file_name: str) -> Optional[int]:
    """The last number in the base name (without extension) of a file;
    None if it has none."""
    numbers = re.findall(r'[0-9]+', osp.splitext(osp.basename(file_name))[0])
    return int(numbers[-1]) if numbers else None


def check_frame_order(frames: List[dict], ann_file: str) -> None:
    """Check that a video's ``frame_id`` order is its file names' order.

    The online models see the frames in ``frame_id`` order, so two swapped
    ``frame_id`` values would go unnoticed but change the results. When the
    base name (without extension) of every frame's ``file_name`` contains a
    number (ILSVRC's and SynthVID's ``<video>/000000.JPEG``), the last such
    number must not decrease in ``frame_id`` order. Videos in which some
    file name carries no number are not checked; equal numbers pass.

    Args:
        frames (list[dict]): The image entries of one video, sorted by
            ``frame_id``.
        ann_file (str): File name for the error message.

    Raises:
        ValueError: Naming the file, the video and the first two images
            out of order.
    """
    numbers = [_file_number(f['file_name']) for f in frames]
    if None in numbers:
        return
    for i in range(1, len(frames)):
        if numbers[i] < numbers[i - 1]:
            first, second = frames[i - 1], frames[i]
            raise ValueError(
                f"{ann_file}: video {first['video_id']}: image "
                f"{first['id']} ({first['file_name']}) has frame_id "
                f"{first['frame_id']}, before image {second['id']} "
                f"({second['file_name']}) with frame_id "
                f"{second['frame_id']}; frame_id must follow the order of "
                'the file names (the last number in them)')


def _first_single_video_id(images: List[dict]) -> int:
    """Made-up one-frame video ids start above this (see group_frames)."""
    real = [
        math.floor(img['video_id']) for img in images
        if is_finite_number(img.get('video_id'))
    ]
    return max([_SINGLE_VIDEO_ID] + real)


@DATASETS.register_module()
class ImagenetVIDDataset(BaseVideoDataset):
    """ImageNet VID in CocoVID format, for clip training and online testing.

    Every frame of a video is kept (also frames without objects: clips need
    them). ``data_list`` holds one dict per video (``video_id``,
    ``video_length``, ``images``); each frame dict has the image entry's
    fields (SynthVID's have ``degradation``; absent in ImageNet VID, so a
    metric with ``degradation_key`` reports no clean / degraded split
    there), ``img_id``, ``img_path``, ``is_vid_train_frame`` and
    ``instances`` (``bbox`` x1y1x2y2,
    ``bbox_label``, ``ignore_flag``, ``instance_id`` (-1 when absent),
    ``occluded``, ``generated``).

    Training (``test_mode=False``): the samples are the key frames, i.e. the
    frames with ``is_vid_train_frame`` (every frame when
    ``key_frames_only=False``) and, unless
    ``filter_cfg=dict(filter_empty_gt=False)``, at least one non-ignored
    object of the class list. ``len(dataset)`` is their number and
    ``dataset[i]`` runs the pipeline on the video dict with ``key_frame_id``
    set, so the plain ``DefaultSampler`` (and DDP, several clips per GPU,
    ``ConcatDataset`` with DET) work. Videos whose frames are smaller than
    ``filter_cfg['min_size']`` (32) are dropped. Do not use
    ``TrackImgSampler`` or ``AspectRatioBatchSampler`` in training.

    Test: as mmdet's ``BaseVideoDataset``: ``len`` is the number of videos
    and ``TrackImgSampler`` serves ``(video_idx, frame_idx)``.

    Bad input raises ``ValueError`` naming the annotation file: malformed
    JSON, missing keys, repeated ids, a repeated category name, an
    annotation of an unknown image or category, a malformed ``bbox`` (not 4
    finite numbers, or a negative width or height; the error also names the
    annotation id), a class of ``metainfo['classes']`` missing from
    ``categories``, a gap or repeat in a video's ``frame_id``, or a frame
    whose size differs from the rest of its video. Also, naming the image
    or annotation: an image ``width``/``height`` that is not a positive
    int, a ``frame_id`` that is not an int, a flag (``is_vid_train_frame``,
    ``iscrowd``, ``ignore``, ``occluded``, ``generated``) that is not
    true/false or 0/1, an ``instance_id`` that is not an int, two images
    with the same ``file_name`` (but see below), an image with a
    ``frame_id`` but no ``video_id`` where other images have one, or a
    ``frame_id`` other than 0 and no ``video_id`` in a file without video
    ids (an image with neither is a one-frame (DET) image; a file that
    lists ``videos`` but gives no image a ``video_id`` is refused), two
    frames of a video whose ``frame_id`` order is not the order of the last
    number in their file names (see :func:`check_frame_order`; videos whose
    file names carry no number are not checked), and in test mode two
    annotations of the same box of one track (same image, ``bbox``,
    category of the class list and ``instance_id`` >= 0) or two boxes of
    one track in one image (same image and ``instance_id`` >= 0, categories
    of the class list; named with the image's ``file_name``): the track's
    motion IoU would be ambiguous. Also in test mode, where the evaluation
    needs them (training uses neither; DET files have neither): a box of
    the class list, not ``ignore``, in a video of several frames without
    an ``instance_id`` >= 0 (:func:`check_tracks`), and images of which
    some but not all carry a ``degradation``
    (:func:`~memvid_mm.evaluation.functional.check_degradation_values`).
    In training, a video whose frames do not all have the same image fields
    (:func:`check_frame_fields`; its clips would fail to stack them).
    Logged, not errors: in training, such
    boxes of one track in one image, kept (training uses no track) and
    counted in one warning; in training, a one-frame (DET) image entry
    that repeats an earlier one with the same fields and boxes, as mmtrack
    writes an image that FGFA's DET list names twice: kept, so it is
    sampled as often as it is listed, and counted in one warning; exact
    repeats of untracked (DET) boxes, kept and counted
    in one warning; boxes of categories outside the class list (e.g. DET's
    ``other_categeries``), ignored as mmdet does; degenerate boxes (width or
    height < 1, zero area, outside the image; see
    :func:`is_degenerate_box`), counted in one warning: in training skipped
    as mmdet does (it cannot regress zero-size targets), in test mode kept
    in ``instances``, so that the evaluation counts them as positives as
    the ILSVRC devkit does (an XML box with ``xmin == xmax`` is an
    inclusive box 1 px wide, COCO ``w`` 0); boxes reaching more than 1 px
    past the image,
    kept unclipped and counted in one warning; ``videos`` entries without
    images; images without ``is_vid_train_frame`` (taken as True).

    Args:
        key_frames_only (bool): Train only on ``is_vid_train_frame`` frames.
            Defaults to True.
        *args, **kwargs: See mmdet's ``BaseVideoDataset``. Use
            ``metainfo=dict(classes=...)`` for another class list (SynthVID).
    """

    METAINFO = dict(classes=IMAGENET_VID_CLASSES)

    def __init__(self, *args, key_frames_only: bool = True, **kwargs) -> None:
        self.key_frames_only = key_frames_only
        self._key_frames = np.zeros((0, 2), dtype=np.int64)
        # True only while mmengine subsets the videos (_length_in_videos)
        self._length_counts_videos = False
        super().__init__(*args, **kwargs)

    def full_init(self) -> None:
        """Load, filter, subset and serialize; then index the key frames."""
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        self._key_frames = self._find_key_frames(self.data_list)
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def load_data_list(self) -> List[dict]:
        """Load and check the CocoVID file; one dict per video.

        Returns:
            list[dict]: Per video, in the order of :func:`group_frames`:
            ``video_id``, ``images`` (its frames' parsed infos, by
            ``frame_id``) and ``video_length``.

        Raises:
            FileNotFoundError: If the annotation file does not exist.
            ValueError: If the file is not valid CocoVID JSON, has no
                images, lists videos but no image has a ``video_id``, or
                one of its entries fails the checks.
        """
        data = load_coco_vid(self.ann_file, self.backend_args)
        self._set_categories(data['categories'])
        images = self._check_images(data['images'])
        if not images:
            raise ValueError(f'annotation file {self.ann_file} has no images')
        anns = self._check_annotations(data['annotations'], images)
        anns_per_img: Dict[Any, List[dict]] = {i: [] for i in images}
        for ann in anns:
            anns_per_img[ann['image_id']].append(ann)
        self._check_repeated_images(images, anns_per_img)
        videos = _check_entries(
            data.get('videos', []), ('id', ), 'video', self.ann_file)
        if videos and not any('video_id' in img for img in images.values()):
            raise ValueError(
                f'{self.ann_file} lists videos ({len(videos)}) but none of '
                'its images has a video_id: its frames would load as '
                'unrelated one-frame images; give each frame its video_id '
                'and frame_id')
        self._log_skipped(data, videos, anns)
        data_list = []
        for frames in group_frames(list(images.values()), self.ann_file):
            parsed = [
                self.parse_data_info(
                    dict(raw_img_info=f, raw_ann_info=anns_per_img[f['id']]))
                for f in frames
            ]
            if not self.test_mode:  # a test serves one frame at a time
                check_frame_fields(parsed, self.ann_file)
            data_list.append(
                dict(
                    video_id=frames[0]['video_id'],
                    images=parsed,
                    video_length=len(parsed)))
        self._log_box_issues(anns, images)
        return data_list

    def _set_categories(self, categories: List[dict]) -> None:
        """Map ``metainfo['classes']`` to category ids; error if missing."""
        by_id = _check_entries(categories, ('id', 'name'), 'category',
                               self.ann_file)
        for category in by_id.values():
            if not isinstance(category['name'], str):
                raise ValueError(
                    f"{self.ann_file}: category {category['id']} has name "
                    f"{category['name']!r:.50}; expected a str")
        _check_unique(by_id.values(), lambda c: c['name'],
                      'category name {2!r} repeats (ids {0} and {1})',
                      self.ann_file)
        self._all_cat_names = {i: c['name'] for i, c in by_id.items()}
        name2id = {c['name']: i for i, c in by_id.items()}
        classes = list(self.metainfo['classes'])
        missing = [c for c in classes if c not in name2id]
        if missing:
            raise ValueError(
                f'{self.ann_file}: classes {missing} of metainfo are not '
                f'among its categories {sorted(name2id)}')
        self.cat_ids = [name2id[c] for c in classes]
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}

    def _check_images(self, entries: List[dict]) -> Dict[Any, dict]:
        """Index the images by id; error on bad fields."""
        images = _check_entries(
            entries, _IMAGE_KEYS, 'image', self.ann_file, int_ids=True)
        for img in images.values():
            check_image(img, self.ann_file)
        if self.test_mode:  # the evaluation's rule, before the test
            check_degradation_values([
                dict(
                    img_id=img['id'],
                    file_name=img['file_name'],
                    degradation=img.get('degradation'))
                for img in images.values()
            ], self.ann_file)
        return images

    def _check_repeated_images(self, images: Dict[Any, dict],
                               anns_per_img: Dict[Any, List[dict]]) -> None:
        """Refuse images with one ``file_name`` unless allowed; warn once,
        with a count, about the allowed ones.

        A sampling list may name a DET image twice (mmtrack's converter
        then writes it twice, e.g. for a repeated line of FGFA's
        ``DET_train_30classes.txt``), so in training a repeated one-frame
        image (no ``video_id``) with the same fields and boxes is kept: it
        is sampled as often as it is listed. A repeated video frame, any
        repeat in test mode (where its boxes would be scored twice), or a
        repeat that differs is an error.

        Args:
            images (dict): Image entries by id.
            anns_per_img (dict): Annotations by image id.

        Raises:
            ValueError: Naming both image ids and the ``file_name``.
        """
        repeats = list(_repeats(images.values(), lambda im: im['file_name']))
        for first, second, file_name in repeats:
            in_videos = [i for i in (first, second) if 'video_id' in images[i]]
            if self.test_mode or in_videos:
                why = (f'image {in_videos[0]} is a video frame'
                       if in_videos else 'in test mode it would be scored '
                       'twice')
                raise ValueError(
                    f'{self.ann_file}: images {first} and {second} have the '
                    f'same file_name {file_name!r} ({why}; only a one-frame '
                    'image may repeat, in training)')
            if (_without_ids(images[first]) != _without_ids(images[second])
                    or _boxes_without_ids(anns_per_img[first]) !=
                    _boxes_without_ids(anns_per_img[second])):
                raise ValueError(
                    f'{self.ann_file}: images {first} and {second} have the '
                    f'same file_name {file_name!r} but differ in their '
                    'fields or boxes; a repeated image must repeat its entry '
                    'and its annotations')
        if repeats:
            print_log(
                f'{self.ann_file}: {len(repeats)} one-frame images repeat '
                f'an earlier image (first: images {repeats[0][0]} and '
                f'{repeats[0][1]}, {repeats[0][2]!r}); each is kept and '
                'sampled as often as it is listed, as in mmtrack',
                logger='current',
                level=logging.WARNING)

    def _check_annotations(self, entries: List[dict],
                           images: Dict[Any, dict]) -> List[dict]:
        """Check the annotations against ``images`` and the categories."""
        anns = _check_entries(entries, _ANN_KEYS, 'annotation', self.ann_file)
        for ann in anns.values():
            check_annotation_references(ann, images, self._all_cat_names,
                                        self.ann_file)
            check_bbox(ann, self.ann_file)
            check_annotation_fields(ann, self.ann_file)
        # A track has one box per frame. In test mode a second box of a
        # track in a frame is an error: its motion IoU, which picks the
        # speed split, would be ambiguous. Training uses no track, so there
        # such boxes are kept and counted in a warning, as such annotation
        # noise may exist in real data (mmtrack's converter writes it).
        # Repeats of boxes outside the class list (e.g. DET's
        # other_categeries, which merges many synsets) change no number;
        # repeats of untracked (DET) boxes are counted in a warning.
        counted = [
            a for a in anns.values() if a['category_id'] in self.cat2label
        ]
        tracked = [a for a in counted if _is_tracked(a)]
        same_frame = list(
            _repeats(tracked, lambda a: (a['image_id'], a['instance_id'])))
        if self.test_mode:
            _check_unique(
                tracked, _box_identity,
                'annotations {0} and {1} are the same box '
                '(image_id, bbox, category_id, instance_id) {2}',
                self.ann_file)
            for first, second, (image_id, instance_id) in same_frame:
                raise ValueError(
                    f'{self.ann_file}: annotations {first} and {second} give '
                    f'track instance_id {instance_id} two boxes in '
                    f"image {image_id} ({images[image_id]['file_name']}); a "
                    'track has one box per frame, else its motion IoU (the '
                    'speed split) is ambiguous')
            check_tracks(
                filter(self._is_instance, anns.values()), images,
                self.ann_file)
        elif same_frame:
            first, second, (image_id, instance_id) = same_frame[0]
            print_log(
                f'{self.ann_file}: {len(same_frame)} annotations give a '
                'track a second box in a frame (first: annotations '
                f'{first} and {second}, track instance_id {instance_id} in '
                f"{images[image_id]['file_name']}); kept for training, "
                'which uses no track (in test mode this is an error)',
                logger='current',
                level=logging.WARNING)
        self._log_repeated_untracked_boxes(
            [a for a in counted if not _is_tracked(a)])
        return list(anns.values())

    def _log_repeated_untracked_boxes(self, anns: List[dict]) -> None:
        """Warn once, with a count, about exact repeats of untracked boxes.

        They stay in the data (each is a ground-truth box of its own).
        """
        repeats = list(_repeats(anns, _box_identity))
        if repeats:
            print_log(
                f'{self.ann_file}: {len(repeats)} annotations without a '
                f'track repeat another box exactly (first: annotations '
                f'{repeats[0][0]} and {repeats[0][1]}); each is kept as a '
                'ground-truth box of its own',
                logger='current',
                level=logging.WARNING)

    def _log_box_issues(self, anns: List[dict], images: Dict[Any,
                                                             dict]) -> None:
        """Warn once about degenerate boxes, once about boxes past the image.

        Boxes past the image are kept unclipped (clipping would change the
        ground truth), but are counted so that the user knows.
        """
        num_degenerate, beyond = 0, []
        for ann in filter(self._is_instance, anns):
            img = images[ann['image_id']]
            if is_degenerate_box(ann, img):
                num_degenerate += 1
            elif extends_beyond_image(ann, img):
                beyond.append(ann)
        if num_degenerate and self.test_mode:
            print_log(
                f'{self.ann_file}: kept {num_degenerate} degenerate '
                'ground-truth boxes (width or height < 1, zero area or '
                'outside the image) for the evaluation, which counts them '
                'as positives as the ILSVRC devkit does (training skips '
                'them, as mmdet does)',
                logger='current',
                level=logging.WARNING)
        elif num_degenerate:
            print_log(
                f'{self.ann_file}: skipped {num_degenerate} degenerate '
                'ground-truth boxes (width or height < 1, zero area or '
                'outside the image), as mmdet does in training (in test '
                'mode they are kept and counted as positives, as the ILSVRC '
                'devkit does)',
                logger='current',
                level=logging.WARNING)
        if beyond:
            first = beyond[0]
            print_log(
                f'{self.ann_file}: {len(beyond)} ground-truth boxes extend '
                f'more than {_OUTSIDE_TOLERANCE} px beyond their image '
                f"(first: annotation {first['id']} of "
                f"{images[first['image_id']]['file_name']}); they are kept "
                'unclipped, so detections (clipped to the image) cannot '
                'overlap them fully',
                logger='current',
                level=logging.WARNING)

    def _log_skipped(self, data: dict, videos: Dict[Any, dict],
                     anns: Any) -> None:
        """Log what is ignored: other categories, empty videos, defaults."""
        other = Counter(self._all_cat_names[a['category_id']] for a in anns
                        if a['category_id'] not in self.cat2label)
        if other:
            print_log(
                f'{self.ann_file}: ignoring boxes of categories outside the '
                f'class list: {dict(other)}',
                logger='current')
        with_images = {i.get('video_id') for i in data['images']}
        empty = [i for i in videos if i not in with_images]
        if empty:
            print_log(
                f'{self.ann_file}: skipping {len(empty)} videos without '
                f'images, e.g. ids {empty[:5]}',
                logger='current',
                level=logging.WARNING)
        no_flag = sum('is_vid_train_frame' not in i for i in data['images'])
        if no_flag and not self.test_mode:
            print_log(
                f'{self.ann_file}: {no_flag} images have no '
                'is_vid_train_frame; taken as key frames',
                logger='current',
                level=logging.WARNING)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Parse one frame: image fields, ``img_path`` and ``instances``.

        Args:
            raw_data_info (dict): ``raw_img_info`` (the image entry) and
                ``raw_ann_info`` (its annotation entries).

        Returns:
            dict: The frame's data info (see the class docstring).
        """
        img_info = raw_data_info['raw_img_info']
        data_info = super().parse_data_info(
            dict(raw_img_info=img_info, raw_ann_info=[]))
        data_info['img_id'] = img_info['id']
        data_info['is_vid_train_frame'] = bool(
            img_info.get('is_vid_train_frame', True))
        data_info['instances'] = [
            inst for inst in (self._parse_instance(ann, img_info)
                              for ann in raw_data_info['raw_ann_info'])
            if inst is not None
        ]
        return data_info

    def _is_instance(self, ann: dict) -> bool:
        """Whether an annotation is a box of the class list, not ignored."""
        return (not ann.get('ignore', False)
                and ann['category_id'] in self.cat2label)

    def _parse_instance(self, ann: dict, img_info: dict) -> Union[dict, None]:
        """One annotation to an instance; None for boxes not used.

        Not used: boxes outside the class list or ignored and, in training
        only, degenerate boxes (:func:`is_degenerate_box`), which mmdet
        drops. In test mode degenerate boxes are kept: ``instances`` is the
        ground truth of ``ImagenetVIDMetric`` and of the offline
        evaluation, and the ILSVRC devkit counts every annotated box (a box
        with COCO ``w`` 0 is 1 px wide in its inclusive pixel convention).

        The box must have passed :func:`check_bbox`.
        """
        if not self._is_instance(ann) or (not self.test_mode and
                                          is_degenerate_box(ann, img_info)):
            return None
        x1, y1, w, h = ann['bbox']
        return dict(
            bbox=[x1, y1, x1 + w, y1 + h],
            bbox_label=self.cat2label[ann['category_id']],
            ignore_flag=int(bool(ann.get('iscrowd', False))),
            instance_id=ann.get('instance_id', -1),
            occluded=bool(ann.get('occluded', False)),
            generated=bool(ann.get('generated', False)))

    def filter_data(self) -> List[dict]:
        """Keep every frame; in training drop videos below ``min_size``.

        ``min_size`` comes from ``filter_cfg`` (32 when not given); a video
        is dropped when its first frame's shorter side is below it. The
        number dropped is logged.

        Returns:
            list[dict]: The kept videos of ``data_list`` (all of them in
            test mode).
        """
        if self.test_mode:
            return self.data_list
        min_size = (self.filter_cfg or {}).get('min_size', 32)
        kept = [
            v for v in self.data_list if
            min(v['images'][0]['width'], v['images'][0]['height']) >= min_size
        ]
        if len(kept) < len(self.data_list):
            print_log(
                f'{self.ann_file}: dropped {len(self.data_list) - len(kept)} '
                f'videos smaller than min_size={min_size}',
                logger='current')
        return kept

    def _find_key_frames(self, videos: Sequence[dict]) -> np.ndarray:
        """``(K, 2)`` int64 array of ``(video_idx, frame_idx)`` key frames."""
        need_gt = (self.filter_cfg or {}).get('filter_empty_gt', True)
        keys = [
            (vi, fi) for vi, video in enumerate(videos)
            for fi, frame in enumerate(video['images'])
            if (frame['is_vid_train_frame'] or not self.key_frames_only) and (
                not need_gt or any(not inst['ignore_flag']
                                   for inst in frame['instances']))
        ]
        if not self.test_mode:
            no_keys = len(videos) - len({vi for vi, _ in keys})
            print_log(
                f'{self.ann_file}: {len(keys)} training key frames in '
                f'{len(videos)} videos ({no_keys} videos without any)',
                logger='current',
                level=logging.INFO if keys else logging.WARNING)
        return np.array(keys, dtype=np.int64).reshape(-1, 2)

    def _videos(self) -> List[dict]:
        return [self.get_data_info(i) for i in range(self.num_videos)]

    @contextlib.contextmanager
    def _length_in_videos(self) -> Iterator[None]:
        """Let ``len(self)`` count videos while mmengine subsets them.

        mmengine checks every index of a subset against ``len(self)``,
        which in training counts key frames, not videos.
        """
        self._length_counts_videos = True
        try:
            yield
        finally:
            self._length_counts_videos = False

    def _is_video_index(self, idx: int) -> bool:
        """Whether ``idx`` is in ``[-num_videos, num_videos)``."""
        return -self.num_videos <= idx < self.num_videos

    def _checked_video_indices(
            self, indices: Union[Sequence[int],
                                 int]) -> Union[Sequence[int], int]:
        """Refuse video indices outside ``[-num_videos, num_videos)``."""
        if isinstance(indices, int):
            return indices
        bad = [i for i in indices if not self._is_video_index(i)]
        if bad:
            raise IndexError(
                f'{self.ann_file}: video indices {bad} are out of range '
                f'for {self.num_videos} videos')
        return indices

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        """Subset videos in place (``indices`` index videos).

        The key frames are found again in the kept videos.

        Args:
            indices (Sequence[int] | int): Video indices to keep, or, as an
                int, the number of first (positive) or last (negative)
                videos to keep, as mmengine's ``get_subset_``.

        Raises:
            IndexError: If a video index lies outside
                ``[-num_videos, num_videos)``.
        """
        indices = self._checked_video_indices(indices)
        with self._length_in_videos():
            super().get_subset_(indices)
        self._key_frames = self._find_key_frames(self._videos())

    def get_subset(self, indices: Union[Sequence[int],
                                        int]) -> 'ImagenetVIDDataset':
        """Return a subset of the videos (``indices`` index videos).

        Args:
            indices (Sequence[int] | int): Video indices to keep, or, as an
                int, the number of first (positive) or last (negative)
                videos to keep, as mmengine's ``get_subset``.

        Returns:
            ImagenetVIDDataset: A new dataset of those videos, with its own
            key frames; ``self`` is unchanged.

        Raises:
            IndexError: If a video index lies outside
                ``[-num_videos, num_videos)``.
        """
        indices = self._checked_video_indices(indices)
        with self._length_in_videos():
            sub = super().get_subset(indices)
        sub._length_counts_videos = False
        sub._key_frames = sub._find_key_frames(sub._videos())
        return sub

    def get_data_info(self, idx: int) -> dict:
        """The info of video ``idx``, its ``sample_idx`` a video index.

        A negative ``idx`` counts from the last video; mmengine would count
        it from ``len(self)``, which in training counts key frames.

        Args:
            idx (int): Video index.

        Returns:
            dict: A copy of the video's info (``video_id``, ``images``,
            ``video_length``) with ``sample_idx`` set.
        """
        if idx < 0 and self._is_video_index(idx):
            idx += self.num_videos
        return super().get_data_info(idx)

    @property
    def num_videos(self) -> int:
        """int: Number of videos."""
        return BaseDataset.__len__(self)

    @property
    def key_frames(self) -> np.ndarray:
        """np.ndarray: ``(K, 2)`` int64 ``(video_idx, frame_idx)`` training
        samples (a copy)."""
        return self._key_frames.copy()

    @force_full_init
    def __len__(self) -> int:
        """Number of key frames in training, of videos in test mode."""
        if self.test_mode or self._length_counts_videos:
            return self.num_videos
        return len(self._key_frames)

    def prepare_data(self, idx: Union[int, Tuple[int, int]]) -> Any:
        """Run the pipeline for key frame ``idx`` or ``(video, frame)``.

        Args:
            idx (int | tuple[int, int]): In training, an int is a key-frame
                index (the whole video dict goes to the pipeline with
                ``key_frame_id`` set); in test mode an int is a video
                index. A tuple is always ``(video_idx, frame_idx)``.

        Returns:
            Any: The pipeline output.
        """
        if not self.test_mode and not isinstance(idx, tuple):
            video_idx, frame_idx = self._key_frames[idx]
            idx = (int(video_idx), int(frame_idx))
        return super().prepare_data(idx)

    def get_cat_ids(self, idx: Union[int, Tuple[int, int]]) -> List[int]:
        """Labels of key frame ``idx`` (training) or as mmdet's base.

        Args:
            idx (int | tuple[int, int]): In training, an int is a key-frame
                index; in test mode an int is a video index (the labels of
                all its frames). A tuple is always ``(video_idx,
                frame_idx)``.

        Returns:
            list[int]: The ``bbox_label`` of each of the frame's (or
            video's) instances, ignored ones included.
        """
        if not self.test_mode and not isinstance(idx, tuple):
            idx = tuple(int(i) for i in self._key_frames[idx])
        return super().get_cat_ids(idx)
