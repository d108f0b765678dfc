# Copyright (c) memvid_mm contributors. All rights reserved.
from .checkpoint_classes_hook import CheckpointClassesHook
from .checkpoint_fit_hook import CheckpointFitHook
from .load_test_checkpoint_hook import LoadTestCheckpointHook
from .non_empty_dataset_hook import NonEmptyDatasetHook
from .num_classes_hook import NumClassesHook
from .sync_buffers_hook import SyncBuffersEveryIterHook
from .vid_visualization_hook import VIDVisualizationHook

__all__ = [
    'CheckpointClassesHook', 'CheckpointFitHook', 'LoadTestCheckpointHook',
    'NonEmptyDatasetHook', 'NumClassesHook', 'SyncBuffersEveryIterHook',
    'VIDVisualizationHook'
]
