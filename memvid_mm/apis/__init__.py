# Copyright (c) memvid_mm contributors. All rights reserved.
from .inference import OnlineVideoInferencer, init_video_detector
from .motion import build_config_motion

__all__ = [
    'OnlineVideoInferencer', 'init_video_detector', 'build_config_motion'
]
