# Copyright (c) memvid_mm contributors. All rights reserved.
from . import (aggregators, detectors, layers, motion, necks,  # noqa: F401
               roi_heads)
from .aggregators import (CausalFGFAAggregator, ClockNetAggregator,
                          MemNetAggregator)
from .detectors import RFCN, MemoryRFCN, PerFrameVideoDetector
from .layers import EvidenceMotion, MemoryState, SideStreams
from .motion import FlowNetSimple
from .necks import FlowWarp
from .roi_heads import RFCNBBoxHead, RFCNRoIHead

__all__ = [
    'CausalFGFAAggregator', 'ClockNetAggregator', 'MemNetAggregator', 'RFCN',
    'MemoryRFCN',
    'PerFrameVideoDetector', 'EvidenceMotion', 'MemoryState', 'SideStreams',
    'FlowNetSimple',
    'FlowWarp', 'RFCNBBoxHead', 'RFCNRoIHead'
]
