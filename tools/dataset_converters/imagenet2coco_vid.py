# Copyright (c) memvid_mm contributors. All rights reserved.
"""ImageNet VID (ILSVRC2015 layout) to CocoVID JSON.

Writes ``imagenet_vid_train.json`` and ``imagenet_vid_val.json`` (the files
mmtrack's converter writes) into ``--output``. Example::

    python tools/dataset_converters/imagenet2coco_vid.py \\
        -i data/ILSVRC -o data/ILSVRC/annotations
    python tools/dataset_converters/imagenet2coco_vid.py \\
        -i data/synthvid -o data/synthvid/annotations --classes synthvid
"""
import argparse
import os.path as osp
from typing import List, Optional

from memvid_mm.datasets import (VID_ANN_FILES, convert_vid, load_class_table,
                                save_json)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='ImageNet VID to COCO Video format')
    parser.add_argument(
        '-i',
        '--input',
        required=True,
        help='root of ILSVRC2015 (holds Data, Annotations, ImageSets)')
    parser.add_argument(
        '-o',
        '--output',
        required=True,
        help='directory to save the CocoVID JSON files')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=['train', 'val'],
        default=['train', 'val'])
    parser.add_argument(
        '--classes',
        default='imagenet_vid',
        help='class table: imagenet_vid (default), synthvid, or a file with '
        'one "<synset> <name>" per line')
    parser.add_argument(
        '--num-key-frames',
        type=int,
        default=15,
        help='evenly spaced training key frames per video')
    parser.add_argument(
        '--key-frame-list',
        help='FGFA-style Lists/VID_train_15frames.txt to take the training '
        'key frames from instead')
    parser.add_argument(
        '--unknown-classes',
        choices=['error', 'skip'],
        default='error',
        help='what to do with a synset outside the class table')
    parser.add_argument(
        '--check-images',
        action='store_true',
        help='decode every frame and check its size against the XML')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    table = load_class_table(args.classes)
    for split in args.splits:
        coco = convert_vid(
            args.input,
            split,
            class_table=table,
            num_key_frames=args.num_key_frames,
            key_frame_list=args.key_frame_list,
            check_images=args.check_images,
            unknown_classes=args.unknown_classes)
        save_json(coco, osp.join(args.output, VID_ANN_FILES[split]))


if __name__ == '__main__':
    main()
