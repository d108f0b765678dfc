# Copyright (c) memvid_mm contributors. All rights reserved.
"""The SynthVID main job behind ``make demo``.

generate SynthVID -> convert it with the ImageNet VID converter -> train
each model with ``tools/train.py`` -> test it with ``tools/test.py`` and the
official ImageNet VID metric -> print the table side by side.

Every model shown trains 6 + 3 epochs: the per-frame detectors 6 epochs and
then 3 more on the fine-tuning schedule (the control), MemNet and ClockNet
3 epochs on that schedule from the same 6-epoch per-frame R-FCN, with their
FlowNet pre-trained on SynthVID's ground-truth flow
(``tools/misc/pretrain_flownet_synthvid.py``), as the paper's FlowNet is
pre-trained on Flying Chairs.

MemNet and ClockNet are also tested with the exact flow in place of their
FlowNet (``tools/analysis_tools/test_true_flow_synthvid.py``), a diagnostic
row that shows how much of their result depends on the flow. Last, their
gains over the per-frame R-FCN get 95% intervals from a paired bootstrap
over the val videos (``tools/analysis_tools/compare_vid.py``), also for the
difference between the gain on fast objects and on the other speeds.

Every training (FlowNet pre-training included) runs with the random seed
``--seed`` (default 0; ``randomness.seed`` of the configs, which set none);
the data do not depend on it, so runs with different seeds are scored on
the same val videos. Every step is a subprocess running the same command a
user would type, so the demo exercises the real tools.

``--blur motion`` runs the same job on SynthVID with ``blur`` frames smeared
along each object's own motion (``gen_synthvid.py --blur motion``), in
``data/synthvid_motion-blur`` and ``work_dirs/demo_motion-blur``; every
config then reads that data root. ``--degradations`` narrows the kinds of
degraded frames (``gen_synthvid.py --degradations``), e.g. ``--blur motion
--degradations blur`` for SynthVID whose every degraded frame is
motion-blurred, in ``data/synthvid_motion-blur_only-blur`` and
``work_dirs/demo_motion-blur_only-blur``.

Finished stages are kept unless ``--overwrite`` is given: a stage (or the
FlowNet pre-training) is not run again when its results file records the
same key, i.e. the same seed, the same resolved config, the same options,
the same SynthVID files, the same contents of the checkpoints it starts
from, the same Python sources of ``memvid_mm/`` and ``tools/`` (but this
file) and the same torch, mmcv, mmdet and mmengine versions (SHA-256 of
the files). SynthVID is generated again when the sources that make it
(``memvid_mm/datasets/``, ``gen_synthvid.py``, the converters) changed
since it was made. A stage
about to train deletes its results first, so an interrupted training is
never taken for a finished one; the checkpoint a stage produced is recorded
in its results, and later stages start from that file.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import mmcv
import mmdet
import mmengine
import torch
from mmengine.config import Config

import memvid_mm
from memvid_mm.datasets import BLUR_MODES, DEGRADATIONS, load_synthvid_settings

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# SynthVID root and default work dir per blur mode (gen_synthvid.py --blur).
DATA_ROOTS = dict(frame='data/synthvid', motion='data/synthvid_motion-blur')
WORK_DIRS = dict(frame='work_dirs/demo', motion='work_dirs/demo_motion-blur')
# Stages in order: (name, config, stage whose last checkpoint it starts from,
# whether it is tested and shown, whether its FlowNet starts from the
# pre-trained one). Every shown model trains 6 + 3 epochs:
# the per-frame detectors 6 epochs then 3 more (the control), the memory
# models 3 epochs from the same 6-epoch per-frame R-FCN.
STAGES = [
    ('Faster R-CNN 6e',
     'configs/faster_rcnn/faster-rcnn_r18-tiny-d8_1xb4-6e_synthvid.py', None,
     False, False),
    ('Faster R-CNN (per-frame)',
     'configs/faster_rcnn/faster-rcnn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
     'Faster R-CNN 6e', True, False),
    ('R-FCN 6e', 'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py', None,
     False, False),
    ('R-FCN (per-frame)',
     'configs/rfcn/rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py', 'R-FCN 6e', True,
     False),
    ('MemNet-3',
     'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
     'R-FCN 6e', True, True),
    ('ClockNet',
     'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
     'R-FCN 6e', True, True),
]
# The memory configs' FlowNet init_cfg points to this file under the default
# work dir; the demo passes the actual path.
FLOWNET_CONFIG = (
    'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')
FLOWNET_CHECKPOINT = 'flownet_synthvid/flownet.pth'
# Object pixels weigh as much as the background: with the stride-8 models
# this FlowNet gave ClockNet +3.8 AP on fast objects; 12,000 iterations (at
# the configs' full resolution) instead of 4,000 lowered the moving-object
# EPE from 3.65 to 3.15 px (README, "Ablations").
FLOWNET_PRETRAIN_OPTIONS = ['--balance-objects', '--iters', '12000']
# The sources whose digest is part of every stage's key (the stages'
# options are in the key already, so this file's own edits retrain nothing).
CODE_PATHS = ('memvid_mm', 'tools')
CODE_EXCLUDED = ('tools/misc/run_demo.py', )
# The sources that make SynthVID; data made by other versions are remade.
DATA_CODE_PATHS = ('memvid_mm/datasets', 'tools/misc/gen_synthvid.py',
                   'tools/dataset_converters')
DATA_RECORD = 'demo_data.json'
# Gains of these models over the reference, with bootstrap intervals.
COMPARED = ('R-FCN (per-frame)', ('MemNet-3', 'ClockNet'))
BOOTSTRAP_RESAMPLES = 200
TRUE_FLOW_METRICS = 'true_flow_metrics.json'
#: The per-frame test dump of a stage, in its work dir.
TEST_DUMP = 'dets.pkl'
COLUMNS = [('mAP', 'vid/mAP'), ('fast', 'vid/mAP_fast'),
           ('medium', 'vid/mAP_medium'), ('slow', 'vid/mAP_slow'),
           ('degraded', 'vid/mAP_degraded'), ('clean', 'vid/mAP_clean'),
           ('COCO AP50', 'vid/bbox_mAP_50')]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='SynthVID demo')
    parser.add_argument(
        '--blur',
        choices=BLUR_MODES,
        default='frame',
        help="SynthVID's blur frames: 'frame' (the whole frame smeared in "
        "a random direction, the default) or 'motion' (every object along "
        'its own motion); each has its own data root')
    parser.add_argument(
        '--work-dir',
        help='default: work_dirs/demo (--blur frame) or '
        'work_dirs/demo_motion-blur (--blur motion)')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='random seed of every training (not of the data; default 0)')
    parser.add_argument(
        '--degradations',
        nargs='+',
        choices=DEGRADATIONS,
        default=list(DEGRADATIONS),
        help='the kinds of degraded frames (default: all four); a subset '
        'gets its own data root and default work dir, with the suffix '
        '_only-<kinds>')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='regenerate the data and retrain every model')
    args = parser.parse_args()
    if len(set(args.degradations)) != len(args.degradations):
        parser.error(f'--degradations names a kind twice: '
                     f'{" ".join(args.degradations)}')
    # one order per set: the order of the kinds changes the drawn data
    args.degradations = [k for k in DEGRADATIONS if k in args.degradations]
    return args


def run(cmd: List[str], log_file: str) -> float:
    """Run ``cmd`` from the repo root, tee to ``log_file``; return seconds."""
    print('$ ' + ' '.join(cmd), flush=True)
    start = time.time()
    with open(log_file, 'w', encoding='utf-8') as log:
        proc = subprocess.run(
            cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_file, encoding='utf-8') as log:
            print(''.join(log.readlines()[-40:]))
        raise SystemExit(f'command failed ({proc.returncode}); log: '
                         f'{log_file}')
    return time.time() - start


def degradations_suffix(degradations: List[str]) -> str:
    """``''`` for every kind, else ``'_only-'`` and the kinds joined by
    ``-`` (the data root's and work dir's suffix)."""
    if set(degradations) == set(DEGRADATIONS):
        return ''
    return '_only-' + '-'.join(degradations)


def prepare_data(work_dir: str, data_root: str, blur: str,
                 degradations: List[str], overwrite: bool) -> None:
    """Generate SynthVID with ``blur`` frames of that mode and degraded
    frames of the kinds ``degradations`` into ``data_root`` and convert it,
    unless it is already there, made by the current ``DATA_CODE_PATHS``
    (recorded in ``DATA_RECORD`` beside it)."""
    ann_dir = osp.join(data_root, 'annotations')
    anns = [
        osp.join(ann_dir, f'imagenet_vid_{split}.json')
        for split in ('train', 'val')
    ]
    record_file = osp.join(data_root, DATA_RECORD)
    data_code = source_digest(DATA_CODE_PATHS)
    if all(osp.exists(ann) for ann in anns) and not overwrite:
        settings = load_synthvid_settings(data_root)
        found = settings['blur']
        if found != blur:
            raise SystemExit(f'{data_root} holds SynthVID with {found!r} '
                             f'blur, not {blur!r}; pass --overwrite to '
                             'generate it again')
        if settings['degradations'] != degradations:
            raise SystemExit(
                f'{data_root} holds SynthVID degraded by '
                f'{settings["degradations"]}, not {degradations}; pass '
                '--overwrite to generate it again')
        if (read_record(record_file) or {}).get('code') == data_code:
            print(f'SynthVID found in {data_root}')
            return
        print(
            f'SynthVID in {data_root} was not made by the current '
            f'sources of {", ".join(DATA_CODE_PATHS)}; generating it '
            'again',
            flush=True)
    # the record goes first, so that data left half made by an interrupted
    # run is not taken for finished by the next
    remove_if_exists(record_file)
    gen = [
        sys.executable, 'tools/misc/gen_synthvid.py', '--out', data_root,
        '--blur', blur, '--degradations', *degradations, '--no-convert',
        '--overwrite'
    ]
    run(gen, osp.join(work_dir, 'gen_synthvid.log'))
    convert = [
        sys.executable, 'tools/dataset_converters/imagenet2coco_vid.py', '-i',
        data_root, '-o', ann_dir, '--classes', 'synthvid'
    ]
    run(convert, osp.join(work_dir, 'convert.log'))
    with open(record_file, 'w', encoding='utf-8') as f:
        json.dump(dict(code=data_code), f, indent=1)


def data_root_options(data_root: str) -> List[str]:
    """``--cfg-options`` entries that point a SynthVID config's data
    loaders at ``data_root``."""
    return [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def model_dir_of(work_dir: str, config: str) -> str:
    return osp.join(work_dir, osp.splitext(osp.basename(config))[0])


def file_digest(path: str) -> str:
    """SHA-256 of a file's contents."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def config_digest(config: str) -> str:
    """SHA-256 of a config as resolved with its ``_base_`` files."""
    text = Config.fromfile(config).pretty_text
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def walk_files(root: str, suffix: str = '') -> List[str]:
    """The files under ``root`` ending in ``suffix``, in a fixed order.

    Args:
        root (str): A directory; a missing one has no files.
        suffix (str): Kept file names end in it. Defaults to all files.

    Returns:
        list[str]: Paths, folder by folder in sorted order.
    """
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        found += [
            osp.join(folder, name) for name in sorted(files)
            if name.endswith(suffix)
        ]
    return found


