# Copyright (c) memvid_mm contributors. All rights reserved.
"""Runner components: hooks."""
from .hooks import VIDVisualizationHook

__all__ = ['VIDVisualizationHook']
