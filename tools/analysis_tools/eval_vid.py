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
a subset or another order. When a frame of the file has a ``degradation``
other than ``'none'`` (SynthVID), ``mAP_clean`` and ``mAP_degraded`` are
reported too, as in ``tools/test.py`` and ``compare_vid.py``.
"""
import argparse
import json
from typing import List, Optional, Sequence, Tuple

from mmdet.registry import DATASETS
from mmengine.fileio import load

# importing memvid_mm registers its components (ImagenetVIDDataset)
from memvid_mm.evaluation.functional import (attach_ground_truth,
                                             check_dump_frames,
                                             evaluate_vid_frames,
                                             has_degradation, instances_to_gt)


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


def _category_id(category: dict):
    """Sort key of a CocoVID category."""
    return category['id']


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
        frame with ``img_id``, ``video_id``, ``frame_id``, ``degradation``
        (``'none'`` unless the file says otherwise) and the ``gt_*``
        arrays.
    """
    if classes is None:  # every category, sorted by id
        with open(ann_file) as f:
            categories = json.load(f).get('categories', [])
        classes = [
            str(cat['name']) for cat in sorted(categories, key=_category_id)
        ]
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
                degradation=img.get('degradation', 'none'))
            frame.update(instances_to_gt(img['instances']))
            frames.append(frame)
    return list(classes), frames


def load_dump_frames(dump: str, gt_frames: Sequence[dict],
                     num_classes: int) -> List[dict]:
    """Frame records (predictions + GT) of a ``DumpVIDResults`` pickle.

    Args:
        dump (str): Path of the pickle.
        gt_frames (Sequence[dict]): :func:`load_gt_frames`' frames.
        num_classes (int): C; every label must lie in ``[0, C)``.

    Returns:
        list[dict]: Frame records sorted by ``img_id``.

    Raises:
        TypeError: If the pickle is not a list of dicts.
        ValueError: If it is malformed, does not cover the annotated frames
            exactly, or holds a label outside ``[0, C)``.
    """
    entries = load(dump)
    check_dump_frames(entries)
    frames = attach_ground_truth(entries, gt_frames)
    for frame in frames:
        if frame['labels'].size and (frame['labels'].min() < 0
                                     or frame['labels'].max() >= num_classes):
            raise ValueError(f'img_id {frame["img_id"]}: labels must lie in '
                             f'[0, {num_classes})')
    return frames


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the tool; returns the metrics it printed."""
    args = parse_args(argv)
    classes, gt_frames = load_gt_frames(args.ann_file, args.classes,
                                        args.dataset_type)
    frames = load_dump_frames(args.dump, gt_frames, len(classes))
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