def files_digest(files: Sequence[str], root: str) -> str:
    """SHA-256 over the paths (relative to ``root``) and contents of
    ``files``, in the order given."""
    digest = hashlib.sha256()
    for path in files:
        name = osp.relpath(path, root).replace(os.sep, '/')
        digest.update(name.encode('utf-8') + b'\0')
        digest.update(file_digest(path).encode('ascii'))
    return digest.hexdigest()


def tree_digest(root: str) -> str:
    """SHA-256 over every file under ``root``: relative paths and contents.

    Args:
        root (str): A directory (the SynthVID root).

    Returns:
        str: The digest; that of an empty tree when ``root`` is missing.
    """
    return files_digest(walk_files(root), root)


def source_digest(paths: Sequence[str], excluded: Sequence[str] = ()) -> str:
    """SHA-256 over the ``.py`` files under ``paths``: names and contents.

    Args:
        paths (Sequence[str]): Files and directories, relative to the repo
            root.
        excluded (Sequence[str]): Files left out, relative to the root.

    Returns:
        str: The digest.

    Raises:
        FileNotFoundError: If a path does not exist.
    """
    files = []
    for path in paths:
        full = osp.join(REPO_ROOT, path)
        if not osp.exists(full):
            raise FileNotFoundError(f'source path not found: {full}')
        files += [full] if osp.isfile(full) else walk_files(full, '.py')
    return files_digest([
        file for file in files
        if osp.relpath(file, REPO_ROOT).replace(os.sep, '/') not in excluded
    ], REPO_ROOT)


