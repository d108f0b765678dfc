# Copyright (c) memvid_mm contributors. All rights reserved.
from .base import BaseMemoryAggregator
from .causal_fgfa import CausalFGFAAggregator, cosine_weights
from .clocknet import (ClockNetAggregator, clocknet_reference,
                       combine_memories, takes_evidence,
                       weighted_combine_memories)
from .memnet import (MemNetAggregator, average_memory_update,
                     memory_update_weights, weight_logit_cnn,
                     weighted_memory_update)

__all__ = [
    'MemNetAggregator', 'average_memory_update', 'memory_update_weights',
    'weighted_memory_update', 'weight_logit_cnn', 'ClockNetAggregator',
    'takes_evidence', 'combine_memories', 'weighted_combine_memories',
    'clocknet_reference', 'CausalFGFAAggregator', 'cosine_weights',
    'BaseMemoryAggregator'
]
