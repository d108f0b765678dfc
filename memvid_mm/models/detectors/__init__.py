# Copyright (c) memvid_mm contributors. All rights reserved.
from .memory_rfcn import MemoryRFCN
from .per_frame import PerFrameVideoDetector
from .rfcn import RFCN
from .strong_feature_rfcn import StrongFeatureRFCN

__all__ = ['MemoryRFCN', 'PerFrameVideoDetector', 'RFCN', 'StrongFeatureRFCN']
