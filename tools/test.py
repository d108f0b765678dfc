# Copyright (c) memvid_mm contributors. All rights reserved.
"""Test a detector with MMEngine's TestLoop (MMDetection conventions).

Example::

    python tools/test.py CONFIG CHECKPOINT --out results.pkl
    bash tools/dist_test.sh CONFIG CHECKPOINT 2

``--out`` dumps one record per frame (see ``DumpVIDResults``), which
``tools/analysis_tools/eval_vid.py`` re-scores without running the model;
the dump records the test dataset's annotation file (its path and
SHA-256), so that the re-scoring can refuse another file. ``--metrics-out``
writes the metrics as JSON, with the same record of the annotation file
under ``ann_file``, which ``seed_spread.py`` compares across runs.
"""
import argparse
import os
import os.path as osp
import warnings

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.registry import HOOKS, RUNNERS
from mmengine.runner import Runner

from memvid_mm.engine import (LoadTestCheckpointHook, NonEmptyDatasetHook,
                              VIDVisualizationHook, register_missing_hooks)
from memvid_mm.evaluation import append_dump_metric, dataset_ann_file
from memvid_mm.evaluation.functional import write_metrics_file
from memvid_mm.utils import (allow_full_checkpoint_loading,
                             check_checkpoint_file, exit_after_distributed_run,
                             finish_distributed, flush_denormals_on_cpu,
                             prepare_cpu_distributed)
from memvid_mm.utils.output_paths import check_test_outputs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump per-frame predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--metrics-out',
        type=str,
        help='write the metrics returned by the test loop to this JSON '
        'file, with the path and SHA-256 of the tested annotation file')
    parser.add_argument(
        '--show', action='store_true', help='show the drawn frames')
    parser.add_argument(
        '--show-dir',
        help='draw the frames into this folder, relative to '
        '<work_dir>/<timestamp>, one sub-folder per video (in a distributed '
        "test rank 0's videos only)")
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='seconds each shown frame stays (with --show)')
    parser.add_argument(
        '--frame-interval',
        type=int,
        help='draw the frames whose frame_id is a multiple of this '
        "(default: the visualization hook's frame_interval)")
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
    if args.frame_interval is not None and not (args.show or args.show_dir):
        parser.error('--frame-interval needs --show or --show-dir')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Turn on the config's visualization hook for ``--show``/``--show-dir``.

    Args:
        cfg (Config): The test config, changed in place.
        args (argparse.Namespace): The parsed options.

    Raises:
        ValueError: When ``cfg.default_hooks`` has no ``visualization``, or
            one of another type than :class:`VIDVisualizationHook` (e.g.
            mmdet's ``DetVisualizationHook`` from mmdet's default runtime,
            which cannot draw video samples).
    """
    hook = cfg.get('default_hooks', {}).get('visualization')
    wanted = ("default_hooks.visualization=dict(type='VIDVisualizationHook')"
              '; it draws the frames of video samples')
    if hook is None:
        raise ValueError(
            f'--show/--show-dir need a visualization hook in the config: '
            f'{wanted}')
    hook_type = hook.get('type')
    if isinstance(hook_type, type):
        hook_class = hook_type
    else:  # looked up as the runner will build it, in the config's scope
        with HOOKS.switch_scope_and_registry(
                cfg.get('default_scope')) as registry:
            hook_class = registry.get(hook_type)
    if not (isinstance(hook_class, type)
            and issubclass(hook_class, VIDVisualizationHook)):
        name = getattr(hook_type, '__name__', hook_type)
        raise ValueError(
            f'--show/--show-dir need VIDVisualizationHook, but the config '
            f'has default_hooks.visualization of type {name!r:.80}: set '
            f'{wanted}')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        hook['test_out_dir'] = args.show_dir
    if args.frame_interval is not None:
        hook['frame_interval'] = args.frame_interval


def main() -> bool:
    """Run the tool; return whether the run was distributed."""
    args = parse_args()
    # a work directory is refused before anything is built
    check_checkpoint_file(args.checkpoint)
    check_test_outputs(args.config, args.checkpoint, args.out,
                       args.metrics_out)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # again, with the annotation file the config reads
    ann_file = dataset_ann_file(cfg.test_dataloader.dataset)
    check_test_outputs(args.config, args.checkpoint, args.out,
                       args.metrics_out, ann_file)
    allow_full_checkpoint_loading()
    if not torch.cuda.is_available():
        flush_denormals_on_cpu()
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    # loaded by LoadTestCheckpointHook, strictly: a test checkpoint must fit
    # the model
    cfg.load_from = None
    if args.out is not None:
        if ann_file is None:
            warnings.warn('--out: test_dataloader.dataset has no ann_file (a '
                          'dataset wrapper?), so the dump records no '
                          'annotation file and eval_vid.py cannot check '
                          'that it is scored with the tested one')
        cfg.test_evaluator = append_dump_metric(cfg.test_evaluator, args.out,
                                                ann_file)
    if args.metrics_out is not None and ann_file is None:
        warnings.warn('--metrics-out: test_dataloader.dataset has no '
                      'ann_file (a dataset wrapper?), so the metrics file '
                      'records no annotation file and seed_spread.py cannot '
                      'check that runs were scored on the same data')
    prepare_cpu_distributed(cfg, args.launcher)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    # loaded after the other hooks' before_run, where the runner would load
    # load_from (mmengine's EMAHook sets up its EMA model there)
    runner.register_hook(LoadTestCheckpointHook(args.checkpoint))
    # an empty test set is refused, also for a config without the hook
    register_missing_hooks(runner, (NonEmptyDatasetHook, ))
    metrics = runner.test()
    if args.metrics_out is not None and is_main_process():
        write_metrics_file(args.metrics_out, metrics, ann_file)
    return finish_distributed()


if __name__ == '__main__':
    if main():
        exit_after_distributed_run()
