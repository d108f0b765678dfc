# Copyright (c) memvid_mm contributors. All rights reserved.
from .checkpoint_classes_hook import CheckpointClassesHook
from .sync_buffers_hook import SyncBuffersEveryIterHook
from .vid_visualization_hook import VIDVisualizationHook

__all__ = [
    'CheckpointClassesHook', 'SyncBuffersEveryIterHook',
    'VIDVisualizationHook'
]
