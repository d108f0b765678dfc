# Copyright (c) memvid_mm contributors. All rights reserved.
# yapf: disable
from . import (aggregators, dense_heads, detectors, layers,  # noqa: F401
               motion, necks, roi_heads)
# yapf: enable
from .aggregators import (CausalFGFAAggregator, ClockNetAggregator,
                          MemNetAggregator)
from .dense_heads import Conv1x1RPNHead
from .detectors import (RFCN, MemoryRFCN, PerFrameVideoDetector,
                        StrongFeatureRFCN)
from .layers import EvidenceMotion, MemoryState, SideStreams
from .motion import FlowNetSimple
from .necks import FeatureEmbedding, FlowWarp
from .roi_heads import RFCNBBoxHead, RFCNRoIHead

__all__ = [
    'CausalFGFAAggregator', 'ClockNetAggregator', 'MemNetAggregator',
    'Conv1x1RPNHead', 'RFCN', 'MemoryRFCN', 'PerFrameVideoDetector',
    'StrongFeatureRFCN', 'EvidenceMotion', 'MemoryState', 'SideStreams',
    'FlowNetSimple', 'FeatureEmbedding', 'FlowWarp', 'RFCNBBoxHead',
    'RFCNRoIHead'
]
