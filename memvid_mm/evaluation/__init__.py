# Copyright (c) memvid_mm contributors. All rights reserved.
from . import functional, metrics  # noqa: F401
from .functional import compute_motion_iou, eval_vid_map
from .metrics import (DumpVIDResults, ImagenetVIDMetric, append_dump_metric,
                      dataset_ann_file)

__all__ = [
    'compute_motion_iou', 'eval_vid_map', 'DumpVIDResults',
    'ImagenetVIDMetric', 'append_dump_metric', 'dataset_ann_file'
]
