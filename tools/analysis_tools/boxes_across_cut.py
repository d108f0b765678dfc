# Copyright (c) memvid_mm contributors. All rights reserved.
"""How many ground-truth boxes the "(split)" baseline cuts, by speed split.

The "(split)" baseline (``test_cfg.split_halves=True``) detects a frame's
left and right halves apart, so an object that crosses the frame's middle
column is seen only in parts. For every speed split of the VID metric
(FGFA's motion IoU, the splits' bounds inclusive as in the metric) this
prints the number of ground-truth boxes, how many cross the middle column
(``x1 < W / 2 < x2`` in the original image) and their median width.

Example::

    python tools/analysis_tools/boxes_across_cut.py \\
        data/synthvid/annotations/imagenet_vid_val.json
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

from memvid_mm.datasets import load_coco_vid
from memvid_mm.evaluation.functional import (DEFAULT_SPEED_RANGES,
                                             compute_motion_iou)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from eval_vid import load_gt_frames  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of the tool."""
    parser = argparse.ArgumentParser(
        description='Ground-truth boxes across the middle column of their '
        'frame, per speed split')
    parser.add_argument('ann_file', help='CocoVID annotation JSON')
    parser.add_argument(
        '--classes',
        nargs='+',
        help='class names in label order (default: every category)')
    return parser.parse_args(argv)


def boxes_across_cut(frames: Sequence[dict], widths: Dict[int,
                                                          int]) -> List[dict]:
    """Count the boxes that cross their frame's middle column, per split.

    Args:
        frames (Sequence[dict]): Frames with ``img_id``, ``video_id``,
            ``frame_id``, ``gt_bboxes`` (G, 4) ``(x1, y1, x2, y2)`` and
            ``gt_instance_ids`` (G,) (``load_gt_frames``).
        widths (dict[int, int]): Original image width W per ``img_id``.

    Returns:
        list[dict]: Per speed split (``DEFAULT_SPEED_RANGES``): ``split``,
        ``boxes``, ``across`` (boxes with ``x1 < W / 2 < x2``) and
        ``median_width`` (pixels; nan without boxes).
    """
    motion = compute_motion_iou([
        dict(
            bboxes=frame['gt_bboxes'],
            instance_ids=frame['gt_instance_ids'],
            video_id=frame['video_id'],
            frame_id=frame['frame_id']) for frame in frames
    ])
    boxes = np.concatenate([f['gt_bboxes'] for f in frames]).reshape(-1, 4)
    cuts = np.concatenate([
        np.full(len(f['gt_bboxes']), widths[f['img_id']] / 2) for f in frames
    ])
    ious = np.concatenate(motion)
    across = (boxes[:, 0] < cuts) & (cuts < boxes[:, 2])
    rows = []
    for name, (low, high) in DEFAULT_SPEED_RANGES:
        in_split = (low <= ious) & (ious <= high)
        box_widths = boxes[in_split, 2] - boxes[in_split, 0]
        rows.append(
            dict(
                split=name,
                boxes=int(in_split.sum()),
                across=int((in_split & across).sum()),
                median_width=float(np.median(box_widths))
                if len(box_widths) else float('nan')))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Print the table for the annotation file."""
    args = parse_args(argv)
    _, frames = load_gt_frames(args.ann_file, args.classes)
    widths = {
        image['id']: image['width']
        for image in load_coco_vid(args.ann_file)['images']
    }
    print('| split | boxes | across the middle | share | median width |')
    print('|---|---|---|---|---|')
    for row in boxes_across_cut(frames, widths):
        share = row['across'] / row['boxes'] if row['boxes'] else 0.0
        print(f"| {row['split']} | {row['boxes']} | {row['across']} | "
              f"{100 * share:.1f}% | {row['median_width']:.1f} |")


if __name__ == '__main__':
    main()
