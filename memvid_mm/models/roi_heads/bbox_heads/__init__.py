# Copyright (c) memvid_mm contributors. All rights reserved.
from .rfcn_bbox_head import (RFCNBBoxHead, position_sensitive_vote,
                             single_feature_map)

__all__ = ['RFCNBBoxHead', 'position_sensitive_vote', 'single_feature_map']
