# Copyright (c) memvid_mm contributors. All rights reserved.
"""Generate SynthVID in the ILSVRC2015 VID layout and convert it to CocoVID.

Example::

    python tools/misc/gen_synthvid.py --out data/synthvid \\
        --num-train-videos 24 --num-val-videos 32 --seed 0 \\
        --preview docs/synthvid.png

writes ``data/synthvid/{Data,Annotations,ImageSets}``,
``data/synthvid/annotations/imagenet_vid_{train,val}.json`` (unless
``--no-convert``) and ``data/synthvid/synthvid.json`` (the settings and
counts).
"""
import argparse
import json
import os.path as osp
from typing import List, Optional

from memvid_mm.datasets import (BLUR_MODES, DEGRADATIONS, SYNTHVID_CLASS_TABLE,
                                VID_ANN_FILES, box_motion_ious, convert_vid,
                                generate_synthvid, render_preview, save_json,
                                speed_split)
from memvid_mm.datasets.synthvid import SETTINGS_FILE


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Generate SynthVID')
    parser.add_argument('--out', default='data/synthvid', help='output root')
    parser.add_argument('--num-train-videos', type=int, default=24)
    parser.add_argument('--num-val-videos', type=int, default=32)
    parser.add_argument('--num-frames', type=int, default=40)
    parser.add_argument('--width', type=int, default=160)
    parser.add_argument('--height', type=int, default=96)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--blur',
        choices=BLUR_MODES,
        default='frame',
        help="how blur frames are smeared: 'frame' (the whole frame in a "
        "random direction) or 'motion' (every object along its own motion)")
    parser.add_argument(
        '--degradations',
        nargs='+',
        choices=DEGRADATIONS,
        default=list(DEGRADATIONS),
        help='the kinds a degraded run of frames draws from, uniformly '
        '(default: all four); e.g. --degradations blur makes every '
        'degraded frame a blur frame')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace SynthVID splits already in --out (a split of other '
        'data is refused, never deleted)')
    parser.add_argument(
        '--no-convert',
        action='store_true',
        help='do not write annotations/imagenet_vid_{train,val}.json')
    parser.add_argument(
        '--preview', help='write a PNG contact sheet of val frames here')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    stats = generate_synthvid(
        args.out,
        num_train_videos=args.num_train_videos,
        num_val_videos=args.num_val_videos,
        num_frames=args.num_frames,
        width=args.width,
        height=args.height,
        seed=args.seed,
        overwrite=args.overwrite,
        show_progress=True,
        blur=args.blur,
        degradations=args.degradations)
    if not args.no_convert:
        for split in ('train', 'val'):
            coco = convert_vid(
                args.out, split, SYNTHVID_CLASS_TABLE, show_progress=False)
            save_json(coco,
                      osp.join(args.out, 'annotations', VID_ANN_FILES[split]))
            stats[split]['speed_split'] = speed_split(box_motion_ious(coco))
    meta = dict(vars(args), class_table=SYNTHVID_CLASS_TABLE, stats=stats)
    # written last: with --overwrite the old data's settings are gone from
    # the start, so an interrupted run leaves none that describe its frames
    with open(osp.join(args.out, SETTINGS_FILE), 'w') as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(stats, indent=1))
    if args.preview:
        render_preview(args.out, args.preview)
        print(f'preview written to {args.preview}')
    return stats


if __name__ == '__main__':
    main()
