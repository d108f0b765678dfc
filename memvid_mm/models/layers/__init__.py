# Copyright (c) memvid_mm contributors. All rights reserved.
from .flow_warp import (WARP_INTERPOLATIONS, cubic_weights,
                        flow_to_feature_displacement, flow_warp,
                        make_base_grid, warp_by_displacement)
from .memory_state import MemoryState

__all__ = [
    'make_base_grid', 'flow_to_feature_displacement', 'warp_by_displacement',
    'flow_warp', 'cubic_weights', 'WARP_INTERPOLATIONS', 'MemoryState'
]
