# Copyright (c) memvid_mm contributors. All rights reserved.
"""ILSVRC2015 VID / DET to CocoVID JSON, the files mmtrack's converters make.

Input layout (official ILSVRC2015, also written by :mod:`.synthvid`)::

    ROOT/Data/VID/{train,val}/<video>/<frame:06d>.JPEG
    ROOT/Annotations/VID/{train,val}/<video>/<frame:06d>.xml
    ROOT/ImageSets/VID/train_<k>.txt    '<video> 1' (video relative to
                                         train/), one file per class k
    ROOT/ImageSets/VID/val.txt          '<video>/<frame:06d> <index>'
    ROOT/Data/DET/train/<image>.JPEG, ROOT/Annotations/DET/train/<image>.xml
    ROOT/ImageSets/DET/train_<k>.txt    '<image> 1|-1' (relative to train/)

Output (CocoVID, as mmtrack's ``imagenet2coco_vid.py`` and
``imagenet2coco_det.py``): ``categories`` (``id`` 1..C, ``name``,
``encode_name`` = synset), ``videos`` (``id``, ``name``,
``vid_train_frames``), ``images`` (``file_name`` relative to ``Data/VID`` or
``Data/DET``, ``height``, ``width``, ``id``, ``frame_id``, ``video_id``,
``is_vid_train_frame`` and, where the XML has a ``<degradation>`` tag as
SynthVID's do, ``degradation``) and ``annotations`` (``id``, ``video_id``,
``image_id``, ``category_id``, ``instance_id``, ``bbox`` [x, y, w, h],
``area``, ``iscrowd``, ``occluded``, ``generated``). DET images have no
``video_id``/``frame_id`` and their annotations have ``instance_id`` -1.

Training key frames (``is_vid_train_frame``): the centre frame of each of
``num_key_frames`` (15) equal segments of a training video,
``floor((2 i + 1) N / (2 K))`` for ``i < K = min(15, N)``, 0-based (see
:func:`select_key_frames`). Given as ``key_frame_list``, FGFA's
``Lists/VID_train_15frames.txt`` (15 evenly spaced frames per video) gives
them instead, read as mmtrack reads it: the frame column is taken as 1-based
and made 0-based by subtracting 1 (see :func:`read_fgfa_key_frames`), so the
key frames are mmtrack's; they need not be the frames
:func:`select_key_frames` picks. Val videos have no key frames
(``is_vid_train_frame`` False, ``vid_train_frames`` empty), as mmtrack
writes them: its loader refuses a val key frame in test mode.

Bad input raises an error naming the file: a missing or malformed XML, an
XML without ``<size>`` whose image is missing or unreadable, a video listed
in ImageSets with no frames or with a gap in its frame numbers, a video
with JPEG frames in ``Data/VID`` that have no XML (e.g. its last XMLs lost:
the frame count comes from the XMLs), a val video whose frames in
``val.txt`` are not exactly its XMLs' (naming the frames), a frame whose
size differs from the video's first frame, a reversed box, a box coordinate
that is not a finite number (``nan``, ``inf``), an ``<occluded>`` or
``<generated>`` other than 0 or 1, in val the same ``<trackid>`` twice
in one frame (its motion IoU would be ambiguous), a line of
``key_frame_list`` that cannot be parsed, gives a frame count other than
its video's or a frame beyond its video's last frame
(naming the list file and line), and in VID a synset outside the class
table (unless ``unknown_classes='skip'``, which drops and counts such
boxes). With ``check_images=True`` every image is decoded and its size
compared with the XML; one error after the conversion lists every image
of another size. Logged, not errors: frames without objects (normal
in ILSVRC); boxes reaching more than 1 px past the image size (one warning
per video, or for all of DET, with the count; kept unclipped); videos
without an image directory in ``Data/VID`` (their frame count cannot be
checked against the JPEGs; one warning with the count); training
videos missing from ``key_frame_list`` (they get no key frames), listed
videos that do not exist and listed videos that exist but are not in the
training ImageSets (not converted); entries of ``key_frame_list`` with
frame 0, which the 1-based reading puts before the first frame (not key
frames, as in mmtrack); in train, the same ``<trackid>`` twice in one
frame (kept, one instance as in mmtrack; training uses no track; one
warning with the count); a ``<trackid>`` whose class changes within a
video (one instance, as mmtrack writes it: the track's boxes follow one
object, whose motion IoU does not depend on its label; one warning with
the count); in DET, images that an ``image_list``
names more than once (one warning with the count; each line becomes an
image entry, as in mmtrack, so such an image is sampled as often as it is
listed), objects of other synsets (mapped to the extra category
``other_categeries``, as mmtrack does) and candidate images without any
object of the class table (left out).
"""
import glob
import json
import logging
import math
import os
import os.path as osp
import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from tqdm import tqdm

from .class_tables import (IMAGENET_VID_CLASS_TABLE, OTHER_CATEGORY_NAME,
                           check_class_table)
from .imagenet_vid_dataset import box_extends_beyond

VID_ANN_FILES = dict(
    train='imagenet_vid_train.json', val='imagenet_vid_val.json')
DET_ANN_FILE = 'imagenet_det_30plus1cls.json'
NO_DEGRADATION = 'none'


