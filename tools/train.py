# Copyright (c) memvid_mm contributors. All rights reserved.
"""Train a detector with MMEngine's runner (MMDetection conventions).

Example::

    python tools/train.py configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py
    bash tools/dist_train.sh configs/clocknet_r101_vid.py 4
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from memvid_mm.engine import (CheckpointClassesHook, CheckpointFitHook,
                              NonEmptyDatasetHook, NumClassesHook,
                              register_missing_hooks)
from memvid_mm.utils import (allow_full_checkpoint_loading,
                             apply_resume_option, check_checkpoint_file,
                             exit_after_distributed_run, finish_distributed,
                             flush_denormals_on_cpu, prepare_cpu_distributed)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or the latest one in the '
        'work dir when no path is given (with none there yet, start from '
        'load_from)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> bool:
    """Run the tool; return whether the run was distributed."""
    args = parse_args()
    allow_full_checkpoint_loading()
    if not torch.cuda.is_available():
        flush_denormals_on_cpu()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError('--auto-scale-lr needs `auto_scale_lr` '
                             '(enable, base_batch_size) in the config')
        cfg.auto_scale_lr.enable = True
    nothing_to_resume = apply_resume_option(cfg, args.resume)
    if cfg.get('load_from'):
        # a work dir given as load_from, before the runner is built
        check_checkpoint_file(cfg.load_from)
    prepare_cpu_distributed(cfg, args.launcher)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    if nothing_to_resume:
        runner.logger.warning(nothing_to_resume)
    # refused before training, also for a config without the hooks: a head
    # of other classes than the data, an empty data set, (in mmengine's
    # lenient load) a checkpoint that does not fit, and a strong_ckpt of
    # other classes
    register_missing_hooks(runner, (NumClassesHook, NonEmptyDatasetHook,
                                    CheckpointFitHook, CheckpointClassesHook))
    runner.train()
    return finish_distributed()


if __name__ == '__main__':
    if main():
        exit_after_distributed_run()
