# Copyright (c) memvid_mm contributors. All rights reserved.
"""Runner components: hooks."""
from . import hooks  # noqa: F401
from .hooks import VIDVisualizationHook

__all__ = ['VIDVisualizationHook']
