# Copyright (c) memvid_mm contributors. All rights reserved.
from .clip_sampling import CausalClipSample, causal_clip_indices
from .loading import STORED_PIXELS, LoadVIDFrame

__all__ = [
    'CausalClipSample', 'causal_clip_indices', 'LoadVIDFrame', 'STORED_PIXELS'
]
