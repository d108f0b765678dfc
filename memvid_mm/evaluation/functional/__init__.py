# Copyright (c) memvid_mm contributors. All rights reserved.
from .coco_ap import coco_box_ap50
from .flow_epe import MIN_OBJECT_MOTION, flow_epe_report, moving_object_mask
from .metrics_file import (TESTED_ANN_FILE_KEY, recorded_ann_file,
                           write_metrics_file)
from .vid_eval import (DEFAULT_SPEED_RANGES, check_frames_aligned,
                       compute_motion_iou, eval_vid_map, format_vid_table,
                       gt_iou_thresholds, pairwise_iou_inclusive,
                       vid_average_precision)
from .vid_frames import (attach_ground_truth, check_degradation_values,
                         check_dump_frames, coco_ap50, dump_ann_file,
                         dump_class_names, evaluate_vid_frames, file_sha256,
                         has_degradation, instances_to_gt, merge_frame_records,
                         select_degradation)

__all__ = [
    'DEFAULT_SPEED_RANGES', 'check_frames_aligned', 'compute_motion_iou',
    'eval_vid_map', 'format_vid_table', 'gt_iou_thresholds',
    'pairwise_iou_inclusive', 'vid_average_precision', 'attach_ground_truth',
    'check_degradation_values', 'check_dump_frames', 'coco_ap50',
    'dump_ann_file', 'dump_class_names', 'evaluate_vid_frames', 'file_sha256',
    'has_degradation', 'instances_to_gt', 'merge_frame_records',
    'coco_box_ap50', 'select_degradation', 'MIN_OBJECT_MOTION',
    'flow_epe_report', 'moving_object_mask', 'TESTED_ANN_FILE_KEY',
    'recorded_ann_file', 'write_metrics_file'
]
