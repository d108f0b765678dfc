# Copyright (c) memvid_mm contributors. All rights reserved.
"""The launch helpers of tools/train.py and tools/test.py."""
import datetime
import os
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from memvid_mm.utils import (apply_resume_option, finish_distributed,
                             full_checkpoint_loading, prepare_cpu_distributed)


def test_finish_distributed_without_a_group_says_so():
    assert finish_distributed() is False


def test_prepare_cpu_distributed_leaves_a_single_process_run_alone():
    cfg = dict(env_cfg=dict())
    prepare_cpu_distributed(cfg, 'none')
    assert cfg == dict(env_cfg=dict())


@pytest.fixture
def group_starts(monkeypatch):
    """The keyword arguments of each ``init_process_group`` call, which is
    recorded instead of made (as in a CPU run under torchrun)."""
    import torch.distributed as torch_dist
    starts = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch_dist, 'is_initialized', lambda: False)
    monkeypatch.setattr(torch_dist, 'init_process_group',
                        lambda **kwargs: starts.append(kwargs))
    return starts


@pytest.mark.parametrize('env_cfg', [None, {}, dict(cudnn_benchmark=False)])
def test_prepare_cpu_distributed_records_the_gloo_backend(
        group_starts, env_cfg):
    cfg = Config(dict(model=dict()))
    if env_cfg is not None:
        cfg.env_cfg = env_cfg
    prepare_cpu_distributed(cfg, 'pytorch')
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo')
    kept = {} if env_cfg is None else env_cfg
    assert cfg.env_cfg.get('cudnn_benchmark') == kept.get('cudnn_benchmark')
    assert cfg.model_wrapper_cfg.device_ids is None
    assert group_starts == [dict(backend='gloo')]


