# Copyright (c) memvid_mm contributors. All rights reserved.
from .imagenet_vid_metric import (DumpVIDResults, ImagenetVIDMetric,
                                  append_dump_metric, dataset_ann_file,
                                  frame_record)

__all__ = [
    'DumpVIDResults', 'ImagenetVIDMetric', 'append_dump_metric',
    'dataset_ann_file', 'frame_record'
]
