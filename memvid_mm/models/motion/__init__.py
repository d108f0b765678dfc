# Copyright (c) memvid_mm contributors. All rights reserved.
from .flownet_simple import FlowNetSimple

__all__ = ['FlowNetSimple']
