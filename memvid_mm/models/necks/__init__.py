# Copyright (c) memvid_mm contributors. All rights reserved.
from .flow_warp import FlowWarp

__all__ = ['FlowWarp']
