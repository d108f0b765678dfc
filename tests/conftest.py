# Copyright (c) memvid_mm contributors. All rights reserved.
import logging
import os
import random

import numpy as np
import pytest
import torch
from mmdet.utils import register_all_modules
from mmengine.logging import MMLogger

import memvid_mm  # noqa: F401  (registers every memvid_mm component)
from memvid_mm.utils.launch import NO_WEIGHTS_ONLY_LOAD

# Register mmdet's modules and make 'mmdet' the default scope, as the
# `default_scope = 'mmdet'` of every config does for the runner.
register_all_modules(init_default_scope=True)
# As tools/train.py does on a CPU: denormal floats are much slower.
torch.set_flush_denormal(True)


@pytest.fixture(autouse=True)
def seed_everything():
    """Make every test deterministic."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """Undo a tool's ``--threads`` (``torch.set_num_threads``) when its
    test ends, so that the tests after it run as they would alone."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def keep_weights_only_loading():
    """Undo a tool's full-unpickling switch when its test ends.

    memvid_mm's tools call ``allow_full_checkpoint_loading`` for their whole
    process; a test that runs one in this process must not leave it on for
    the tests after it, where it would hide a library ``torch.load`` that
    cannot read an mmengine checkpoint under PyTorch's weights-only default.
    """
    before = os.environ.get(NO_WEIGHTS_ONLY_LOAD)
    yield
    if before is None:
        os.environ.pop(NO_WEIGHTS_ONLY_LOAD, None)
    else:
        os.environ[NO_WEIGHTS_ONLY_LOAD] = before


@pytest.fixture
def log_records():
    """Collect what mmengine's current logger emits during a test.

    Yields:
        list[logging.LogRecord]: The records, in order.
    """
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def deterministic_algorithms():
    """Turn deterministic algorithms on; restore the setting afterwards."""
    was_enabled = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(
            was_enabled, warn_only=was_warn_only)


@pytest.fixture
def cuda_device():
    """The CUDA device, with TF32 off so CUDA float32 is comparable to CPU.

    Skips the test on a machine without CUDA (the CI machines); the CUDA
    checks run where a GPU is lent (``tools/misc/cuda_check.sh``).

    Yields:
        torch.device: ``cuda``.
    """
    if not torch.cuda.is_available():
        pytest.skip('needs CUDA')
    conv_tf32 = torch.backends.cudnn.allow_tf32
    matmul_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield torch.device('cuda')
    finally:
        torch.backends.cudnn.allow_tf32 = conv_tf32
        torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