def library_versions() -> Dict[str, str]:
    """The versions of the libraries the stages run on."""
    return dict(
        torch=torch.__version__,
        mmcv=mmcv.__version__,
        mmdet=mmdet.__version__,
        mmengine=mmengine.__version__,
        memvid_mm=memvid_mm.__version__)


def stage_key(config: str, options: List[str], seed: int, inputs: List[str],
              data: str) -> dict:
    """What a stage's results depend on, to decide whether to keep them.

    Args:
        config (str): The stage's config file.
        options (list[str]): Its ``--cfg-options`` / command-line options.
        seed (int): The training seed.
        inputs (list[str]): Checkpoints it starts from (hashed).
        data (str): Digest of the data it trains and tests on
            (:func:`tree_digest` of the SynthVID root).

    Returns:
        dict: ``seed``, ``config`` (digest), ``options``, ``inputs``
        (path -> digest), ``data``, ``code`` (:func:`source_digest` of
        ``CODE_PATHS``) and ``libraries`` (:func:`library_versions`),
        JSON-serialisable.
    """
    return dict(
        seed=seed,
        config=config_digest(config),
        options=list(options),
        inputs={path: file_digest(path)
                for path in inputs},
        data=data,
        code=source_digest(CODE_PATHS, CODE_EXCLUDED),
        libraries=library_versions())


