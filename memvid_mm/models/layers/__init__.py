# Copyright (c) memvid_mm contributors. All rights reserved.
from .box_propagation import mean_flow_in_boxes, propagate_boxes
from .flow_extrapolation import (compose_flows, extrapolate_flow,
                                 extrapolated_anchor_flows, flow_acceleration)
from .flow_warp import (WARP_INTERPOLATIONS, WARP_SAMPLERS, cubic_weights,
                        flow_to_feature_displacement, flow_warp,
                        grid_sample_folds_channels, make_base_grid,
                        padded_grid_size, sample_by_gather,
                        sample_by_grid_sample, scale_flow_,
                        warp_by_displacement)
from .memory_state import EvidenceBoxes, EvidenceMotion, MemoryState
from .side_streams import SideStreams
from .split_halves_state import SplitHalvesState
from .strong_feature_state import DelayedMemory, StrongFeatureState

__all__ = [
    'make_base_grid', 'flow_to_feature_displacement', 'warp_by_displacement',
    'flow_warp', 'cubic_weights', 'WARP_INTERPOLATIONS', 'WARP_SAMPLERS',
    'padded_grid_size', 'grid_sample_folds_channels', 'sample_by_gather',
    'sample_by_grid_sample', 'scale_flow_', 'MemoryState', 'SideStreams',
    'EvidenceMotion', 'EvidenceBoxes', 'compose_flows', 'flow_acceleration',
    'extrapolate_flow', 'extrapolated_anchor_flows', 'mean_flow_in_boxes',
    'propagate_boxes', 'DelayedMemory', 'StrongFeatureState',
    'SplitHalvesState'
]
