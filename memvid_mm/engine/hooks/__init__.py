# Copyright (c) memvid_mm contributors. All rights reserved.
from .vid_visualization_hook import VIDVisualizationHook

__all__ = ['VIDVisualizationHook']