def read_record(results_file: str) -> Optional[dict]:
    """A stage's results file, or None when there is none."""
    if not osp.exists(results_file):
        return None
    with open(results_file, encoding='utf-8') as f:
        return json.load(f)


def output_digests(*paths: str) -> Dict[str, str]:
    """The digests of the files a stage wrote, by path."""
    return {path: file_digest(path) for path in paths}


def outputs_unchanged(outputs: Any) -> bool:
    """Whether every file of a record's ``outputs`` is still there with the
    digest it had when the stage wrote it."""
    return isinstance(outputs, dict) and bool(outputs) and all(
        osp.isfile(path) and file_digest(path) == digest
        for path, digest in outputs.items())


def kept_record(results_file: str, key: dict,
                overwrite: bool) -> Optional[dict]:
    """The results of a finished stage with ``key``, or None to (re)run.

    Kept only when the file records the same key and the files the stage
    wrote (``outputs``: its checkpoint, and its test dump) are still there
    with the same contents: a checkpoint written over by hand (e.g. a
    FlowNet pre-trained with other options to the demo's path) is not the
    stage's.
    """
    record = None if overwrite else read_record(results_file)
    if record is None or record.get('key') != key or not outputs_unchanged(
            record.get('outputs')):
        return None
    return record


def remove_if_exists(*paths: str) -> None:
    for path in paths:
        if osp.exists(path):
            os.remove(path)


