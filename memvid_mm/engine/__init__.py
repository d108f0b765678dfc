# Copyright (c) memvid_mm contributors. All rights reserved.
"""Runner components: hooks."""
from .hooks import (CheckpointClassesHook, CheckpointFitHook,
                    LoadTestCheckpointHook, NonEmptyDatasetHook,
                    NumClassesHook, SyncBuffersEveryIterHook,
                    VIDVisualizationHook)
from .required_hooks import register_missing_hooks

__all__ = [
    'CheckpointClassesHook', 'CheckpointFitHook', 'LoadTestCheckpointHook',
    'NonEmptyDatasetHook', 'NumClassesHook', 'SyncBuffersEveryIterHook',
    'VIDVisualizationHook', 'register_missing_hooks'
]