def select_key_frames(num_frames: int, num_key_frames: int = 15) -> List[int]:
    """Pick evenly spaced training key frames of a video.

    The video is cut into ``K = min(num_key_frames, num_frames)`` equal
    segments and the centre frame of each is taken:
    ``floor((2 i + 1) * num_frames / (2 K))`` for ``i = 0..K-1`` (0-based).
    For 300 frames this gives 10, 30, ..., 290.

    Args:
        num_frames (int): Number of frames N of the video.
        num_key_frames (int): Number of key frames. Defaults to 15.

    Returns:
        list[int]: K distinct, increasing frame indices.
    """
    if num_frames < 1 or num_key_frames < 1:
        raise ValueError('num_frames and num_key_frames must be positive, '
                         f'but got {num_frames} and {num_key_frames}')
    k = min(num_key_frames, num_frames)
    return [(2 * i + 1) * num_frames // (2 * k) for i in range(k)]


def make_categories(class_table: Sequence[Sequence[str]],
                    with_other: bool = False) -> List[dict]:
    """CocoVID ``categories``: ids 1..C in table order.

    Args:
        class_table (Sequence[Sequence[str]]): ``(synset, name)`` pairs.
        with_other (bool): Append mmtrack's DET category
            ``other_categeries`` (id C+1, ``encode_name`` None).
            Defaults to False.

    Returns:
        list[dict]: ``dict(id, name, encode_name)`` per category.
    """
    table = check_class_table(class_table)
    categories = [
        dict(id=i, name=name, encode_name=synset)
        for i, (synset, name) in enumerate(table, 1)
    ]
    if with_other:
        categories.append(
            dict(
                id=len(table) + 1, name=OTHER_CATEGORY_NAME, encode_name=None))
    return categories


def read_image_size(img_path: str) -> Tuple[int, int]:
    """Decode an image and return its ``(height, width)``.

    The stored pixels, not turned by an EXIF orientation tag (as
    ``LoadVIDFrame`` loads them).

    Args:
        img_path (str): The image file.

    Returns:
        tuple[int, int]: ``(height, width)`` of the decoded image.

    Raises:
        FileNotFoundError: If the image does not exist.
        ValueError: If the file cannot be decoded as an image.
    """
    if not osp.isfile(img_path):
        raise FileNotFoundError(f'image file not found: {img_path}')
    data = np.fromfile(img_path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR
                       | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    if img is None:
        raise ValueError(f'cannot decode image file (corrupt?): {img_path}')
    return int(img.shape[0]), int(img.shape[1])


def _xml_text(node: ET.Element,
              tag: str,
              xml_path: str,
              default: Optional[str] = None) -> Optional[str]:
    """Text of child ``tag``; ``default`` when absent (error if None)."""
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        if default is not None:
            return default
        raise ValueError(f'{xml_path}: <{node.tag}> has no <{tag}> value')
    return child.text.strip()


def _xml_number(node: ET.Element, tag: str, xml_path: str) -> float:
    """Finite numeric value of child ``tag``; error naming the file if not."""
    text = _xml_text(node, tag, xml_path)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f'{xml_path}: <{tag}> is not a number: {text!r}')
    if not math.isfinite(value):
        raise ValueError(f'{xml_path}: <{tag}> is not a finite number: '
                         f'{text!r}')
    return value


def _xml_pixels(node: ET.Element, tag: str, xml_path: str) -> int:
    """Child ``tag`` as a whole number of pixels; error naming the file."""
    value = _xml_number(node, tag, xml_path)
    if not value.is_integer():
        raise ValueError(f'{xml_path}: <{tag}> is not a whole number of '
                         f'pixels: {_xml_text(node, tag, xml_path)!r}')
    return int(value)


def _xml_flag(node: ET.Element, tag: str, xml_path: str) -> bool:
    """Child ``tag`` as a 0/1 flag (False when absent); error otherwise."""
    text = _xml_text(node, tag, xml_path, '0')
    if text not in ('0', '1'):
        raise ValueError(f'{xml_path}: <{tag}> of <object> '
                         f"{_xml_text(node, 'name', xml_path)} is {text!r}; "
                         'expected 0 or 1')
    return text == '1'


def _as_int_if_integral(value: float) -> float:
    return int(value) if float(value).is_integer() else value


def parse_voc_xml(xml_path: str) -> dict:
    """Parse an ILSVRC (VOC-style) annotation file.

    Args:
        xml_path (str): Path of the XML file.

    Returns:
        dict: ``width``, ``height`` (None if there is no ``<size>``),
        ``degradation`` (text of a ``<degradation>`` tag, or None) and
        ``objects``: a list of dicts with ``name`` (synset), ``bbox``
        ``(x1, y1, x2, y2)``, ``trackid`` (str or None), ``occluded`` and
        ``generated`` (bool; False when absent).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not well-formed XML, a box field is
            missing or not a finite number, a box is reversed, or
            ``occluded`` or ``generated`` is not 0 or 1.
    """
    if not osp.isfile(xml_path):
        raise FileNotFoundError(f'annotation file not found: {xml_path}')
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise ValueError(f'malformed XML in {xml_path}: {e}') from e
    width = height = None
    size = root.find('size')
    if size is not None:
        width = _xml_pixels(size, 'width', xml_path)
        height = _xml_pixels(size, 'height', xml_path)
        if width <= 0 or height <= 0:
            raise ValueError(f'{xml_path}: image size {width}x{height} is '
                             'not positive')
    degradation = root.find('degradation')
    # direct children only, as mmtrack reads them: an <object> nested in
    # another element is not a box of the image
    objects = [_parse_object(obj, xml_path) for obj in root.findall('object')]
    return dict(
        width=width,
        height=height,
        degradation=None if degradation is None else
        (degradation.text or '').strip() or NO_DEGRADATION,
        objects=objects)


def _parse_object(obj: ET.Element, xml_path: str) -> dict:
    """Parse one ``<object>`` element."""
    name = _xml_text(obj, 'name', xml_path)
    box = obj.find('bndbox')
    if box is None:
        raise ValueError(f'{xml_path}: <object> {name} has no <bndbox>')
    x1, y1, x2, y2 = (
        _as_int_if_integral(_xml_number(box, tag, xml_path))
        for tag in ('xmin', 'ymin', 'xmax', 'ymax'))
    if x2 < x1 or y2 < y1:
        raise ValueError(f'{xml_path}: reversed box {(x1, y1, x2, y2)} for '
                         f'object {name}')
    trackid = obj.find('trackid')
    return dict(
        name=name,
        bbox=(x1, y1, x2, y2),
        trackid=None
        if trackid is None else _xml_text(obj, 'trackid', xml_path),
        occluded=_xml_flag(obj, 'occluded', xml_path),
        generated=_xml_flag(obj, 'generated', xml_path))


def count_boxes_beyond(objects: Sequence[dict], height: int,
                       width: int) -> int:
    """How many boxes reach more than 1 px past the image border.

    See :func:`~memvid_mm.datasets.imagenet_vid_dataset.box_extends_beyond`.

    Args:
        objects (Sequence[dict]): Objects of :func:`parse_voc_xml`.
        height (int): Image height.
        width (int): Image width.

    Returns:
        int: The number of boxes past the border.
    """
    return sum(box_extends_beyond(o['bbox'], width, height) for o in objects)


def _warn_boxes_beyond(beyond: List[Tuple[str, int]], where: str) -> None:
    """One warning counting the boxes past the image border, if any.

    Args:
        beyond (list[tuple[str, int]]): ``(xml_path, count)`` per XML with
            boxes past the border (see :func:`count_boxes_beyond`).
        where (str): What the XMLs make up, e.g. ``'video <name>'``.
    """
    if beyond:
        print_log(
            f'{where}: {sum(n for _, n in beyond)} boxes extend more than '
            '1 px beyond the image size of their XML (first in '
            f'{beyond[0][0]}); kept unclipped',
            logger='current',
            level=logging.WARNING)


def _read_lines(path: str) -> List[List[str]]:
    """Whitespace-split, non-empty lines of a text file."""
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def _numbered_files(pattern_dir: str, prefix: str) -> List[str]:
    """``<prefix><int>.txt`` files of a directory, in numeric order."""
    regex = re.compile(re.escape(prefix) + r'(\d+)\.txt$')
    found = []
    for path in glob.glob(osp.join(pattern_dir, f'{prefix}*.txt')):
        match = regex.match(osp.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def read_vid_video_list(root: str, split: str) -> List[str]:
    """List the videos of a VID split from ``ImageSets/VID``.

    ``train``: the union of the videos marked positive (second column not
    ``-1``) in ``train_<k>.txt``; ``val``: the video directories of the
    frames in ``val.txt``. Names are relative to ``Data/VID`` (they start
    with ``train/`` or ``val/``) and sorted.

    Args:
        root (str): ILSVRC2015 root.
        split (str): ``'train'`` or ``'val'``.

    Returns:
        list[str]: Sorted video names.
    """
    set_dir = osp.join(root, 'ImageSets', 'VID')
    if split == 'train':
        files = _numbered_files(set_dir, 'train_')
        if not files:
            raise FileNotFoundError(
                f'no ImageSets/VID/train_<k>.txt files in {set_dir}')
        # prefixed before the set, so that a video listed with and
        # without 'train/' is one video
        names = {
            _with_split_prefix(tokens[0], split)
            for path in files for tokens in _read_lines(path)
            if len(tokens) < 2 or tokens[1] != '-1'
        }
    elif split == 'val':
        names = set(read_val_frame_list(root))  # prefixed there
    else:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return sorted(names)


def _with_split_prefix(name: str, split: str) -> str:
    """``name`` relative to ``Data/VID``: prefixed with ``<split>/``."""
    return name if name.startswith(split + '/') else f'{split}/{name}'


def _is_whole_number(token: str) -> bool:
    """Whether ``token`` is ASCII digits only (``str.isdigit`` also takes
    digits such as ``'²'``, which ``int`` refuses)."""
    return token.isascii() and token.isdigit()


def val_frame_list_path(root: str) -> str:
    """``ImageSets/VID/val.txt`` of an ILSVRC2015 root.

    Args:
        root (str): ILSVRC2015 root.

    Returns:
        str: The path of the list (whether or not the file exists).
    """
    return osp.join(root, 'ImageSets', 'VID', 'val.txt')


def read_val_frame_list(root: str) -> Dict[str, Dict[int, int]]:
    """Read the frames ``ImageSets/VID/val.txt`` lists, per video.

    Lines read ``<video>/<frame:06d> <index>``.

    Args:
        root (str): ILSVRC2015 root.

    Returns:
        dict[str, dict[int, int]]: Per video name (relative to
        ``Data/VID``, starting with ``val/``), its listed 0-based frames,
        each mapped to the (first) line number listing it.

    Raises:
        FileNotFoundError: If ``val.txt`` does not exist.
        ValueError: Naming the file and line if a line does not read
            ``<video>/<frame> <index>`` with a whole-number frame.
    """
    path = val_frame_list_path(root)
    if not osp.isfile(path):
        raise FileNotFoundError(f'val frame list not found: {path}')
    frames: Dict[str, Dict[int, int]] = {}
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            video, frame = osp.dirname(tokens[0]), osp.basename(tokens[0])
            if not video or not _is_whole_number(frame):
                raise ValueError(f'{path}, line {line_no}: cannot parse '
                                 f'{line.strip()!r}; lines must read '
                                 '<video>/<frame> <index>')
            frames.setdefault(_with_split_prefix(video, 'val'),
                              {}).setdefault(int(frame), line_no)
    return frames


def _read_fgfa_lines(
        list_file: str,
        split: Optional[str] = None) -> Dict[str, List[Tuple[int, int, int]]]:
    """``(0-based frame, line number, num_frames)`` per video of a list.

    Args:
        list_file (str): Path of the list.
        split (str, optional): Name the videos relative to ``Data/VID``,
            prefixed with ``<split>/`` where the list leaves it out (FGFA's
            own list has it), as the converter's other lists and ImageSets
            are read. Defaults to None (the names as written).
    """
    entries: Dict[str, List[Tuple[int, int, int]]] = {}
    with open(list_file) as f:
        for line_no, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) < 4 or not (_is_whole_number(tokens[2])
                                       and _is_whole_number(tokens[3])):
                raise ValueError(f'{list_file}, line {line_no}: cannot parse '
                                 f'{line.strip()!r}; expected <video> <any> '
                                 '<frame> <num_frames>')
            video = tokens[0] if split is None else _with_split_prefix(
                tokens[0], split)
            entries.setdefault(video, []).append(
                (int(tokens[2]) - 1, line_no, int(tokens[3])))
    return entries


def read_fgfa_key_frames(list_file: str) -> Dict[str, List[int]]:
    """Read FGFA's ``Lists/VID_train_15frames.txt`` (as mmtrack does).

    Lines read ``<video> <any> <frame> <num_frames>``. As in mmtrack's
    ``imagenet2coco_vid.py``, the frame number is taken as 1-based and
    made 0-based by subtracting 1; the returned frames index the video's
    frame files ``000000.xml, 000001.xml, ...``.

    Args:
        list_file (str): Path of the list.

    Returns:
        dict[str, list[int]]: 0-based key frames per video name.

    Raises:
        ValueError: Naming the file and line if a line cannot be parsed.
    """
    return {
        video: [frame for frame, _, _ in entries]
        for video, entries in _read_fgfa_lines(list_file).items()
    }


def _fgfa_video_key_frames(entries: Dict[str, List[Tuple[int, int, int]]],
                           list_file: str, name: str,
                           num_frames: int) -> List[int]:
    """Sorted 0-based key frames of video ``name`` from an FGFA list.

    An entry with frame 0 (0-based -1) names no frame of the video under
    the 1-based reading; it is left out, as mmtrack's converter leaves it
    out, and :func:`convert_vid` logs how many there were.

    Raises:
        ValueError: Naming the list file and line if a frame lies beyond
            the video's ``num_frames`` frames, or the line's frame count
            (which mmtrack's converter takes as the video's length) is not
            ``num_frames``.
    """
    for frame, line_no, listed_frames in entries.get(name, []):
        if listed_frames != num_frames:
            raise ValueError(
                f'{list_file}, line {line_no}: gives {listed_frames} frames '
                f'for video {name}, which has {num_frames} frames')
        if not -1 <= frame < num_frames:
            raise ValueError(
                f'{list_file}, line {line_no}: frame {frame + 1} (1-based; '
                f'{frame} 0-based) is outside video {name}, which has '
                f'{num_frames} frames (1-based 1..{num_frames})')
    frames = {frame for frame, _, _ in entries.get(name, [])}
    return sorted(frame for frame in frames if frame >= 0)


def list_video_frames(ann_dir: str) -> int:
    """Count the frames of a video from its XML files.

    Frames must be named ``000000.xml``, ``000001.xml``, ... with no gap.

    Args:
        ann_dir (str): ``Annotations/VID/<split>/<video>`` directory.

    Returns:
        int: Number of frames.
    """
    if not osp.isdir(ann_dir):
        raise FileNotFoundError(f'video annotation dir not found: {ann_dir}')
    names = sorted(n for n in os.listdir(ann_dir) if n.endswith('.xml'))
    if not names:
        raise ValueError(f'video has no frames (no .xml files): {ann_dir}')
    for i, name in enumerate(names):
        if name != f'{i:06d}.xml':
            raise ValueError(f'{ann_dir}: expected frame file {i:06d}.xml '
                             f'but found {name} (missing or extra frame)')
    return len(names)


def _first_names(names: Sequence[str], limit: int = 5) -> str:
    """``'000011, 000012'``: the first ``limit`` names, then a count."""
    more = len(names) - limit
    return ', '.join(names[:limit]) + (f' and {more} more' if more > 0 else '')


def _frame_names(frames: Sequence[int], limit: int = 5) -> str:
    """``'000011, 000012'`` (the first ``limit`` frames, then a count)."""
    return _first_names([f'{frame:06d}' for frame in frames], limit)


def check_video_images(root: str, name: str, num_frames: int) -> bool:
    """Check that a VID video has no JPEG frame beyond its annotated ones.

    The frame count comes from the XMLs (:func:`list_video_frames`), so a
    video whose last XMLs are lost would otherwise convert shorter without
    a word. Every ``*.JPEG`` of ``Data/VID/<video>`` must be one of
    ``000000.JPEG`` to ``<num_frames - 1>.JPEG``. Annotated frames without
    a JPEG are not looked for here: as before, images are read only with
    ``check_images`` (or for an XML without ``<size>``), and loading a
    missing image fails naming it.

    Args:
        root (str): ILSVRC2015 root.
        name (str): Video name relative to ``Data/VID``.
        num_frames (int): Number of annotated frames (XMLs) of the video.

    Returns:
        bool: False if the video has no image directory (nothing checked),
        else True.

    Raises:
        ValueError: Naming the video and the JPEG frames, if a JPEG frame
            has no XML (annotations missing, e.g. a video cut short at the
            end).
    """
    img_dir = osp.join(root, 'Data', 'VID', name)
    if not osp.isdir(img_dir):
        return False
    suffix = '.JPEG'
    annotated = {f'{i:06d}{suffix}' for i in range(num_frames)}
    no_xml = sorted(
        n for n in os.listdir(img_dir)
        if n.endswith(suffix) and n not in annotated)
    if no_xml:
        raise ValueError(
            f'video {name}: {len(no_xml)} JPEG frames in {img_dir} have no '
            f'annotation XML ({_first_names(no_xml)}); '
            f'Annotations/VID/{name} holds frames 000000..'
            f'{num_frames - 1:06d} only: missing XMLs (a video cut short at '
            'the end?)')
    return True


def _check_val_frames(listed: Dict[int, int], root: str, name: str,
                      num_frames: int) -> None:
    """Check that ``val.txt`` lists exactly the annotated frames of a video.

    Args:
        listed (dict[int, int]): The video's frames in ``val.txt`` and
            their line numbers (see :func:`read_val_frame_list`).
        root (str): ILSVRC2015 root.
        name (str): Video name relative to ``Data/VID``.
        num_frames (int): Number of annotated frames (XMLs) of the video.

    Raises:
        ValueError: Naming the list, the video and the frames (and the line
            of the first listed frame without an XML).
    """
    path = val_frame_list_path(root)
    no_xml = sorted(f for f in listed if f >= num_frames)
    if no_xml:
        raise ValueError(
            f'{path}, line {listed[no_xml[0]]}: video {name} lists '
            f'{len(no_xml)} frames without an annotation XML '
            f'({_frame_names(no_xml)}); Annotations/VID/{name} holds frames '
            f'000000..{num_frames - 1:06d}: missing XMLs (a video cut short '
            'at the end?)')
    unlisted = [f for f in range(num_frames) if f not in listed]
    if unlisted:
        raise ValueError(
            f'{path}: video {name} has {len(unlisted)} annotated frames that '
            f'are not listed ({_frame_names(unlisted)}); val.txt must list '
            'every frame of its videos')


class _CocoVIDWriter:
    """Accumulates CocoVID entries with running ids."""

    def __init__(self, categories: List[dict]) -> None:
        self.out = dict(
            categories=categories, videos=[], images=[], annotations=[])
        self.synset2cat = {
            c['encode_name']: c['id']
            for c in categories if c['encode_name'] is not None
        }
        self.counts: Counter = Counter()

    def add_image(self, **fields) -> int:
        """Append an ``images`` entry with the next id (from 1).

        Args:
            **fields: The entry's other keys (``file_name``, ``height``,
                ...).

        Returns:
            int: The new image's id.
        """
        image = dict(id=len(self.out['images']) + 1)
        image.update(fields)
        self.out['images'].append(image)
        return image['id']

    def add_annotation(self, bbox: Sequence[float], **fields) -> None:
        """Append an ``annotations`` entry with the next id (from 1).

        The box is stored as COCO ``[x1, y1, w, h]`` with its ``area`` and
        ``iscrowd=False``, and the entry is counted for its
        ``category_id``.

        Args:
            bbox (Sequence[float]): ``(x1, y1, x2, y2)`` box.
            **fields: The entry's other keys; ``category_id`` is required.
        """
        x1, y1, x2, y2 = bbox
        w, h = x2 - x1, y2 - y1
        ann = dict(id=len(self.out['annotations']) + 1)
        ann.update(fields)
        ann.update(bbox=[x1, y1, w, h], area=w * h, iscrowd=False)
        self.out['annotations'].append(ann)
        self.counts[fields['category_id']] += 1


def _frame_size(info: dict, xml_path: str, img_path: str, check_images: bool,
                size_mismatches: List[str]) -> Tuple[int, int]:
    """(height, width) from the XML, checked against the image if asked.

    A checked image of another size than its XML's is appended to
    ``size_mismatches`` (see :func:`_raise_size_mismatches`) and the XML's
    size returned, so that one conversion lists every such image.
    """
    if info['height'] is None or check_images:
        height, width = read_image_size(img_path)
        if info['height'] is None:
            return height, width
        if (height, width) != (info['height'], info['width']):
            size_mismatches.append(
                f'{img_path} is {width}x{height} but {xml_path} says '
                f"{info['width']}x{info['height']}")
    return info['height'], info['width']


def _raise_size_mismatches(size_mismatches: Sequence[str], where: str) -> None:
    """Raise a ValueError listing the images whose size is not their XML's.

    Args:
        size_mismatches (Sequence[str]): One line per image (from
            :func:`_frame_size`).
        where (str): The converted set, for the message.
    """
    if size_mismatches:
        raise ValueError(
            f'{where}: {len(size_mismatches)} images differ in size from '
            'their annotation XML (their boxes would be in the wrong '
            'pixels):\n' + '\n'.join(size_mismatches))


def convert_vid(root: str,
                split: str,
                class_table: Sequence[Sequence[str]] = (
                    IMAGENET_VID_CLASS_TABLE),
                num_key_frames: int = 15,
                key_frame_list: Optional[str] = None,
                check_images: bool = False,
                unknown_classes: str = 'error',
                show_progress: bool = True) -> dict:
    """Convert one ILSVRC2015 VID split to a CocoVID dict.

    Args:
        root (str): ILSVRC2015 root (holding ``Data``, ``Annotations``,
            ``ImageSets``).
        split (str): ``'train'`` or ``'val'``.
        class_table (Sequence[Sequence[str]]): ``(synset, name)`` pairs;
            category ids are 1..C in this order. Defaults to the 30 VID
            classes.
        num_key_frames (int): Key frames per training video, see
            :func:`select_key_frames`. Defaults to 15.
        key_frame_list (str, optional): FGFA-style list giving the training
            key frames instead (1-based frame column, see
            :func:`read_fgfa_key_frames`). Defaults to None.
        check_images (bool): Decode every image and check its size against
            the XML. Defaults to False.
        unknown_classes (str): ``'error'`` (raise on a synset outside the
            class table) or ``'skip'`` (drop and count such boxes).
            Defaults to ``'error'``.
        show_progress (bool): Show a tqdm bar. Defaults to True.

    Returns:
        dict: CocoVID ``categories``, ``videos``, ``images``,
        ``annotations``.
    """
    if unknown_classes not in ('error', 'skip'):
        raise ValueError("unknown_classes must be 'error' or 'skip', got "
                         f'{unknown_classes!r}')
    writer = _CocoVIDWriter(make_categories(class_table))
    # the list's videos as ImageSets name them (key frames are for train)
    fgfa = _read_fgfa_lines(key_frame_list,
                            'train') if key_frame_list else None
    val_frames, videos = _vid_split_videos(root, split)
    without_images: List[str] = []
    size_mismatches: List[str] = []
    trackid_repeats: List[str] = []
    if fgfa is not None and split == 'train':
        _check_fgfa_list(fgfa, key_frame_list, root, videos)
    for video_id, name in enumerate(
            tqdm(videos, desc=f'VID {split}', disable=not show_progress), 1):
        num_frames = list_video_frames(
            osp.join(root, 'Annotations', 'VID', name))
        if val_frames is not None:
            _check_val_frames(val_frames[name], root, name, num_frames)
        if not check_video_images(root, name, num_frames):
            without_images.append(name)
        key_frames = _vid_key_frames(split, name, num_frames, num_key_frames,
                                     fgfa, key_frame_list)
        writer.out['videos'].append(
            dict(id=video_id, name=name, vid_train_frames=key_frames))
        _convert_video(writer, root, split, name, video_id, num_frames,
                       set(key_frames), check_images, unknown_classes,
                       size_mismatches, trackid_repeats)
    _raise_size_mismatches(size_mismatches, f'VID {split}')
    _warn_of_vid_irregularities(writer, split, trackid_repeats, without_images)
    _log_summary(writer, f'VID {split}')
    return writer.out


def _vid_split_videos(
        root: str,
        split: str) -> Tuple[Optional[Dict[str, Dict[int, int]]], List[str]]:
    """The videos of a VID split, from its ImageSets list.

    Args:
        root (str): ILSVRC2015 root.
        split (str): ``'train'`` or ``'val'``.

    Returns:
        tuple: The val frame list (:func:`read_val_frame_list`, read once:
        its frames are checked against the XMLs) or None for train; and
        the video names, sorted for val.

    Raises:
        ValueError: If the list names no video.
    """
    val_frames = read_val_frame_list(root) if split == 'val' else None
    videos = sorted(val_frames) if split == 'val' else read_vid_video_list(
        root, split)
    if not videos:
        listed_in = 'val.txt' if split == 'val' else 'train_<k>.txt'
        raise ValueError(
            f'VID {split}: {osp.join(root, "ImageSets", "VID", listed_in)} '
            'lists no videos')
    return val_frames, videos


def _vid_key_frames(split: str, name: str, num_frames: int,
                    num_key_frames: int,
                    fgfa: Optional[Dict[str, List[Tuple[int, int, int]]]],
                    key_frame_list: Optional[str]) -> List[int]:
    """The 0-based training key frames of one video.

    Args:
        split (str): ``'train'`` or ``'val'``.
        name (str): The video, as listed.
        num_frames (int): Its frames.
        num_key_frames (int): Key frames to select when no FGFA list is
            given (:func:`select_key_frames`).
        fgfa (dict, optional): The FGFA list's entries per video
            (:func:`_read_fgfa_lines`), or None.
        key_frame_list (str, optional): That list's path, for messages.

    Returns:
        list[int]: Empty for val (mmtrack's test mode asserts none); else
        the FGFA list's frames of the video or the selected ones.
    """
    if split == 'val':
        return []  # mmtrack's test mode asserts none
    if fgfa is not None:
        return _fgfa_video_key_frames(fgfa, key_frame_list, name, num_frames)
    return select_key_frames(num_frames, num_key_frames)


def _warn_of_vid_irregularities(writer: _CocoVIDWriter, split: str,
                                trackid_repeats: List[str],
                                without_images: List[str]) -> None:
    """Log the warnings of a converted VID split: trackids that change
    class, frames that repeat a trackid and videos without images.

    Args:
        writer (_CocoVIDWriter): The split's writer, with its counts.
        split (str): ``'train'`` or ``'val'``.
        trackid_repeats (list[str]): Frames giving a trackid to two or
            more objects.
        without_images (list[str]): Videos with no image directory.
    """
    changed = writer.counts['trackids_that_change_class']
    if changed:
        print_log(
            f'VID {split}: {changed} trackids change class within their '
            'video; each stays one instance, as in mmtrack, so its motion '
            'IoU (the speed split) uses all its boxes',
            logger='current',
            level=logging.WARNING)
    _warn(
        trackid_repeats, f'VID {split}: {len(trackid_repeats)} frames give '
        'a trackid to two or more objects (first: '
        f'{trackid_repeats[0] if trackid_repeats else ""}); kept, the boxes '
        'sharing their track\'s instance as in mmtrack (training uses no '
        'track; such a frame is an error in val)')
    _warn(
        without_images, f'VID {split}: {len(without_images)} videos have no '
        'image directory under Data/VID (e.g. '
        f'{without_images[:3]}); their annotation XMLs could not be checked '
        'against their JPEG frames, so frames missing at the end would go '
        'unnoticed')


def _check_fgfa_list(fgfa: Dict[str, List[Tuple[int, int, int]]],
                     list_file: str, root: str, videos: List[str]) -> None:
    """Warn about what an FGFA key-frame list and the videos do not share.

    Nothing here changes the converted data, so these are warnings, not
    errors (a list of all ILSVRC videos may be used with a subset of them
    on disk): listed videos that do not exist (no
    ``Annotations/VID/<video>`` directory; a wrong prefix shows here),
    listed videos outside the training ImageSets, training videos without
    an entry, and entries with frame 0.
    """
    missing, not_in_split, video_set = [], [], set(videos)
    for name, entries in fgfa.items():
        if name in video_set:
            continue
        if osp.isdir(osp.join(root, 'Annotations', 'VID', name)):
            not_in_split.append(name)
        else:
            missing.append((name, entries[0][1]))
    _warn(
        missing, f'{list_file}: {len(missing)} listed videos do not exist '
        f'under Annotations/VID (first: {missing[0][0] if missing else ""} '
        f'at line {missing[0][1] if missing else 0}; names are relative '
        'to Data/VID, e.g. train/...)')
    _warn(
        not_in_split, f'{list_file}: {len(not_in_split)} listed videos '
        'are not in ImageSets/VID/train_<k>.txt and are not converted, '
        f'e.g. {not_in_split[:3]}')
    unlisted = [name for name in videos if name not in fgfa]
    _warn(
        unlisted, f'{list_file}: {len(unlisted)} of the {len(videos)} '
        'training videos are not in the key-frame list and get no key '
        f'frames, e.g. {unlisted[:3]}')
    zero_lines = [
        line_no for entries in fgfa.values() for frame, line_no, _ in entries
        if frame == -1
    ]
    _warn(
        zero_lines, f'{list_file}: {len(zero_lines)} entries give frame 0 '
        f'(first at line {min(zero_lines, default=0)}), which the 1-based '
        'frame column puts before the first frame; they are not key '
        'frames (as in mmtrack). If the list is 0-based, every key frame '
        'is one frame early.')


def _warn(found: list, message: str) -> None:
    """Log ``message`` as a warning if ``found`` is not empty."""
    if found:
        print_log(message, logger='current', level=logging.WARNING)


def _check_one_box_per_trackid(objects: List[dict], xml_path: str, split: str,
                               trackid_repeats: List[str]) -> None:
    """Refuse, in val, a ``<trackid>`` given to two objects of a frame.

    A val track has one box per frame, else its motion IoU (the speed
    split) is ambiguous. Training uses no track, so in train the frame is
    kept (its boxes share the track's instance, as mmtrack writes them)
    and its XML is added to ``trackid_repeats``.

    Raises:
        ValueError: In val, naming the XML and the trackid.
    """
    tracks = Counter(o['trackid'] for o in objects if o['trackid'] is not None)
    repeated = [t for t, n in tracks.items() if n > 1]
    if not repeated:
        return
    if split == 'val':
        raise ValueError(f'{xml_path}: trackid {repeated[0]} is given to '
                         f'{tracks[repeated[0]]} objects of the frame; a '
                         'val track has one box per frame, else its motion '
                         'IoU (the speed split) is ambiguous')
    trackid_repeats.append(xml_path)


def _convert_video(writer: _CocoVIDWriter, root: str, split: str, name: str,
                   video_id: int, num_frames: int, key_frames: set,
                   check_images: bool, unknown_classes: str,
                   size_mismatches: List[str],
                   trackid_repeats: List[str]) -> None:
    """Add the images and annotations of one video."""
    tracks: Dict[str, Tuple[int, set]] = {}
    video_size = None
    beyond: List[Tuple[str, int]] = []
    for frame_id in range(num_frames):
        prefix = f'{name}/{frame_id:06d}'
        xml_path = osp.join(root, 'Annotations', 'VID', prefix + '.xml')
        img_path = osp.join(root, 'Data', 'VID', prefix + '.JPEG')
        info = parse_voc_xml(xml_path)
        # a box of a skipped synset is not written, so its trackid cannot
        # clash (unknown_classes='error' refuses it in _add_video_objects)
        _check_one_box_per_trackid(
            [o for o in info['objects'] if o['name'] in writer.synset2cat],
            xml_path, split, trackid_repeats)
        height, width = _frame_size(info, xml_path, img_path, check_images,
                                    size_mismatches)
        if video_size is None:
            video_size = (height, width)
        elif (height, width) != video_size:
            raise ValueError(
                f'{xml_path}: frame size {width}x{height} differs from the '
                f'first frame of video {name} ({video_size[1]}x'
                f'{video_size[0]})')
        fields = dict(
            file_name=prefix + '.JPEG',
            height=height,
            width=width,
            frame_id=frame_id,
            video_id=video_id,
            is_vid_train_frame=frame_id in key_frames)
        if info['degradation'] is not None:
            fields['degradation'] = info['degradation']
        image_id = writer.add_image(**fields)
        if not info['objects']:
            writer.counts['frames_without_objects'] += 1
        num_beyond = count_boxes_beyond(info['objects'], height, width)
        if num_beyond:
            beyond.append((xml_path, num_beyond))
        _add_video_objects(writer, info['objects'], xml_path, video_id,
                           image_id, tracks, unknown_classes)
    writer.counts['trackids_that_change_class'] += sum(
        len(categories) > 1 for _, categories in tracks.values())
    _warn_boxes_beyond(beyond, f'video {name}')


def _add_video_objects(writer: _CocoVIDWriter, objects: List[dict],
                       xml_path: str, video_id: int, image_id: int,
                       tracks: Dict[str,
                                    Tuple[int,
                                          set]], unknown_classes: str) -> None:
    """Add the annotations of one VID frame; ``tracks`` grows.

    ``tracks`` maps a ``<trackid>`` of the video to its ``instance_id`` and
    the category ids its boxes have had. A ``<trackid>`` keeps its instance
    when its class changes, as in mmtrack's files: the boxes follow one
    object, and the motion IoU of a track does not depend on its label.
    """
    for obj in objects:
        category_id = writer.synset2cat.get(obj['name'])
        if category_id is None:
            if unknown_classes == 'error':
                raise ValueError(f"{xml_path}: synset {obj['name']} is not "
                                 'in the class table')
            writer.counts['skipped_unknown_class'] += 1
            continue
        if obj['trackid'] is None:
            raise ValueError(f'{xml_path}: <object> has no <trackid>')
        if obj['trackid'] not in tracks:
            writer.counts['instances'] += 1
            tracks[obj['trackid']] = (writer.counts['instances'], set())
        instance_id, categories = tracks[obj['trackid']]
        categories.add(category_id)
        writer.add_annotation(
            obj['bbox'],
            video_id=video_id,
            image_id=image_id,
            category_id=category_id,
            instance_id=instance_id,
            occluded=obj['occluded'],
            generated=obj['generated'])


def read_det_image_list(root: str,
                        class_indices: Optional[Sequence[int]] = None,
                        image_list: Optional[str] = None) -> List[str]:
    """Candidate DET images, relative to ``Data/DET`` without extension.

    Args:
        root (str): ILSVRC2015 root.
        class_indices (Sequence[int], optional): Read only
            ``ImageSets/DET/train_<k>.txt`` for these k (the DET indices of
            the wanted classes); all ``train_<k>.txt`` files when None.
            Defaults to None.
        image_list (str, optional): A list file (e.g. FGFA's
            ``Lists/DET_train_30classes.txt``) whose first column names the
            images relative to ``Data/DET``; used instead of ImageSets. It
            is a sampling list: an image it names twice is returned twice,
            as mmtrack's converter writes one image entry per line. The
            ImageSets, one per class, name an image once per class, and
            give it once. Defaults to None.

    Returns:
        list[str]: Sorted image names, e.g. ``'train/ILSVRC2013_train/...'``.
    """
    if image_list is not None:
        return sorted(
            _with_split_prefix(tokens[0], 'train')
            for tokens in _read_lines(image_list))
    set_dir = osp.join(root, 'ImageSets', 'DET')
    if class_indices is None:
        files = _numbered_files(set_dir, 'train_')
    else:
        files = [osp.join(set_dir, f'train_{k}.txt') for k in class_indices]
    if not files:
        raise FileNotFoundError(
            f'no ImageSets/DET/train_<k>.txt files in {set_dir}')
    names = set()
    for path in files:
        if not osp.isfile(path):
            raise FileNotFoundError(f'DET image set not found: {path}')
        # prefixed before the union, so that an image listed with and
        # without 'train/' is given once
        names |= {
            _with_split_prefix(tokens[0], 'train')
            for tokens in _read_lines(path)
            if len(tokens) < 2 or tokens[1] != '-1'
        }
    return sorted(names)


def convert_det(root: str,
                class_table: Sequence[Sequence[str]] = (
                    IMAGENET_VID_CLASS_TABLE),
                class_indices: Optional[Sequence[int]] = None,
                image_list: Optional[str] = None,
                check_images: bool = False,
                show_progress: bool = True) -> dict:
    """Convert ILSVRC DET train, restricted to the class table, to CocoVID.

    Candidate images come from :func:`read_det_image_list`; an image is kept
    when it has at least one object of the class table. Its objects of other
    synsets get the extra category ``other_categeries`` (id C+1), as in
    mmtrack's ``imagenet_det_30plus1cls.json``. Every kept image is a
    training key frame (``is_vid_train_frame=True``); images have no
    ``video_id`` (each becomes a one-frame video) and annotations have
    ``instance_id`` -1. A kept image that ``image_list`` names twice gets
    two entries (one warning counts such images).

    Args:
        root (str): ILSVRC2015 root.
        class_table (Sequence[Sequence[str]]): ``(synset, name)`` pairs.
            Defaults to the 30 VID classes.
        class_indices (Sequence[int], optional): See
            :func:`read_det_image_list`. Defaults to None.
        image_list (str, optional): See :func:`read_det_image_list`.
            Defaults to None.
        check_images (bool): Decode every image and check its size.
            Defaults to False.
        show_progress (bool): Show a tqdm bar. Defaults to True.

    Returns:
        dict: CocoVID ``categories``, ``images``, ``annotations``.
    """
    table = check_class_table(class_table)
    writer = _CocoVIDWriter(make_categories(table, with_other=True))
    del writer.out['videos']
    other_id = len(table) + 1
    names = read_det_image_list(root, class_indices, image_list)
    beyond: List[Tuple[str, int]] = []
    size_mismatches: List[str] = []
    left_out = set()  # names without an object of the class table
    for name in tqdm(names, desc='DET', disable=not show_progress):
        xml_path = osp.join(root, 'Annotations', 'DET', name + '.xml')
        img_path = osp.join(root, 'Data', 'DET', name + '.JPEG')
        info = parse_voc_xml(xml_path)
        cats = [
            writer.synset2cat.get(o['name'], other_id) for o in info['objects']
        ]
        if all(c == other_id for c in cats):
            left_out.add(name)
            continue
        height, width = _frame_size(info, xml_path, img_path, check_images,
                                    size_mismatches)
        num_beyond = count_boxes_beyond(info['objects'], height, width)
        if num_beyond:
            beyond.append((xml_path, num_beyond))
        image_id = writer.add_image(
            file_name=name + '.JPEG',
            height=height,
            width=width,
            is_vid_train_frame=True)
        for obj, category_id in zip(info['objects'], cats):
            writer.add_annotation(
                obj['bbox'],
                image_id=image_id,
                category_id=category_id,
                instance_id=-1)
    if not writer.out['images']:
        raise ValueError(
            f'DET: none of the {len(names)} listed images under {root} has '
            'an object of the class table')
    _raise_size_mismatches(size_mismatches, 'DET')
    writer.counts['images_without_table_class'] = len(left_out)
    repeats = Counter(im['file_name'] for im in writer.out['images'])
    repeated = sorted(n for n, k in repeats.items() if k > 1)
    _warn(
        repeated, f'DET: {len(repeated)} images are listed more than once '
        f'in {image_list} (e.g. {_first_names(repeated, 3)}); each line '
        'gives an image entry, as in mmtrack, so such an image is sampled '
        'as often as it is listed')
    _warn_boxes_beyond(beyond, 'DET')
    _log_summary(writer, 'DET')
    return writer.out


def save_json(data: dict, out_file: str) -> None:
    """Write a CocoVID dict as JSON, creating the directory.

    Args:
        data (dict): The CocoVID dict.
        out_file (str): The JSON file to write (overwritten if it exists).
    """
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    with open(out_file, 'w') as f:
        json.dump(data, f)


def _log_summary(writer: _CocoVIDWriter, title: str) -> None:
    """Log image/box counts per category and the skip counters."""
    out, counts = writer.out, writer.counts
    lines = [
        f'{title}: {len(out.get("videos", []))} videos, '
        f'{len(out["images"])} images, {len(out["annotations"])} boxes, '
        f'{sum(bool(i["is_vid_train_frame"]) for i in out["images"])} key '
        'frames'
    ]
    for key in ('frames_without_objects', 'skipped_unknown_class',
                'images_without_table_class'):
        if counts[key]:
            lines.append(f'  {key.replace("_", " ")}: {counts[key]}')
    for cat in out['categories']:
        lines.append(f"  {cat['id']:3d} {cat['name']}: "
                     f"{counts[cat['id']]} boxes")
    print_log('\n'.join(lines), logger='current')