def last_checkpoint(model_dir: str) -> str:
    with open(osp.join(model_dir, 'last_checkpoint'), encoding='utf-8') as f:
        return f.read().strip()


def pretrain_flownet(work_dir: str, data_root: str, seed: int, data: str,
                     overwrite: bool) -> str:
    """Pre-train the memory models' FlowNet; return its checkpoint path.

    A checkpoint already there is kept when ``flownet_stage.json`` beside
    it records the same key (seed, config, options, ``data`` digest) and
    the checkpoint's own digest (:func:`kept_record`).
    """
    checkpoint = osp.join(work_dir, FLOWNET_CHECKPOINT)
    record_file = osp.join(osp.dirname(checkpoint), 'flownet_stage.json')
    options = ['--data-root', data_root, *FLOWNET_PRETRAIN_OPTIONS]
    key = stage_key(FLOWNET_CONFIG, options, seed, [], data)
    if kept_record(record_file, key, overwrite) is not None:
        print('FlowNet pre-training kept', flush=True)
        return checkpoint
    os.makedirs(osp.dirname(checkpoint), exist_ok=True)
    remove_if_exists(record_file)
    seconds = run([
        sys.executable, 'tools/misc/pretrain_flownet_synthvid.py',
        FLOWNET_CONFIG, '--out', checkpoint, '--seed',
        str(seed), *options
    ], osp.join(osp.dirname(checkpoint), 'pretrain.log'))
    with open(record_file, 'w', encoding='utf-8') as f:
        json.dump(
            dict(
                key=key,
                checkpoint=checkpoint,
                outputs=output_digests(checkpoint),
                pretrain_s=seconds),
            f,
            indent=1)
    print(f'FlowNet pre-trained in {seconds:.0f} s', flush=True)
    return checkpoint


def train(config: str, model_dir: str, options: List[str]) -> float:
    """Train ``config`` into ``model_dir``; return the seconds it took.

    ``options`` are ``--cfg-options`` entries (``key=value``).
    """
    os.makedirs(model_dir, exist_ok=True)
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir', model_dir]
    if options:
        cmd += ['--cfg-options', *options]
    return run(cmd, osp.join(model_dir, 'train.log'))


def test(config: str, checkpoint: str, model_dir: str,
         options: List[str]) -> Dict[str, float]:
    """Test ``checkpoint`` with ``--cfg-options`` ``options``; return the
    metrics."""
    metrics_file = osp.join(model_dir, 'test_metrics.json')
    test_s = run([
        sys.executable, 'tools/test.py', config, checkpoint, '--work-dir',
        model_dir, '--out',
        osp.join(model_dir, TEST_DUMP), '--metrics-out', metrics_file,
        '--cfg-options', *options
    ], osp.join(model_dir, 'test.log'))
    with open(metrics_file, encoding='utf-8') as f:
        metrics = json.load(f)
    metrics['test_s'] = test_s
    return metrics