def test_prepare_cpu_distributed_passes_the_dist_cfg_options(group_starts):
    """As mmengine's ``init_dist``: the timeout in seconds, as a
    ``timedelta``; the backend is gloo's on the CPU."""
    cfg = Config(
        dict(env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=7200))))
    prepare_cpu_distributed(cfg, 'pytorch')
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=7200)
    assert group_starts == [
        dict(backend='gloo', timeout=datetime.timedelta(seconds=7200))
    ]
    for bad, message in [
        (dict(timeout='2h'), 'timeout must be a positive number of seconds, '
         "got '2h'"),
        (dict(timeout=0), 'got 0'),
        (dict(init_backend='deepspeed'), "init_backend='deepspeed' is not"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            prepare_cpu_distributed(
                Config(dict(env_cfg=dict(dist_cfg=bad))), 'pytorch')
    assert len(group_starts) == 1


def test_exit_after_distributed_run_flushes_and_exits_zero():
    """Logs and buffered output reach their files before ``os._exit``."""
    code = ('import logging, sys\n'
            'from memvid_mm.utils import exit_after_distributed_run\n'
            'logging.basicConfig(stream=sys.stderr, level=logging.INFO)\n'
            'logging.getLogger("t").info("logged")\n'
            'print("printed", end="")\n'
            'exit_after_distributed_run()\n'
            'print("not reached")\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == 'printed'
    assert 'logged' in proc.stderr


def test_full_checkpoint_loading_restores_the_variable(monkeypatch):
    name = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
    monkeypatch.delenv(name, raising=False)
    with full_checkpoint_loading():
        assert os.environ[name] == '1'
    assert name not in os.environ
    for before in ('0', ''):  # either would leave checkpoints unreadable
        monkeypatch.setenv(name, before)
        with full_checkpoint_loading():
            assert os.environ[name] == '1'
        assert os.environ[name] == before


def test_full_checkpoint_loading_leaves_forced_weights_only_alone(monkeypatch):
    monkeypatch.setenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', 'true')
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    with full_checkpoint_loading():
        assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ


def resume_config(work_dir, resume):
    cfg = Config(
        dict(work_dir=str(work_dir), load_from='rfcn.pth', resume=False))
    apply_resume_option(cfg, resume)
    return cfg


def test_resume_without_a_checkpoint_yet_keeps_the_config(tmp_path):
    for config_resumes in (False, True):
        cfg = Config(
            dict(
                work_dir=str(tmp_path),
                load_from='rfcn.pth',
                resume=config_resumes))
        note = apply_resume_option(cfg, 'auto')
        assert (cfg.resume, cfg.load_from) == (config_resumes, 'rfcn.pth')
        how = 'resumes from' if config_resumes else 'starts from'
        assert note == (f'--resume: no checkpoint in {tmp_path} to resume '
                        f'from yet, so the run {how} load_from=rfcn.pth')


def test_resume_takes_the_latest_checkpoint_of_the_work_dir(tmp_path):
    latest = str(tmp_path / 'epoch_2.pth')
    (tmp_path / 'epoch_2.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(latest)
    cfg = Config(
        dict(work_dir=str(tmp_path), load_from='rfcn.pth', resume=False))
    assert apply_resume_option(cfg, 'auto') is None
    assert (cfg.resume, cfg.load_from) == (True, latest)


def test_resume_in_a_copied_work_dir_takes_its_own_checkpoint(tmp_path):
    """last_checkpoint holds the full path of the run that wrote it: in a
    copy of the work dir it named the original's file, another run's once
    that directory was reused, and a missing file once it was removed."""
    original, copy = tmp_path / 'run_a', tmp_path / 'run_b'
    for work_dir in (original, copy):
        work_dir.mkdir()
        (work_dir / 'epoch_1.pth').write_bytes(b'')
        (work_dir / 'last_checkpoint').write_text(
            str(original / 'epoch_1.pth'))
    assert resume_config(copy, 'auto').load_from == str(copy / 'epoch_1.pth')
    (original / 'epoch_1.pth').unlink()
    assert resume_config(copy, 'auto').load_from == str(copy / 'epoch_1.pth')
    # checkpoints saved to CheckpointHook's out_dir: the path as written
    out_dir = tmp_path / 'out' / 'run_c'
    out_dir.mkdir(parents=True)
    (out_dir / 'epoch_3.pth').write_bytes(b'')
    work_dir = tmp_path / 'run_c'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(str(out_dir / 'epoch_3.pth'))
    assert resume_config(work_dir,
                         'auto').load_from == str(out_dir / 'epoch_3.pth')
    # also where the reused work dir holds an earlier run's epoch_3.pth
    (work_dir / 'epoch_3.pth').write_bytes(b'')
    assert resume_config(work_dir,
                         'auto').load_from == str(out_dir / 'epoch_3.pth')
    (work_dir / 'epoch_3.pth').unlink()
    # neither there nor here: named, before the runner is built
    (out_dir / 'epoch_3.pth').unlink()
    with pytest.raises(
            FileNotFoundError,
            match=r'run_c/last_checkpoint names .*out/run_c/epoch_3.pth, '
            r'which does not exist, and .*run_c holds no epoch_3.pth'):
        resume_config(work_dir, 'auto')


def test_resume_from_a_given_checkpoint(tmp_path):
    assert resume_config(tmp_path, 'epoch_1.pth').load_from == 'epoch_1.pth'
    assert resume_config(tmp_path, 'epoch_1.pth').resume is True
    assert resume_config(tmp_path, None).resume is False


def test_resume_from_a_directory_is_refused_naming_its_checkpoint(tmp_path):
    """mmengine said of a work dir that it 'can not be found', after the
    runner and its data sets were built."""
    latest = tmp_path / 'epoch_2.pth'
    latest.write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(latest))
    with pytest.raises(
            IsADirectoryError,
            match=f'checkpoint {tmp_path} is a directory.*{latest}'):
        resume_config(tmp_path / 'other', str(tmp_path))
