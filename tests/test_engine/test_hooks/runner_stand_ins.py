# Copyright (c) memvid_mm contributors. All rights reserved.
"""Stand-ins for what the checkpoint hooks read of a runner's loops."""
from mmengine.runner import BaseLoop
from torch.utils.data import Dataset


class ClassesDataset(Dataset):
    """A data set of no samples with ``metainfo['classes']``."""

    def __init__(self, classes):
        self.metainfo = dict(classes=classes)

    def __len__(self):
        return 0


class BuiltLoop(BaseLoop):
    """A loop the runner has built (not a config)."""

    def run(self):
        pass