def run_stage(config: str,
              model_dir: str,
              options: List[str],
              inputs: List[str],
              data: str,
              evaluate: bool,
              seed: int,
              overwrite: bool,
              test_options: Optional[List[str]] = None) -> Dict[str, float]:
    """Train (and test) one stage with ``seed``, unless finished results
    of the same key are there.

    Args:
        config (str): The stage's config.
        model_dir (str): Its work dir.
        options (list[str]): ``--cfg-options`` entries (``key=value``).
        inputs (list[str]): Checkpoints named in ``options`` (hashed into
            the key).
        data (str): Digest of the SynthVID files (:func:`tree_digest`).
        evaluate (bool): Test the trained model.
        seed (int): Training seed (``randomness.seed``).
        overwrite (bool): Train even if finished results are there.
        test_options (list[str], optional): ``--cfg-options`` entries of
            the test (the data root). Defaults to none.

    Returns:
        dict: ``key``, ``checkpoint`` (the trained model), ``train_s``,
        ``outputs`` (the digests of the checkpoint and, when
        ``evaluate``, of the test dump) and, when ``evaluate``, the test
        metrics.
    """
    done_file = osp.join(model_dir, 'stage_results.json')
    options = [*options, f'randomness.seed={seed}']
    key = stage_key(config, options, seed, inputs, data)
    kept = kept_record(done_file, key, overwrite)
    if kept is not None:
        return dict(kept, kept=True)
    # results derived from an earlier training of this stage go first
    remove_if_exists(done_file, osp.join(model_dir, TRUE_FLOW_METRICS))
    results = dict(key=key, train_s=train(config, model_dir, options))
    results['checkpoint'] = last_checkpoint(model_dir)
    outputs = [results['checkpoint']]
    if evaluate:
        results.update(
            test(config, results['checkpoint'], model_dir, test_options or []))
        outputs.append(osp.join(model_dir, TEST_DUMP))
    results['outputs'] = output_digests(*outputs)
    with open(done_file, 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=1)
    return results


def test_with_true_flow(config: str, stage: dict, model_dir: str,
                        data_root: str, overwrite: bool) -> Dict[str, float]:
    """Test a memory model's checkpoint with the true flow.

    The result is kept next to the stage's own; :func:`run_stage` deletes
    it whenever the stage trains again.
    """
    metrics_file = osp.join(model_dir, TRUE_FLOW_METRICS)
    if osp.exists(metrics_file) and not overwrite:
        with open(metrics_file, encoding='utf-8') as f:
            return json.load(f)
    run([
        sys.executable, 'tools/analysis_tools/test_true_flow_synthvid.py',
        config, stage['checkpoint'], '--data-root', data_root, '--work-dir',
        model_dir, '--metrics-out', metrics_file, '--cfg-options',
        *data_root_options(data_root)
    ], osp.join(model_dir, 'test_true_flow.log'))
    with open(metrics_file, encoding='utf-8') as f:
        return json.load(f)


def format_table(results: Dict[str, Dict[str, float]]) -> str:
    """A Markdown table of the VID metrics (x100) per model."""
    header = '| model | ' + ' | '.join(c for c, _ in COLUMNS) + ' |'
    lines = [header, '|' + '---|' * (len(COLUMNS) + 1)]
    for name, metrics in results.items():
        missing = [key for _, key in COLUMNS if key not in metrics]
        if missing:
            raise SystemExit(f'the metrics of {name} have no {missing}: '
                             'the demo prints every column of every model')
        cells = [f'{100 * metrics[key]:.1f}' for _, key in COLUMNS]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def compare_gains(work_dir: str, data_root: str, model_dirs: Dict[str,
                                                                  str]) -> str:
    """Run ``compare_vid.py`` on the test dumps; return its report."""
    reference, models = COMPARED
    report_file = osp.join(work_dir, 'gains.md')
    run([
        sys.executable, 'tools/analysis_tools/compare_vid.py',
        osp.join(data_root, 'annotations', 'imagenet_vid_val.json'),
        *(osp.join(model_dirs[name], TEST_DUMP)
          for name in (reference, *models)), '--names', reference, *models,
        '--bootstrap',
        str(BOOTSTRAP_RESAMPLES), '--out', report_file
    ], osp.join(work_dir, 'compare_gains.log'))
    with open(report_file, encoding='utf-8') as f:
        return f.read().strip()


