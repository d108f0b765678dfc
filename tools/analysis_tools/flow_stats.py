# Copyright (c) memvid_mm contributors. All rights reserved.
"""How much does a trained memory model's FlowNet move, against the objects?

For consecutive frame pairs of a CocoVID set it reports the mean |flow| of
the model's FlowNet (whole image and inside object boxes) and the mean
box-centre motion of the objects themselves, in input pixels, so one can see
whether the flow learned the motion it should compensate.

Example::

    python tools/analysis_tools/flow_stats.py \\
        configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py \\
        work_dirs/demo/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid/epoch_3.pth
"""
import argparse
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config

from memvid_mm.apis import init_video_detector


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='FlowNet motion statistics')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument(
        '--pairs',
        type=int,
        default=100,
        help='consecutive frame pairs to measure')
    parser.add_argument(
        '--data-root', help="the test set's data root (default: the config's)")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error(f'--pairs must be at least 1, got {args.pairs}')
    return args


def read_frame(path: str) -> torch.Tensor:
    """A frame as a ``(1, 3, H, W)`` float BGR tensor, naming the file
    that cannot be read."""
    img = cv2.imread(path)
    if img is None:
        raise ValueError(f'cannot read the frame {path} (missing, truncated '
                         'or not an image)')
    return torch.from_numpy(img).permute(2, 0, 1)[None].float()


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
    """Run the tool; return the samples of each statistic."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if 'motion' not in cfg.model:
        raise ValueError(f'{args.config}: model has no motion network '
                         f'(model.motion; a {cfg.model.type}): give a memory '
                         'model config')
    model = init_video_detector(cfg, args.checkpoint)
    dataset = cfg.test_dataloader.dataset
    data_root = args.data_root or dataset.data_root
    ann_file = osp.join(data_root, dataset.ann_file)
    img_root = osp.join(data_root, dataset.data_prefix.img_path)
    with open(ann_file, encoding='utf-8') as f:
        coco = json.load(f)
    boxes = defaultdict(dict)
    for ann in coco['annotations']:
        boxes[ann['image_id']][ann['instance_id']] = ann['bbox']
    frames = {(img['video_id'], img['frame_id']): img
              for img in coco['images']}
    pairs = [(frames[key], frames[(key[0], key[1] - 1)])
             for key in sorted(frames) if (key[0], key[1] - 1) in frames]
    if not pairs:
        raise ValueError(f'{ann_file} has no two consecutive frames of a '
                         'video')
    pairs = pairs[::max(1, len(pairs) // args.pairs)][:args.pairs]
    preprocessor = model.data_preprocessor
    stats = defaultdict(list)
    for cur, prev in pairs:
        imgs = [
            read_frame(osp.join(img_root, img['file_name']))
            for img in (cur, prev)
        ]
        imgs = [(img[:, [2, 1, 0]] - preprocessor.mean) / preprocessor.std
                for img in imgs]
        with torch.no_grad():
            flow = model.motion(*imgs)[0]  # [2, H, W]
        magnitude = flow.norm(dim=0)
        stats['flow_image'].append(magnitude.mean().item())
        for track, (x, y, w, h) in boxes[cur['id']].items():
            if track not in boxes[prev['id']] or w < 1 or h < 1:
                continue
            px, py, pw, ph = boxes[prev['id']][track]
            stats['object_motion'].append(
                float(
                    np.hypot(px + pw / 2 - x - w / 2,
                             py + ph / 2 - y - h / 2)))
            x1, y1 = int(max(0, x)), int(max(0, y))
            inside = magnitude[y1:int(y + h), x1:int(x + w)]
            if inside.numel():
                stats['flow_objects'].append(inside.mean().item())
    print(f'{len(pairs)} consecutive frame pairs of {ann_file}')
    for key, label in (('flow_image', 'mean |flow|, whole image'),
                       ('flow_objects', 'mean |flow| inside object boxes'),
                       ('object_motion', 'mean object box-centre motion')):
        values = np.array(stats[key])
        if not len(values):
            print(f'{label}: no samples')
            continue
        print(f'{label}: {values.mean():.2f} px (max {values.max():.2f}, '
              f'{len(values)} samples)')
    return {key: np.array(values) for key, values in stats.items()}


if __name__ == '__main__':
    main()
