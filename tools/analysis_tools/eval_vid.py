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
reported too, as in ``tools/test.py`` and ``compare_vid.py``.
"""
import argparse
import json
import pickle
from typing import List, Optional, Sequence, Tuple

from mmdet.registry import DATASETS
from mmengine.fileio import load

from memvid_mm.datasets import load_coco_vid
# importing memvid_mm registers its components (ImagenetVIDDataset)
from memvid_mm.evaluation.functional import (attach_ground_truth,
                                             check_dump_frames,
                                             dump_class_names,
                                             evaluate_vid_frames,
                                             has_degradation, instances_to_gt)

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
    return parser.parse_args(argv)


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
        ``degradation`` (``'none'`` unless the file says otherwise) and the
        ``gt_*`` arrays.
    """
    if classes is None:  # every category, sorted by id
        classes = category_names(ann_file)
    if not classes:
        raise ValueError(f'{ann_file} has no categories and no --classes '
                         'were given')
    if DATASETS.get(dataset_type) is None:
        raise ValueError(f'dataset type {dataset_type!r} is not registered; '
                         'try --dataset-type BaseVideoDataset')
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
                file_name=img['file_name'],
                degradation=img.get('degradation', 'none'))
            frame.update(instances_to_gt(img['instances']))
            frames.append(frame)
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


def load_dump_frames(dump: str, gt_frames: Sequence[dict],
                     classes: Sequence[str]) -> List[dict]:
    """Frame records (predictions + GT) of a ``DumpVIDResults`` pickle.

    Args:
        dump (str): Path of the pickle.
        gt_frames (Sequence[dict]): :func:`load_gt_frames`' frames.
        classes (Sequence[str]): The C class names in label order; every
            label must lie in ``[0, C)``, and a dump that carries class
            names must carry these.

    Returns:
        list[dict]: Frame records sorted by ``img_id``.

    Raises:
        TypeError: If the pickle is not a list of dicts.
        ValueError: If it cannot be unpickled, is malformed, does not cover
            the annotated frames exactly, holds a label outside ``[0, C)``
            or other class names. Both name the file.
    """
    entries = read_dump(dump)
    try:
        check_dump_frames(entries)
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
    classes, gt_frames = load_gt_frames(args.ann_file, args.classes,
                                        args.dataset_type)
    frames = load_dump_frames(args.dump, gt_frames, classes)
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
