# Copyright (c) memvid_mm contributors. All rights reserved.
from .memory_rfcn import MemoryRFCN
from .per_frame import PerFrameVideoDetector
from .rfcn import RFCN

__all__ = ['MemoryRFCN', 'PerFrameVideoDetector', 'RFCN']
