# Copyright (c) memvid_mm contributors. All rights reserved.
"""NumClassesHook; under MMDetection's own tools/train.py it is tested in
tests/test_tools/test_dist_tools.py."""
import types

import pytest
from mmdet.registry import HOOKS
from torch import nn
from torch.utils.data import DataLoader

from .runner_stand_ins import BuiltLoop, ClassesDataset

CLASSES = ('disc', 'box', 'triangle', 'cross')


def head_of(num_classes):
    head = nn.Identity()
    head.num_classes = num_classes
    return head


def runner_with(num_classes, **loops):
    """A runner stand-in with a model whose box head predicts
    ``num_classes`` (its RPN one foreground class), and loops given by
    dataloader name built with a data set of those classes."""
    model = nn.Module()
    model.rpn_head = head_of(1)
    model.bbox_head = head_of(num_classes)
    runner = types.SimpleNamespace(
        model=model, _train_loop=dict(), _val_loop=None, _test_loop=dict())
    for name, classes in loops.items():
        loader = DataLoader(ClassesDataset(classes))
        setattr(runner, f'_{name}_loop', BuiltLoop(runner, loader))
    return runner


def test_refuses_a_head_of_another_class_count_before_the_run():
    hook = HOOKS.build(dict(type='NumClassesHook'))
    hook.before_run(runner_with(4, train=CLASSES, val=CLASSES))
    with pytest.raises(
            ValueError,
            match=r'^bbox_head \(Identity\) predicts 4 classes, '
            r'but val_dataloader\.dataset has 3 .*set its '
            r'num_classes to 3'):
        hook.before_run(runner_with(4, train=CLASSES, val=CLASSES[:3]))
    with pytest.raises(ValueError, match='test_dataloader.dataset has 4'):
        hook.before_run(runner_with(3, test=CLASSES))


def test_checks_only_built_loops_with_classes():
    hook = HOOKS.build(dict(type='NumClassesHook'))
    # the test loop is still a config: not this run's
    hook.before_run(runner_with(4, train=CLASSES))
    # ... and the built one is checked
    with pytest.raises(ValueError, match='train_dataloader.dataset has 4'):
        hook.before_run(runner_with(3, train=CLASSES))
    # a data set without classes metainfo cannot be checked
    runner = runner_with(4)
    runner._test_loop = BuiltLoop(runner, DataLoader([]))
    hook.before_run(runner)


def test_refuses_data_sets_of_one_run_with_other_classes_or_order():
    """A validation reading the train labels as other classes: the same
    count (the head fits both) but another order, or other names."""
    hook = HOOKS.build(dict(type='NumClassesHook'))
    reordered = ('box', 'disc', 'triangle', 'cross')
    with pytest.raises(
            ValueError,
            match=r"^train_dataloader\.dataset lists classes \('disc', "
            r"'box', .*\(label order\), but val_dataloader\.dataset lists "
            r"\('box', 'disc', .*the same classes in another order"):
        hook.before_run(runner_with(4, train=CLASSES, val=reordered))
    renamed = CLASSES[:3] + ('star', )
    with pytest.raises(ValueError, match='other classes'):
        hook.before_run(runner_with(4, train=CLASSES, val=renamed))
    # one built loop has nothing to compare with; a data set without
    # classes metainfo is not compared
    hook.before_run(runner_with(4, test=reordered))
    runner = runner_with(4, train=CLASSES)
    runner._val_loop = BuiltLoop(runner, DataLoader([]))
    hook.before_run(runner)
