# Copyright (c) memvid_mm contributors. All rights reserved.
from .checkpoint import (CheckpointClassesError, ForeignStateDictError,
                         check_checkpoint_classes, check_checkpoint_file,
                         check_num_classes, load_fitting_checkpoint,
                         load_test_checkpoint, naming_unreadable_checkpoint,
                         non_finite_keys)
from .launch import (allow_full_checkpoint_loading, apply_resume_option,
                     exit_after_distributed_run, finish_distributed,
                     flush_denormals_on_cpu, full_checkpoint_loading,
                     prepare_cpu_distributed)
from .syncing_ops import SyncingOpRecorder
from .training_start import check_training_start

__all__ = [
    'allow_full_checkpoint_loading', 'apply_resume_option',
    'CheckpointClassesError', 'check_checkpoint_file',
    'check_checkpoint_classes', 'check_num_classes', 'check_training_start',
    'exit_after_distributed_run', 'finish_distributed',
    'flush_denormals_on_cpu', 'ForeignStateDictError',
    'full_checkpoint_loading', 'load_fitting_checkpoint',
    'load_test_checkpoint', 'naming_unreadable_checkpoint', 'non_finite_keys',
    'prepare_cpu_distributed', 'SyncingOpRecorder'
]
