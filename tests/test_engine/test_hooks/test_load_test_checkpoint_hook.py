# Copyright (c) memvid_mm contributors. All rights reserved.
"""LoadTestCheckpointHook loads strictly, after the hooks' before_run."""
import pytest
import torch
from mmengine.hooks import Hook

from memvid_mm.engine import LoadTestCheckpointHook
from ...test_utils.test_checkpoint import _test_runner, _trained
from .runner_stand_ins import BuiltLoop


class SetUpInBeforeRun(Hook):
    """A hook whose after_load_checkpoint needs its before_run, as
    mmengine's EMAHook needs the EMA model it builds there; of the lowest
    priority too, and registered first, as the config's hooks are."""

    priority = 'LOWEST'

    def __init__(self):
        self.calls = []

    def before_run(self, runner):
        self.calls.append('before_run')

    def after_load_checkpoint(self, runner, checkpoint):
        assert self.calls == ['before_run'], 'loaded before the set-up'
        self.calls.append('after_load_checkpoint')


def test_loads_after_every_hooks_before_run(tmp_path):
    model_cfg = dict(type='Detector')
    path, trained = _trained(tmp_path, ['a', 'b'], model_cfg)
    runner = _test_runner(tmp_path, ('a', 'b'), model_cfg)
    set_up = SetUpInBeforeRun()
    runner.register_hook(set_up)
    runner.register_hook(LoadTestCheckpointHook(path))
    runner.test()
    assert set_up.calls == ['before_run', 'after_load_checkpoint']
    assert torch.equal(runner.model.head.fc.weight, trained.head.fc.weight)


def test_a_checkpoint_that_does_not_fit_is_refused(tmp_path):
    path, _ = _trained(tmp_path, ['a', 'b'], dict(type='Detector'))
    saved = torch.load(path, weights_only=False)
    saved['state_dict'].pop('head.fc.bias')
    torch.save(saved, path)
    runner = _test_runner(tmp_path, ('a', 'b'), dict(type='Detector'))
    runner.register_hook(LoadTestCheckpointHook(path))
    with pytest.raises(RuntimeError, match=f'checkpoint {path} does not fit'):
        runner.test()


def test_a_training_is_refused(tmp_path):
    runner = _test_runner(tmp_path, ('a', 'b'), dict(type='Detector'))
    runner._train_loop = BuiltLoop(runner, [])
    with pytest.raises(RuntimeError, match='a training starts from'):
        LoadTestCheckpointHook('x.pth').before_run(runner)
