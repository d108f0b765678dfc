# Copyright (c) memvid_mm contributors. All rights reserved.
from . import transforms  # noqa: F401
from .class_tables import (CLASS_TABLES, IMAGENET_VID_CLASS_TABLE,
                           IMAGENET_VID_CLASSES, OTHER_CATEGORY_NAME,
                           SYNTHVID_CLASS_TABLE, SYNTHVID_CLASSES,
                           check_class_table, class_names, load_class_table)
from .ilsvrc_converters import (DET_ANN_FILE, VID_ANN_FILES, convert_det,
                                convert_vid, parse_voc_xml, read_image_size,
                                save_json, select_key_frames)
from .imagenet_vid_dataset import ImagenetVIDDataset, load_coco_vid
from .synthvid import (BLUR_MODES, DEGRADATIONS, SceneMotion, box_motion_ious,
                       generate_synthvid, load_synthvid_settings,
                       render_preview, render_split, render_video, speed_split)
from .synthvid_flow import SynthVIDFlowPairs
from .synthvid_root import config_data_root, load_config_synthvid_settings

__all__ = [
    'CLASS_TABLES', 'IMAGENET_VID_CLASS_TABLE', 'IMAGENET_VID_CLASSES',
    'OTHER_CATEGORY_NAME', 'check_class_table', 'class_names',
    'load_class_table', 'DET_ANN_FILE', 'VID_ANN_FILES', 'convert_det',
    'convert_vid', 'parse_voc_xml', 'read_image_size', 'save_json',
    'select_key_frames', 'ImagenetVIDDataset', 'load_coco_vid', 'DEGRADATIONS',
    'SYNTHVID_CLASS_TABLE', 'SYNTHVID_CLASSES', 'generate_synthvid',
    'render_preview', 'render_split', 'render_video', 'SceneMotion',
    'SynthVIDFlowPairs', 'box_motion_ious', 'speed_split', 'BLUR_MODES',
    'load_synthvid_settings', 'config_data_root',
    'load_config_synthvid_settings'
]
