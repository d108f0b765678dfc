# Copyright (c) memvid_mm contributors. All rights reserved.
from .flow_warp import (WARP_INTERPOLATIONS, WARP_SAMPLERS, cubic_weights,
                        flow_to_feature_displacement, flow_warp,
                        make_base_grid, padded_grid_size, warp_by_displacement)
from .memory_state import MemoryState

__all__ = [
    'make_base_grid', 'flow_to_feature_displacement', 'warp_by_displacement',
    'flow_warp', 'cubic_weights', 'WARP_INTERPOLATIONS', 'WARP_SAMPLERS',
    'padded_grid_size', 'MemoryState'
]
