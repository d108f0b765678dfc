# Copyright (c) memvid_mm contributors. All rights reserved.
"""ImageNet DET (ILSVRC2015 layout), restricted to the VID classes, to
CocoVID JSON ``imagenet_det_30plus1cls.json`` (as mmtrack's converter).

Example::

    python tools/dataset_converters/imagenet2coco_det.py \\
        -i data/ILSVRC -o data/ILSVRC/annotations \\
        --image-list data/ILSVRC/Lists/DET_train_30classes.txt
"""
import argparse
import os.path as osp
from typing import List, Optional

from memvid_mm.datasets import (DET_ANN_FILE, convert_det, load_class_table,
                                save_json)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='ImageNet DET to COCO Video format')
    parser.add_argument(
        '-i',
        '--input',
        required=True,
        help='root of ILSVRC2015 (holds Data, Annotations, ImageSets)')
    parser.add_argument(
        '-o',
        '--output',
        required=True,
        help='directory to save the CocoVID JSON file')
    parser.add_argument(
        '--classes',
        default='imagenet_vid',
        help='class table: imagenet_vid (default), synthvid, or a file with '
        'one "<synset> <name>" per line')
    parser.add_argument(
        '--class-indices',
        type=int,
        nargs='+',
        help='read only ImageSets/DET/train_<k>.txt for these k (default: '
        'all train_<k>.txt files)')
    parser.add_argument(
        '--image-list',
        help='image list (e.g. FGFA Lists/DET_train_30classes.txt) to use '
        'instead of ImageSets/DET')
    parser.add_argument(
        '--check-images',
        action='store_true',
        help='decode every image and check its size against the XML')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    coco = convert_det(
        args.input,
        class_table=load_class_table(args.classes),
        class_indices=args.class_indices,
        image_list=args.image_list,
        check_images=args.check_images)
    save_json(coco, osp.join(args.output, DET_ANN_FILE))


if __name__ == '__main__':
    main()
