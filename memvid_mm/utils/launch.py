# Copyright (c) memvid_mm contributors. All rights reserved.
"""Launch helpers shared by ``tools/train.py`` and ``tools/test.py``.

These things in the stock stack need a hand (the first three on the machines
this project is developed on):

* mmengine 0.10.7 initialises a distributed run with
  ``torch.cuda.set_device``, which fails on a CPU-only torch build, and wraps
  the model in ``DistributedDataParallel(device_ids=[LOCAL_RANK])``, which
  PyTorch refuses for a CPU module. :func:`prepare_cpu_distributed` starts
  the process group with the ``gloo`` backend itself and configures the
  wrapper with ``device_ids=None``; mmengine then skips its own
  initialisation because the group already exists.
* On a CPU, tiny gradients (R-FCN's box convs start at std 0.001) turn
  into denormal floats, which x86 CPUs process many times slower;
  :func:`flush_denormals_on_cpu` flushes them to zero (values below 1e-38,
  no effect on results).
* torch >= 2.6 loads checkpoints with ``weights_only=True`` by default, and
  mmengine 0.10.7 checkpoints hold Python objects (message hub history,
  dataset meta). :func:`allow_full_checkpoint_loading` restores the old
  behaviour for this process (the tools' processes);
  :func:`full_checkpoint_loading` only inside a ``with`` block (library
  calls, which must not change the loading of the user's program). Load
  only checkpoints you trust.
* mmengine's auto-resume (``--resume`` without a path) in a work dir with
  no checkpoint yet drops ``load_from``; :func:`apply_resume_option` keeps
  it.
"""
import datetime
import logging
import os
import os.path as osp
import sys
from contextlib import contextmanager
from typing import Iterator, NoReturn, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint

from .argument_checks import is_finite_number
from .checkpoint import check_checkpoint_file, last_checkpoint_file


def flush_denormals_on_cpu(device: str = 'cpu') -> bool:
    """Flush denormal floats to zero when running on the CPU.

    Args:
        device (str): The device the run uses. Defaults to ``'cpu'``.

    Returns:
        bool: Whether flushing is on (False on CUDA or unsupported CPUs).
    """
    if device != 'cpu':
        return False
    return torch.set_flush_denormal(True)


# PyTorch's switches for full (not weights-only) and for weights-only
# unpickling in torch.load, and the values it reads as "on"
NO_WEIGHTS_ONLY_LOAD = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
WEIGHTS_ONLY_LOAD = 'TORCH_FORCE_WEIGHTS_ONLY_LOAD'
TRUE_VALUES = ('1', 'y', 'yes', 'true')


def allow_full_checkpoint_loading() -> None:
    """Let ``torch.load`` unpickle mmengine checkpoints (trusted files), for
    the rest of this process and its children.

    Only for a process that is entirely a memvid_mm tool; library code uses
    :func:`full_checkpoint_loading`. ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
    is set to ``1`` whatever it was (an empty value or ``0`` would leave
    mmengine checkpoints unreadable), unless the user forces weights-only
    loading with ``TORCH_FORCE_WEIGHTS_ONLY_LOAD``.
    """
    if os.environ.get(WEIGHTS_ONLY_LOAD, '').lower() not in TRUE_VALUES:
        os.environ[NO_WEIGHTS_ONLY_LOAD] = '1'


@contextmanager
def full_checkpoint_loading() -> Iterator[None]:
    """Let ``torch.load`` unpickle mmengine checkpoints inside the block.

    The environment variable that :func:`allow_full_checkpoint_loading`
    sets is restored (or removed) on leaving the block, so later loads of
    the caller's program keep PyTorch's ``weights_only`` default.

    Yields:
        None: The ``with`` block, run with full checkpoint loading allowed
        (unless the user forces weights-only loading).
    """
    before = os.environ.get(NO_WEIGHTS_ONLY_LOAD)
    allow_full_checkpoint_loading()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(NO_WEIGHTS_ONLY_LOAD, None)
        else:
            os.environ[NO_WEIGHTS_ONLY_LOAD] = before


def checkpoint_of_work_dir(work_dir: str, latest: str) -> str:
    """The file to resume that a work dir's ``last_checkpoint`` means
    (:func:`~memvid_mm.utils.checkpoint.last_checkpoint_file`: in a copied
    or moved work dir its own file of that name).

    Args:
        work_dir (str): The run's work dir.
        latest (str): The path its ``last_checkpoint`` holds.

    Returns:
        str: The checkpoint to resume from.

    Raises:
        FileNotFoundError: When neither exists; names both.
    """
    path = last_checkpoint_file(work_dir, latest)
    if path is None:
        raise FileNotFoundError(
            f'{osp.join(work_dir, "last_checkpoint")} names {latest}, which '
            f'does not exist, and {work_dir} holds no '
            f'{osp.basename(latest)} (was the work dir moved, or the '
            'checkpoint removed?); give the checkpoint with --resume PATH')
    return path


