# Copyright (c) memvid_mm contributors. All rights reserved.
"""NonEmptyDatasetHook; under memvid_mm's tools/train.py it is tested in
tests/test_tools/test_train.py."""
import types

import pytest
from mmdet.registry import HOOKS
from torch.utils.data import DataLoader

from .runner_stand_ins import BuiltLoop, ClassesDataset


class SizedDataset(ClassesDataset):
    """A data set of ``size`` samples with an ``ann_file``."""

    def __init__(self, size, ann_file):
        super().__init__(('a', ))
        self.size, self.ann_file = size, ann_file

    def __len__(self):
        return self.size


def runner_with(**sizes):
    runner = types.SimpleNamespace(
        _train_loop=dict(), _val_loop=None, _test_loop=dict())
    for name, size in sizes.items():
        dataset = SizedDataset(size, f'{name}.json')
        setattr(runner, f'_{name}_loop', BuiltLoop(runner,
                                                   DataLoader(dataset)))
    return runner


def test_refuses_an_empty_data_set_of_a_built_loop():
    hook = HOOKS.build(dict(type='NonEmptyDatasetHook'))
    hook.before_run(runner_with(train=3, val=1))
    with pytest.raises(
            ValueError,
            match=r'^train_dataloader\.dataset \(train\.json\) '
            'has no training samples.*is_vid_train_frame'):
        hook.before_run(runner_with(train=0, val=1))
    with pytest.raises(
            ValueError,
            match=r'^val_dataloader\.dataset '
            r'\(val\.json\) has no videos or images'):
        hook.before_run(runner_with(train=2, val=0))
    # a loop still given as a config is not this run's
    hook.before_run(runner_with(test=1))
