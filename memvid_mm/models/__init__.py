# Copyright (c) memvid_mm contributors. All rights reserved.
from . import (aggregators, detectors, layers, motion, necks,  # noqa: F401
               roi_heads)

__all__ = []
