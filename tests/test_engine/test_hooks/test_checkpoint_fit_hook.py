# Copyright (c) memvid_mm contributors. All rights reserved.
"""CheckpointFitHook; under MMDetection's own tools/train.py and
tools/test.py it is tested in tests/test_tools/test_dist_tools.py."""
import types

import pytest
import torch
from mmdet.registry import HOOKS
from torch import nn
from torch.utils.data import DataLoader

from .runner_stand_ins import BuiltLoop, ClassesDataset

CLASSES = ('disc', 'box', 'triangle')


class VideoModel(nn.Module):
    """An image ``detector`` and a ``motion`` network that a per-frame
    start does not hold."""

    def __init__(self):
        super().__init__()
        self.detector = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Linear(4, 3))
        self.motion = nn.Conv2d(2, 2, 1)
        # as a config's pre-trained FlowNet (loaded by init_weights)
        self.motion.init_cfg = dict(type='Pretrained', checkpoint='f.pth')


class RecordingLogger:

    def __init__(self):
        self.records = []

    def info(self, message):
        self.records.append(('info', message))

    def warning(self, message):
        self.records.append(('warning', message))


def runner_with(model, load_from='start.pth', training=True, **cfg):
    """A runner stand-in, in a training (its train loop built) or a test."""
    runner = types.SimpleNamespace(
        cfg=dict(load_from=load_from, **cfg),
        model=model,
        _load_from=load_from,
        _resume=cfg.get('resume', False),
        work_dir='work_dirs/x',
        logger=RecordingLogger(),
        _train_loop=dict(),
        _val_loop=None,
        _test_loop=dict())
    if training:
        loader = DataLoader(ClassesDataset(CLASSES))
        runner._train_loop = BuiltLoop(runner, loader)
        runner.train_dataloader = loader
    return runner


def checkpoint_of(state_dict):
    return dict(
        state_dict=state_dict, meta=dict(dataset_meta=dict(classes=CLASSES)))


def per_frame(model):
    return {
        k: v
        for k, v in model.state_dict().items() if k.startswith('detector.')
    }


def test_a_training_takes_a_per_frame_start_and_no_other_misfit():
    """The checkpoint handed to the hook is checked; the file (which does
    not exist here) is not read again."""
    hook = HOOKS.build(dict(type='CheckpointFitHook'))
    model = VideoModel()
    hook.after_load_checkpoint(
        runner_with(model), checkpoint_of(per_frame(model)))
    no_head = per_frame(model)
    del no_head['detector.1.weight']
    with pytest.raises(
            ValueError,
            match=r'^load_from start\.pth does not '
            'fit the model .*missing keys in source state_dict: '
            r'detector\.1\.weight'):
        hook.after_load_checkpoint(runner_with(model), checkpoint_of(no_head))
    # on purpose: logged
    runner = runner_with(model, load_from_partial=True)
    hook.after_load_checkpoint(runner, checkpoint_of(no_head))
    [(level, message)
     ] = [r for r in runner.logger.records if r[0] == 'warning']
    assert message.startswith('load_from_partial: start.pth does not fit')
    # a resume must fit exactly
    with pytest.raises(ValueError, match=r'^cannot resume from start\.pth'):
        hook.after_load_checkpoint(
            runner_with(model, resume=True), checkpoint_of(per_frame(model)))


def test_a_test_needs_a_checkpoint_that_fits_exactly():
    hook = HOOKS.build(dict(type='CheckpointFitHook'))
    model = VideoModel()
    hook.after_load_checkpoint(
        runner_with(model, training=False), checkpoint_of(model.state_dict()))
    with pytest.raises(
            RuntimeError,
            match=r'^checkpoint start\.pth does not '
            r'fit the model \(VideoModel\).*missing keys in source '
            r'state_dict: motion\.weight, motion\.bias'):
        hook.after_load_checkpoint(
            runner_with(model, training=False),
            checkpoint_of(per_frame(model)))
    diverged = model.state_dict()
    diverged['motion.bias'] = torch.full((2, ), float('nan'))
    with pytest.raises(
            ValueError,
            match=r'^checkpoint start\.pth holds NaN '
            r'or infinite values in 1 tensors \(motion\.bias\)'):
        hook.after_load_checkpoint(
            runner_with(model, training=False), checkpoint_of(diverged))


def test_an_explicit_load_is_the_callers():
    """No load_from nor resume: a ``runner.load_checkpoint`` call of its
    own (memvid_mm's tools/test.py loads strictly itself)."""
    hook = HOOKS.build(dict(type='CheckpointFitHook'))
    model = VideoModel()
    for training in (True, False):
        # a checkpoint without FlowNet: refused, were it load_from
        runner = runner_with(model, load_from=None, training=training)
        hook.after_load_checkpoint(runner, checkpoint_of(per_frame(model)))
        assert runner.logger.records == []
