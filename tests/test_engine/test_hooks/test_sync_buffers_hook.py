# Copyright (c) memvid_mm contributors. All rights reserved.
"""SyncBuffersEveryIterHook; its effect on two ranks is tested in
tests/test_tools/test_dist_tools.py (validation during training equals a
test of the checkpoint)."""
import importlib
import types

import torch
from mmdet.registry import HOOKS
from torch import nn

from memvid_mm.engine.hooks import SyncBuffersEveryIterHook
from memvid_mm.engine.hooks.sync_buffers_hook import floating_buffers


def test_floating_buffers_are_the_bn_statistics():
    bn = nn.BatchNorm2d(3)
    buffers = floating_buffers(nn.Sequential(nn.Conv2d(3, 3, 1), bn))
    assert [id(b)
            for b in buffers] == [id(bn.running_mean),
                                  id(bn.running_var)]


def test_runs_before_the_checkpoint_hook_and_is_a_no_op_in_one_process():
    hook = HOOKS.build(dict(type='SyncBuffersEveryIterHook'))
    assert isinstance(hook, SyncBuffersEveryIterHook)
    # mmengine's CheckpointHook has priority VERY_LOW (90); lower runs first
    assert hook.priority == 'ABOVE_NORMAL'
    bn = nn.BatchNorm2d(2)
    bn.running_mean.fill_(3.0)
    hook.after_train_iter(types.SimpleNamespace(model=bn), 0)
    assert torch.equal(bn.running_mean, torch.full((2, ), 3.0))


def test_a_distributed_run_averages_the_floating_buffers(monkeypatch):
    """The mean over the ranks of the BN statistics, not of the integer
    ``num_batches_tracked`` (the same on every rank)."""
    module = importlib.import_module(SyncBuffersEveryIterHook.__module__)
    reduced = []
    monkeypatch.setattr(module, 'is_distributed', lambda: True)
    monkeypatch.setattr(module, 'all_reduce_params',
                        lambda params, op: reduced.append((params, op)))
    bn = nn.BatchNorm2d(2)
    SyncBuffersEveryIterHook().after_train_iter(
        types.SimpleNamespace(model=bn), 0)
    assert len(reduced) == 1
    params, op = reduced[0]
    assert op == 'mean'
    assert [id(p) for p in params] == [id(bn.running_mean), id(bn.running_var)]
