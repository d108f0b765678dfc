# Copyright (c) memvid_mm contributors. All rights reserved.
"""Runner components: hooks."""
from .hooks import (CheckpointClassesHook, CheckpointFitHook,
                    NonEmptyDatasetHook, NumClassesHook,
                    SyncBuffersEveryIterHook, VIDVisualizationHook)

__all__ = [
    'CheckpointClassesHook', 'CheckpointFitHook', 'NonEmptyDatasetHook',
    'NumClassesHook', 'SyncBuffersEveryIterHook', 'VIDVisualizationHook'
]
