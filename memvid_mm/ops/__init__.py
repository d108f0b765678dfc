# Copyright (c) memvid_mm contributors. All rights reserved.
"""Pure PyTorch ops: position-sensitive RoI Align / RoI pooling, and
deterministic forms of the resize and prefix sum they and the flow use."""
from .deterministic import (cumsum_last_two, deterministic_cuda_required,
                            resize_bilinear)
from .ps_roi_align import PSRoIAlign, ps_roi_align
from .ps_roi_pool import PSRoIPool, ps_roi_pool

__all__ = [
    'ps_roi_align', 'ps_roi_pool', 'PSRoIAlign', 'PSRoIPool',
    'resize_bilinear', 'cumsum_last_two', 'deterministic_cuda_required'
]
