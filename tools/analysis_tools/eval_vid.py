# Copyright (c) memvid_mm contributors. All rights reserved.
"""Re-score a ``DumpVIDResults`` pickle with the official ImageNet VID
protocol (and motion-speed splits) without running the model.

Example::

    python tools/analysis_tools/eval_vid.py work_dirs/x/results.pkl \\
        data/ILSVRC/annotations/imagenet_vid_val.json

The ground truth is parsed by the same dataset class as at test time
(``--dataset-type``, default ``ImagenetVIDDataset``), so the same boxes
are kept and labels follow its ``cat2label`` for ``--classes`` (default:
every category of the file, sorted by category id; the label order of the
files written by the converters, ids 1..C in class-table order). Pass
``--classes`` when the test config sets ``metainfo=dict(classes=...)`` to
a subset or another order. A dump that carries the class names of the
model's dataset (``DumpVIDResults`` writes them) must agree with these,
else per-class AP would go to the wrong classes; older dumps without
names are read as before. When a frame of the file has a ``degradation``
other than ``'none'`` (SynthVID), ``mAP_clean`` and ``mAP_degraded`` are
reported too, as in ``tools/test.py`` and ``compare_vid.py``; as there,
every frame of the file or none must carry a ``degradation`` (a frame
without one is neither clean nor degraded).

A dump that records the annotation file it was made with
(``DumpVIDResults``' ``ann_file``, which ``tools/test.py --out`` sets) is
refused when the SHA-256 of the file given here differs, naming both
paths: another data set may have the same file names and image ids, and
its frames would be scored against the wrong boxes.
``--allow-other-ann-file`` scores it anyway (annotations edited on
purpose) and warns. A dump without the record (older dumps) is scored
with a warning: only its image ids, video / frame ids and (where dumped)
``img_path`` against the file names are checked against the file.
"""
import argparse
import json
import pickle
import warnings
from typing import List, Optional, Sequence, Tuple

from mmdet.datasets import BaseVideoDataset
from mmdet.registry import DATASETS
from mmengine.fileio import load

from memvid_mm.datasets import load_coco_vid
# importing memvid_mm registers its components (ImagenetVIDDataset)
from memvid_mm.evaluation.functional import (attach_ground_truth,
                                             check_degradation_values,
                                             check_dump_frames, dump_ann_file,
                                             dump_class_names,
                                             evaluate_vid_frames, file_sha256,
                                             has_degradation, instances_to_gt)
from memvid_mm.utils.output_paths import check_not_an_input