def _run_stages(
    work_dir: str, data_root: str, data: str, flownet: str, seed: int,
    overwrite: bool
) -> Tuple[Dict[str, dict], Dict[str, str], Dict[str, Dict[str, float]]]:
    """Run every stage of :data:`STAGES` in order (:func:`run_stage`),
    each from its ``init_from`` stage's checkpoint and, for the memory
    models, the pre-trained FlowNet; print one line per stage.

    Args:
        work_dir (str): The demo's work dir.
        data_root (str): The SynthVID root.
        data (str): Digest of the SynthVID files (:func:`tree_digest`).
        flownet (str): The pre-trained FlowNet checkpoint.
        seed (int): Training seed.
        overwrite (bool): Train even if finished results are there.

    Returns:
        tuple[dict, dict, dict]: Per stage name, its results
        (:func:`run_stage`) and its model dir; and the results of the
        stages that are tested, in order.
    """
    results = {}
    model_dirs = {}
    stages = {}
    for name, config, init_from, evaluate, uses_flownet in STAGES:
        model_dirs[name] = model_dir_of(work_dir, config)
        options, inputs = data_root_options(data_root), []
        if init_from:
            init_checkpoint = stages[init_from]['checkpoint']
            options.append(f'load_from={init_checkpoint}')
            inputs.append(init_checkpoint)
        if uses_flownet:
            options.append(f'model.motion.init_cfg.checkpoint={flownet}')
            inputs.append(flownet)
        stages[name] = run_stage(config, model_dirs[name], options, inputs,
                                 data, evaluate, seed, overwrite,
                                 data_root_options(data_root))
        trained = ('kept (trained in {:.0f} s before)'
                   if stages[name].get('kept') else 'trained in {:.0f} s')
        print(
            f'{name}: ' + trained.format(stages[name]['train_s']) +
            (f', mAP {100 * stages[name]["vid/mAP"]:.1f}' if evaluate else ''),
            flush=True)
        if evaluate:
            results[name] = stages[name]
    return stages, model_dirs, results


def _report(args: argparse.Namespace, work_dir: str, data_root: str,
            results: Dict[str, Dict[str, float]], model_dirs: Dict[str, str],
            start: float) -> None:
    """Write the metrics table and the gains (:func:`compare_gains`) to
    ``results.md`` in ``work_dir`` and print them.

    Args:
        args (Namespace): The demo's arguments (``blur``,
            ``degradations``, ``seed``).
        work_dir (str): The demo's work dir.
        data_root (str): The SynthVID root.
        results (dict): Per shown row, its VID metrics.
        model_dirs (dict): Per stage name, its model dir.
        start (float): ``time.time()`` when the demo started.
    """
    table = format_table(results)
    gains = compare_gains(work_dir, data_root, model_dirs)
    with open(osp.join(work_dir, 'results.md'), 'w', encoding='utf-8') as f:
        f.write(table + '\n\n' + gains + '\n')
    print(f'\nSynthVID val ({args.blur} blur, degraded by '
          f'{", ".join(args.degradations)}; {data_root}), official '
          'ImageNet VID protocol (AP x 100), training seed '
          f'{args.seed}:\n')
    print(table)
    print('\nGains over the per-frame R-FCN (AP x 100):\n')
    print(gains)
    print(f'\ndemo finished in {time.time() - start:.0f} s')


def main() -> None:
    args = parse_args()
    os.chdir(REPO_ROOT)
    suffix = degradations_suffix(args.degradations)
    data_root = DATA_ROOTS[args.blur] + suffix
    work_dir = args.work_dir or WORK_DIRS[args.blur] + suffix
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    prepare_data(work_dir, data_root, args.blur, args.degradations,
                 args.overwrite)
    data = tree_digest(data_root)
    flownet = pretrain_flownet(work_dir, data_root, args.seed, data,
                               args.overwrite)
    stages, model_dirs, results = _run_stages(work_dir, data_root, data,
                                              flownet, args.seed,
                                              args.overwrite)
    for name, config, _, evaluate, uses_flownet in STAGES:
        if evaluate and uses_flownet:
            results[f'{name}, true flow (diagnostic)'] = test_with_true_flow(
                config, stages[name], model_dirs[name], data_root,
                args.overwrite)
    _report(args, work_dir, data_root, results, model_dirs, start)


if __name__ == '__main__':
    main()
