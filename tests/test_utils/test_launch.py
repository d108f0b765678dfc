# Copyright (c) memvid_mm contributors. All rights reserved.
"""The launch helpers of tools/train.py and tools/test.py."""
import os
import subprocess
import sys

from memvid_mm.utils import (finish_distributed, full_checkpoint_loading,
                             prepare_cpu_distributed)


def test_finish_distributed_without_a_group_says_so():
    assert finish_distributed() is False


def test_prepare_cpu_distributed_leaves_a_single_process_run_alone():
    cfg = dict(env_cfg=dict())
    prepare_cpu_distributed(cfg, 'none')
    assert cfg == dict(env_cfg=dict())


def test_exit_after_distributed_run_flushes_and_exits_zero():
    """Logs and buffered output reach their files before ``os._exit``."""
    code = (
        'import logging, sys\n'
        'from memvid_mm.utils import exit_after_distributed_run\n'
        'logging.basicConfig(stream=sys.stderr, level=logging.INFO)\n'
        'logging.getLogger("t").info("logged")\n'
        'print("printed", end="")\n'
        'exit_after_distributed_run()\n'
        'print("not reached")\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == 'printed'
    assert 'logged' in proc.stderr


def test_full_checkpoint_loading_restores_the_variable(monkeypatch):
    name = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
    monkeypatch.delenv(name, raising=False)
    with full_checkpoint_loading():
        assert os.environ[name] == '1'
    assert name not in os.environ
    monkeypatch.setenv(name, '0')
    with full_checkpoint_loading():
        assert os.environ[name] == '0'  # set by the caller: left alone
    assert os.environ[name] == '0'