#: What unpickling a truncated or foreign file raises.
UNPICKLING_ERRORS = (pickle.UnpicklingError, EOFError, AttributeError,
                     ImportError, IndexError, TypeError, ValueError)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of the tool."""
    parser = argparse.ArgumentParser(
        description='Score a DumpVIDResults pickle with the ImageNet VID '
        'protocol (mAP, mAP_fast/medium/slow, COCO AP50).')
    parser.add_argument('dump', help='pickle written by DumpVIDResults')
    parser.add_argument('ann_file', help='CocoVID annotation JSON')
    parser.add_argument(
        '--classes',
        nargs='+',
        help='class names (category names of the file) in label order; '
        'default: every category of the file, sorted by category id')
    parser.add_argument(
        '--dataset-type',
        default='ImagenetVIDDataset',
        help='registered video dataset that parses the annotation file '
        '(default: ImagenetVIDDataset)')
    parser.add_argument(
        '--no-coco', action='store_true', help='skip the COCO-style AP50')
    parser.add_argument(
        '--coco-backend',
        default='numpy',
        choices=['numpy', 'pycocotools'],
        help='how to compute the COCO-style AP50 (same number; pycocotools '
        'is far slower on the full ImageNet VID val)')
    parser.add_argument(
        '--out', help='also write the metrics to this JSON file')
    add_allow_other_ann_file(parser)
    return parser.parse_args(argv)


def add_allow_other_ann_file(parser: argparse.ArgumentParser) -> None:
    """Add ``--allow-other-ann-file`` (shared with ``compare_vid.py``)."""
    parser.add_argument(
        '--allow-other-ann-file',
        action='store_true',
        help='score a dump that was made with another annotation file (its '
        'recorded SHA-256 differs from this one), e.g. after editing the '
        'annotations on purpose; a warning says the check was overridden')


def category_names(ann_file: str) -> List[str]:
    """Names of every category of a CocoVID file, sorted by category id.

    Raises:
        ValueError: If the file is not valid CocoVID JSON or a category
            lacks an ``id`` or a ``name``; names the file (and the id).
    """
    categories = load_coco_vid(ann_file)['categories']
    for category in categories:
        if not isinstance(category, dict) or 'id' not in category:
            raise ValueError(f'{ann_file}: category {category!r:.200} has '
                             'no "id"')
        if 'name' not in category:
            raise ValueError(f'{ann_file}: category id {category["id"]!r} '
                             'has no "name"')
    try:
        categories = sorted(categories, key=lambda category: category['id'])
    except TypeError:
        raise ValueError(f'{ann_file}: category ids of mixed types '
                         f'{[c["id"] for c in categories]!r:.200}') from None
    return [str(category['name']) for category in categories]


def load_gt_frames(
        ann_file: str,
        classes: Optional[Sequence[str]] = None,
        dataset_type: str = 'ImagenetVIDDataset'
) -> Tuple[List[str], List[dict]]:
    """Parse the annotation file as the test-time dataset does.

    Args:
        ann_file (str): CocoVID annotation JSON.
        classes (Sequence[str], optional): Class names in label order.
            Defaults to every category of the file, sorted by id (the
            label order of files written by the converters).
        dataset_type (str): Registered ``BaseVideoDataset`` subclass.
            Defaults to ``'ImagenetVIDDataset'``.

    Returns:
        tuple[list[str], list[dict]]: The class names and one dict per
        frame with ``img_id``, ``video_id``, ``frame_id``, ``file_name``,
        the ``gt_*`` arrays and, when the file gives every frame one,
        ``degradation``.

    Raises:
        ValueError: If the file has no categories, the dataset type is not
            a registered video dataset, a class is no category of the file,
            or only some frames carry a ``degradation`` value (absent or
            null), as the test-time metric refuses; names the file and the
            frames.
    """
    if classes is None:  # every category, sorted by id
        classes = category_names(ann_file)
    if not classes:
        raise ValueError(f'{ann_file} has no categories and no --classes '
                         'were given')
    dataset_class = DATASETS.get(dataset_type)
    if dataset_class is None:
        raise ValueError(f'dataset type {dataset_type!r} is not registered; '
                         'try --dataset-type BaseVideoDataset')
    if not issubclass(dataset_class, BaseVideoDataset):
        raise ValueError(f'dataset type {dataset_type!r} is not a video '
                         "dataset (mmdet's BaseVideoDataset); try "
                         '--dataset-type BaseVideoDataset')
    dataset = DATASETS.build(
        dict(
            type=dataset_type,
            ann_file=ann_file,
            metainfo=dict(classes=tuple(classes)),
            test_mode=True,
            pipeline=[]))
    known = {cat_id for cat_id in dataset.cat_ids}
    if len(known) != len(classes):
        raise ValueError(f'only {len(known)} of the {len(classes)} classes '
                         f'are categories of {ann_file}')
    frames = []
    for video_idx in range(len(dataset)):
        video = dataset.get_data_info(video_idx)
        for img in video['images']:
            # as BaseVideoDataset.prepare_data, which gives each frame the
            # video's id (also the made-up ids of one-image videos)
            frame = dict(
                img_id=img['img_id'],
                video_id=video['video_id'],
                frame_id=img['frame_id'],
                file_name=img['file_name'])
            # absent or null: no value (the metric reads metainfo as None)
            if img.get('degradation') is not None:
                frame['degradation'] = img['degradation']
            frame.update(instances_to_gt(img['instances']))
            frames.append(frame)
    check_degradation_values(frames, ann_file)
    return list(classes), frames


def read_dump(dump: str):
    """Unpickle a dump; an unreadable file is a ValueError naming it."""
    try:
        return load(dump, file_format='pkl')
    except UNPICKLING_ERRORS as error:
        raise ValueError(f'{dump}: not a readable pickle (truncated or not a '
                         f'DumpVIDResults file?): {type(error).__name__}: '
                         f'{error}') from error


def check_dump_classes(entries: Sequence[dict],
                       classes: Sequence[str]) -> None:
    """Check that the dump's class names (if any) are ``classes``.

    Args:
        entries (Sequence[dict]): Validated dump entries.
        classes (Sequence[str]): The class names the labels are scored as,
            in label order.

    Raises:
        ValueError: Naming both orders, if the dump carries other names
            or another order.
    """
    dumped = dump_class_names(entries)
    if dumped is not None and dumped != list(classes):
        raise ValueError(
            f'the dump was written with the classes {dumped} (label order) '
            f'but is scored with {list(classes)} (--classes, else every '
            'category of the annotation file sorted by id), so per-class AP '
            'would go to the wrong classes; pass --classes in the order of '
            'the dump')


def check_dump_ann_file(entries: Sequence[dict],
                        ann_file: str,
                        allow_other: bool = False,
                        dump: str = 'the dump') -> None:
    """Check that the dump was made with (a copy of) ``ann_file``.

    The file's content is compared (SHA-256), not its path: a copy at
    another path passes, another file with the same frame names does not.

    Args:
        entries (Sequence[dict]): Validated dump entries.
        ann_file (str): The annotation file the dump is scored with.
        allow_other (bool): Warn instead of raising when the recorded
            SHA-256 differs (``--allow-other-ann-file``). Defaults to
            False.
        dump (str): The dump's name for the warnings. Defaults to
            ``'the dump'``.

    Raises:
        ValueError: Naming both paths, if the dump records an annotation
            file of other content and ``allow_other`` is False, or its
            record is malformed.
    """
    recorded = dump_ann_file(entries)
    if recorded is None:
        warnings.warn(
            f'{dump} records no annotation file (an older dump, or '
            'DumpVIDResults without ann_file): could not check that it was '
            f'made with {ann_file}; only its img_id, video_id and frame_id '
            '(and its img_path, where dumped, against the file names) are '
            'checked')
        return
    sha256 = file_sha256(ann_file)
    if sha256 == recorded['sha256']:
        return
    what = (f'made with the annotation file {recorded["path"]} (SHA-256 '
            f'{recorded["sha256"][:12]}...) but scored with {ann_file} '
            f'(SHA-256 {sha256[:12]}...), whose content differs')
    if allow_other:
        warnings.warn(f'{dump} was {what}; scored anyway, as '
                      '--allow-other-ann-file overrides the check')
        return
    raise ValueError(
        f'the dump was {what}: the frames may be another data set\'s with '
        'the same file names and ids, scored against the wrong boxes. Score '
        'it with the annotation file it was made with, or pass '
        '--allow-other-ann-file if the annotations were changed on purpose')


def load_dump_frames(dump: str,
                     gt_frames: Sequence[dict],
                     classes: Sequence[str],
                     ann_file: str,
                     allow_other_ann_file: bool = False) -> List[dict]:
    """Frame records (predictions + GT) of a ``DumpVIDResults`` pickle.

    Args:
        dump (str): Path of the pickle.
        gt_frames (Sequence[dict]): :func:`load_gt_frames`' frames.
        classes (Sequence[str]): The C class names in label order; every
            label must lie in ``[0, C)``, and a dump that carries class
            names must carry these.
        ann_file (str): The annotation file of ``gt_frames``; a dump that
            records its annotation file must record this content (see
            :func:`check_dump_ann_file`).
        allow_other_ann_file (bool): Only warn when the dump records
            another annotation file. Defaults to False.

    Returns:
        list[dict]: Frame records sorted by ``img_id``.

    Raises:
        TypeError: If the pickle is not a list of dicts.
        ValueError: If it cannot be unpickled, is malformed, was made with
            another annotation file, does not cover the annotated frames
            exactly, holds a label outside ``[0, C)`` or other class
            names. Both name the file.
    """
    entries = read_dump(dump)
    try:
        check_dump_frames(entries)
        check_dump_ann_file(entries, ann_file, allow_other_ann_file, dump)
        check_dump_classes(entries, classes)
        frames = attach_ground_truth(entries, gt_frames)
    except TypeError as error:
        raise TypeError(f'{dump}: {error}') from None
    except ValueError as error:
        raise ValueError(f'{dump}: {error}') from None
    num_classes = len(classes)
    for frame in frames:
        if frame['labels'].size and (frame['labels'].min() < 0
                                     or frame['labels'].max() >= num_classes):
            raise ValueError(f'{dump}: img_id {frame["img_id"]}: labels must '
                             f'lie in [0, {num_classes})')
    return frames


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the tool; returns the metrics it printed."""
    args = parse_args(argv)
    check_not_an_input(args.out, '--out', {
        'the dump': args.dump,
        'the annotation file': args.ann_file
    })
    classes, gt_frames = load_gt_frames(args.ann_file, args.classes,
                                        args.dataset_type)
    frames = load_dump_frames(args.dump, gt_frames, classes, args.ann_file,
                              args.allow_other_ann_file)
    metrics, report = evaluate_vid_frames(
        frames,
        class_names=classes,
        with_coco_ap50=not args.no_coco,
        coco_backend=args.coco_backend,
        with_degradation=has_degradation(frames))
    print(report)
    print(f'{len(frames)} frames, {len(classes)} classes')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(metrics, f, indent=2)
    return metrics


if __name__ == '__main__':
    main()
