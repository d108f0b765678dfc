# Copyright (c) memvid_mm contributors. All rights reserved.
from . import bbox_heads  # noqa: F401
from .bbox_heads import RFCNBBoxHead
from .rfcn_roi_head import RFCNRoIHead, select_hard_examples

__all__ = ['RFCNBBoxHead', 'RFCNRoIHead', 'select_hard_examples']
