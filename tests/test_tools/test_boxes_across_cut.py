# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/boxes_across_cut.py: ground-truth boxes across the
middle column, per speed split."""
import json
import math
import os.path as osp

import numpy as np

from memvid_mm.datasets import (SYNTHVID_CLASS_TABLE, convert_vid,
                                generate_synthvid, save_json)
from . import load_tool


def _frame(img_id, frame_id, boxes, ids):
    return dict(
        img_id=img_id,
        video_id=0,
        frame_id=frame_id,
        gt_bboxes=np.array(boxes, np.float64).reshape(-1, 4),
        gt_instance_ids=np.array(ids, np.int64))


def test_counts_boxes_across_the_middle_per_speed_split():
    tool = load_tool('tools/analysis_tools/boxes_across_cut.py')
    # width 40, cut at x = 20: track 1 stands still across it (motion IoU
    # 1, slow); track 2 jumps to the far side and back (motion IoU 0,
    # fast) without touching it
    frames = [
        _frame(1, 0, [[10, 0, 30, 10], [0, 20, 5, 25]], [1, 2]),
        _frame(2, 1, [[10, 0, 30, 10], [30, 20, 35, 25]], [1, 2]),
        _frame(3, 2, [[10, 0, 30, 10], [0, 20, 5, 25]], [1, 2]),
    ]
    rows = {
        row['split']: row
        for row in tool.boxes_across_cut(frames, {
            1: 40,
            2: 40,
            3: 40
        })
    }
    assert (rows['all']['boxes'], rows['all']['across']) == (6, 3)
    assert (rows['fast']['boxes'], rows['fast']['across']) == (3, 0)
    assert (rows['slow']['boxes'], rows['slow']['across']) == (3, 3)
    assert rows['medium']['boxes'] == 0
    assert math.isnan(rows['medium']['median_width'])
    assert rows['slow']['median_width'] == 20
    assert rows['all']['median_width'] == 12.5


def test_prints_the_table_of_an_annotation_file(tmp_path, capsys):
    root = str(tmp_path)
    generate_synthvid(
        root,
        num_train_videos=1,
        num_val_videos=3,
        num_frames=12,
        width=64,
        height=48,
        seed=3)
    ann_file = osp.join(root, 'val.json')
    save_json(
        convert_vid(root, 'val', SYNTHVID_CLASS_TABLE, show_progress=False),
        ann_file)
    with open(ann_file) as f:
        coco = json.load(f)
    widths = {img['id']: img['width'] for img in coco['images']}
    across = sum(ann['bbox'][0] < widths[ann['image_id']] /
                 2 < ann['bbox'][0] + ann['bbox'][2]
                 for ann in coco['annotations'])
    load_tool('tools/analysis_tools/boxes_across_cut.py').main([ann_file])
    lines = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith('|')
    ]
    assert lines[0].startswith('| split | boxes | across the middle |')
    cells = [c.strip() for c in lines[2].strip('|').split('|')]
    assert cells[:3] == ['all', str(len(coco['annotations'])), str(across)]
