# Copyright (c) memvid_mm contributors. All rights reserved.
from .sync_buffers_hook import SyncBuffersEveryIterHook
from .vid_visualization_hook import VIDVisualizationHook

__all__ = ['SyncBuffersEveryIterHook', 'VIDVisualizationHook']
