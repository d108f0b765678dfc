# Copyright (c) memvid_mm contributors. All rights reserved.
from .feature_embedding import FeatureEmbedding
from .flow_warp import FlowWarp

__all__ = ['FeatureEmbedding', 'FlowWarp']
