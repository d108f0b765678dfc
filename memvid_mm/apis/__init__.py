# Copyright (c) memvid_mm contributors. All rights reserved.
from .inference import OnlineVideoInferencer, init_video_detector

__all__ = ['OnlineVideoInferencer', 'init_video_detector']