def apply_resume_option(cfg: Config, resume: Optional[str]) -> Optional[str]:
    """Set ``cfg.resume`` and ``cfg.load_from`` for ``--resume``.

    ``--resume`` without a path resumes from the latest checkpoint of the
    work dir. When there is none yet (the first start of a job that is
    always launched with ``--resume``, as on clusters that preempt jobs),
    the config is left as it is: the run starts from its ``load_from``,
    which is how a memory model starts from its per-frame R-FCN (or resumes
    from it, where the config itself sets ``resume=True``). mmengine's
    own auto-resume would set ``load_from`` aside and train from random
    weights without a word.

    Args:
        cfg (Config): The run's config, updated in place; ``work_dir`` must
            be set.
        resume (str, optional): None (no ``--resume``), ``'auto'`` (the
            latest checkpoint of the work dir) or a checkpoint path.

    Returns:
        str, optional: What to log when there was nothing to resume from
        (the caller logs it to the run's log, on rank 0), else None.

    Raises:
        IsADirectoryError: When ``resume`` is a directory (a work dir given
            as the checkpoint); the message names its latest checkpoint.
        FileNotFoundError: When the work dir's ``last_checkpoint`` names a
            file that is neither there nor in the work dir
            (:func:`checkpoint_of_work_dir`).
    """
    if resume is None:
        return None
    if resume == 'auto':
        resume = find_latest_checkpoint(cfg.work_dir)
        if resume is None:
            # mmengine resumes from load_from where the config says resume
            how = ('resumes from' if cfg.get('resume') else 'starts from')
            return (f'--resume: no checkpoint in {cfg.work_dir} to resume '
                    f'from yet, so the run {how} load_from='
                    f'{cfg.get("load_from")}')
        resume = checkpoint_of_work_dir(cfg.work_dir, resume)
    else:
        check_checkpoint_file(resume)  # a work dir, before the runner
    cfg.resume, cfg.load_from = True, resume
    return None


def prepare_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Start a ``gloo`` process group for a CPU run launched by torchrun.

    Does nothing when ``launcher`` is ``'none'`` or CUDA is available (the
    stock NCCL path of mmengine handles GPUs).

    The config's other ``env_cfg.dist_cfg`` options reach
    ``init_process_group`` as mmengine's ``init_dist`` passes them, with
    ``timeout`` in seconds.

    Args:
        cfg (Config): The run's config; ``env_cfg.dist_cfg.backend`` is set
            to ``'gloo'`` and ``model_wrapper_cfg`` is set for the CPU run,
            in place.
        launcher (str): The job launcher, ``'none'``, ``'pytorch'``,
            ``'slurm'`` or ``'mpi'``.

    Raises:
        ValueError: For another launcher than ``'pytorch'``, another
            ``dist_cfg.init_backend`` than ``'torch'``, or a ``timeout``
            that is not a number of seconds.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(f'CPU distributed runs support launcher="pytorch" '
                         f'(torchrun), got launcher="{launcher}"')
    env_cfg = dict(cfg.get('env_cfg') or {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
    env_cfg['dist_cfg'] = dist_cfg
    cfg['env_cfg'] = env_cfg
    group_kwargs = dict(dist_cfg)
    init_backend = group_kwargs.pop('init_backend', 'torch')
    if init_backend != 'torch':
        raise ValueError(
            'CPU distributed runs start a torch gloo group; '
            f'env_cfg.dist_cfg.init_backend={init_backend!r} is not supported')
    timeout = group_kwargs.get('timeout')
    if timeout is not None:
        if not (is_finite_number(timeout) and timeout > 0):
            raise ValueError(
                'env_cfg.dist_cfg.timeout must be a positive number of '
                f'seconds, got {timeout!r:.50}')
        group_kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
    wrapper_cfg['device_ids'] = None
    wrapper_cfg.setdefault('broadcast_buffers', False)
    wrapper_cfg.setdefault('find_unused_parameters',
                           cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper_cfg
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(**group_kwargs)


def finish_distributed() -> bool:
    """Wait for every rank, then tear the process group down.

    Called at the end of ``tools/train.py`` / ``tools/test.py``: a ``gloo``
    group left to the interpreter's exit can abort a rank ("terminate called
    without an active exception") after the work is done.

    Returns:
        bool: Whether there was a process group (a distributed run).
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
        return True
    return False


def exit_after_distributed_run() -> NoReturn:
    """End a rank's process at once, after :func:`finish_distributed`.

    Even with the group torn down, a rank of a ``gloo`` run can abort in
    the interpreter's teardown, after its work is done: "terminate called
    without an active exception" while no Python code runs any more (a C++
    thread of the distributed backend destroyed at exit; seen in the
    2-process tool tests on a loaded 2-core machine), and the launcher
    then kills the other ranks and reports the run as failed. This
    flushes the logs and the standard streams and leaves with exit status
    0 by ``os._exit``, which skips that teardown. Only for the end of a
    tool's ``__main__``: no code may need to run after it.

    Returns:
        NoReturn: It does not return; the process exits.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
