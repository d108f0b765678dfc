# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/train.py, tools/test.py and the dist_*.sh launchers on CPU.

These tests start real processes (``torchrun`` with the ``gloo`` backend for
two ranks) on a tiny SynthVID, so they take about a minute together.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from memvid_mm.datasets import (SYNTHVID_CLASS_TABLE, SYNTHVID_CLASSES,
                                VID_ANN_FILES, convert_vid, generate_synthvid,
                                save_json)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MEMNET_CFG = 'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py'
RFCN_CFG = 'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py'
STRONG_FEATURE_CFG = ('configs/strong_feature/strong-feature_rfcn_r18-w8-d8_'
                      'clocknet-featprop_1xb4-ft3e_synthvid.py')
STRONG_FEATURE_R101_CFG = (
    'configs/strong_feature/strong-feature_rfcn_r18-dc5_clocknet-r101-'
    'featprop_4xb1-7e_imagenetvid.py')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run(cmd, **env):
    # CPU processes on any machine: with CUDA visible, two ranks would ask
    # for two GPUs (rank 1 fails with 'invalid device ordinal' on one GPU)
    full_env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(free_port()),
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='',
        **env)
    proc = subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def run_refused(cmd) -> str:
    """Run a tool that must fail, on the CPU; return its stderr."""
    proc = subprocess.run(
        [sys.executable] + cmd,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, CUDA_VISIBLE_DEVICES=''))
    assert proc.returncode != 0, proc.stdout[-3000:]
    return proc.stderr


@pytest.fixture(scope='module')
def synthvid_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synthvid'))
    generate_synthvid(
        root,
        num_train_videos=3,
        num_val_videos=3,
        num_frames=8,
        width=96,
        height=64,
        seed=3)
    for split in ('train', 'val'):
        save_json(
            convert_vid(root, split, SYNTHVID_CLASS_TABLE),
            osp.join(root, 'annotations', VID_ANN_FILES[split]))
    return root


def small_config(base: str, data_root: str, out_file: str, **overrides) -> str:
    """Shrink a SynthVID config for a short run and write it to a file."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, base))
    cfg.train_dataloader.dataset.data_root = data_root + '/'
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    for split in ('val_dataloader', 'test_dataloader'):
        cfg[split].dataset.data_root = data_root + '/'
        cfg[split].num_workers = 0
        cfg[split].persistent_workers = False
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=4, val_interval=100)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=4, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(type='LogProcessor', by_epoch=False)
    cfg.load_from = None
    cfg.merge_from_dict(overrides)
    cfg.dump(out_file)
    return out_file


@pytest.fixture(scope='module')
def trained_memnet(synthvid_root, tmp_path_factory):
    """MemNet-3 trained for 4 iterations by 2 CPU processes."""
    work_dir = str(tmp_path_factory.mktemp('memnet'))
    # No FlowNet weights: `make demo` pre-trains them, tests do not.
    cfg = small_config(MEMNET_CFG, synthvid_root,
                       osp.join(work_dir, 'memnet.py'),
                       **{'model.motion.init_cfg': None})
    proc = run(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', work_dir])
    assert 'Iter(train) [4/4]' in proc.stdout + proc.stderr
    checkpoint = osp.join(work_dir, 'iter_4.pth')
    assert osp.exists(checkpoint)
    return cfg, checkpoint, work_dir


def test_two_process_test_matches_one_process(trained_memnet, synthvid_root):
    cfg, checkpoint, work_dir = trained_memnet
    results = {}
    for nproc in (1, 2):
        out = osp.join(work_dir, f'dets_{nproc}.pkl')
        metrics_out = osp.join(work_dir, f'metrics_{nproc}.json')
        if nproc == 1:
            cmd = [sys.executable, 'tools/test.py', cfg, checkpoint]
        else:
            cmd = ['bash', 'tools/dist_test.sh', cfg, checkpoint, '2']
        proc = run(cmd + [
            '--work-dir', work_dir, '--out', out, '--metrics-out', metrics_out
        ])
        # the config is the one the checkpoint was trained with
        assert 'other model settings' not in proc.stdout + proc.stderr
        with open(metrics_out) as f:
            metrics = json.load(f)
        with open(out, 'rb') as f:
            dets = pickle.load(f)
        results[nproc] = (metrics, dets)
    val_ann = osp.join(synthvid_root, 'annotations', VID_ANN_FILES['val'])
    with open(val_ann) as f:
        num_frames = len(json.load(f)['images'])
    with open(val_ann, 'rb') as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    for metrics, dets in results.values():
        img_ids = [d['img_id'] for d in dets]
        assert len(img_ids) == len(set(img_ids)) == num_frames
        # --out and --metrics-out record the tested annotation file
        # (data_root joined)
        assert all(d['ann_file'] == dict(path=val_ann, sha256=sha256)
                   for d in dets)
        assert metrics['ann_file'] == dict(path=val_ann, sha256=sha256)
    assert results[1][0] == results[2][0]
    assert 'vid/mAP' in results[1][0]
    for a, b in zip(results[1][1], results[2][1]):
        assert a['img_id'] == b['img_id']
        assert (a['scores'] == b['scores']).all()


def test_test_refuses_a_checkpoint_that_does_not_fit(trained_memnet, tmp_path):
    """A checkpoint without FlowNet fails instead of testing a random one."""
    cfg, checkpoint, work_dir = trained_memnet
    partial = without_keys(checkpoint, 'motion.',
                           str(tmp_path / 'without_flownet.pth'))
    stderr = run_refused(
        ['tools/test.py', cfg, partial, '--work-dir',
         str(tmp_path)])
    assert f'checkpoint {partial} does not fit the model (MemoryRFCN)' in (
        stderr)
    assert 'missing keys in source state_dict: motion.' in stderr


def test_test_refuses_a_directory_before_building_anything(tmp_path):
    """mmengine said of a work directory that it 'can not be found'."""
    work_dir = tmp_path / 'memnet'
    work_dir.mkdir()
    (work_dir / 'epoch_1.pth').write_bytes(b'')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))
    stderr = run_refused([
        'tools/test.py', MEMNET_CFG,
        str(work_dir), '--work-dir',
        str(tmp_path / 'logs')
    ])
    assert (f'IsADirectoryError: checkpoint {work_dir} is a directory, but a '
            f'checkpoint file (.pth) is expected, e.g. {work_dir}/epoch_1.pth '
            '(its last_checkpoint)') in stderr
    assert not (tmp_path / 'logs').exists()  # no runner was built


def test_train_refuses_a_directory_as_load_from_before_building(tmp_path):
    """A work dir as ``load_from``, as tools/test.py refuses it."""
    work_dir = tmp_path / 'rfcn'
    work_dir.mkdir()
    (work_dir / 'epoch_6.pth').write_bytes(b'')
    stderr = run_refused([
        'tools/train.py', MEMNET_CFG, '--work-dir',
        str(tmp_path / 'logs'), '--cfg-options', f'load_from={work_dir}'
    ])
    assert (f'IsADirectoryError: checkpoint {work_dir} is a directory, but a '
            f'checkpoint file (.pth) is expected, e.g. {work_dir}/epoch_6.pth'
            ) in stderr
    assert not (tmp_path / 'logs').exists()  # no runner was built


def test_test_runs_a_config_with_mmengines_ema_hook(trained_memnet, tmp_path):
    """The checkpoint is loaded after the hooks' before_run, where EMAHook
    builds its EMA model (loaded before, the hook had none and the error
    blamed the file). The runner saves the EMA weights as the state_dict,
    so the hook changes no result."""
    cfg, checkpoint, _ = trained_memnet
    with_ema = Config.fromfile(cfg)
    with_ema.custom_hooks = [dict(type='EMAHook')]
    with_ema_file = str(tmp_path / 'with_ema.py')
    with_ema.dump(with_ema_file)
    metrics = {}
    for name, config in (('plain', cfg), ('ema', with_ema_file)):
        out = str(tmp_path / f'{name}.json')
        run([
            sys.executable, 'tools/test.py', config, checkpoint, '--work-dir',
            str(tmp_path / name), '--metrics-out', out
        ])
        with open(out) as f:
            metrics[name] = json.load(f)
    assert metrics['ema'] == metrics['plain']


def test_test_refuses_outputs_over_the_test_annotations(
        trained_memnet, synthvid_root, tmp_path):
    cfg, checkpoint, _ = trained_memnet
    ann_file = osp.join(synthvid_root, 'annotations', VID_ANN_FILES['val'])
    with open(ann_file, 'rb') as f:
        before = f.read()
    for option in ('--metrics-out', '--out'):
        stderr = run_refused([
            'tools/test.py', cfg, checkpoint, '--work-dir',
            str(tmp_path / 'logs'), option, ann_file
        ])
        assert (f'{option} {ann_file} is the test annotation file' in stderr)
    with open(ann_file, 'rb') as f:
        assert f.read() == before
    assert not (tmp_path / 'logs').exists()  # refused before a runner


def test_test_logs_model_settings_other_than_the_trained_ones(
        trained_memnet, tmp_path):
    """FlowNet at half resolution changes no key of the checkpoint: the
    test runs, and says that the config is not the trained one."""
    cfg, checkpoint, work_dir = trained_memnet
    proc = run([
        sys.executable, 'tools/test.py', cfg, checkpoint, '--work-dir',
        str(tmp_path), '--cfg-options', 'model.motion.img_scale_factor=0.5'
    ])
    assert (f'checkpoint {checkpoint} was trained with other model settings'
            in proc.stdout + proc.stderr)
    assert ('model.motion.img_scale_factor: 1.0 in training, 0.5 here'
            in proc.stdout + proc.stderr)


def test_test_refuses_a_checkpoint_of_other_classes(trained_memnet, tmp_path):
    """The test set's classes in another order than the training set's:
    every label would be scored as the wrong class."""
    cfg, checkpoint, work_dir = trained_memnet
    saved = torch.load(checkpoint, map_location='cpu', weights_only=False)
    classes = tuple(saved['meta']['dataset_meta']['classes'])
    assert classes == SYNTHVID_CLASSES  # the runner records them
    reordered = ('box', 'disc') + classes[2:]
    stderr = run_refused([
        'tools/test.py', cfg, checkpoint, '--work-dir',
        str(tmp_path), '--cfg-options',
        f'test_dataloader.dataset.metainfo.classes={list(reordered)}'
    ])
    assert (f'checkpoint {checkpoint} was trained on classes {classes!r}'
            in stderr)
    assert 'the same classes in another order' in stderr


def run_stock_mmdet_refused(tool: str, args) -> str:
    """Run MMDetection's own ``tools/<tool>`` (in its wheel), which must
    fail, on the CPU; return its stderr."""
    import mmdet
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', tool)
    proc = subprocess.run(
        [sys.executable, path] + args,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(
            os.environ,
            CUDA_VISIBLE_DEVICES='',
            TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1'))
    assert proc.returncode != 0, proc.stdout[-3000:]
    return proc.stderr


def test_stock_mmdet_test_refuses_a_checkpoint_of_other_classes(
        trained_memnet, tmp_path):
    """MMDetection's own tools/test.py (in its wheel) checks the classes
    too: the configs' CheckpointClassesHook."""
    cfg, checkpoint, _ = trained_memnet
    classes = SYNTHVID_CLASSES
    reordered = ('box', 'disc') + classes[2:]
    stderr = run_stock_mmdet_refused('test.py', [
        cfg, checkpoint, '--work-dir',
        str(tmp_path), '--cfg-options',
        f'test_dataloader.dataset.metainfo.classes={list(reordered)}'
    ])
    assert 'CheckpointClassesError' in stderr
    assert (f'checkpoint {checkpoint} was trained on classes {classes!r}'
            in stderr)
    assert 'test_dataloader.dataset lists' in stderr


def refused_training(refuse, cfg: str, load_from: str, work_dir: str) -> str:
    """Start a one-iteration training of ``cfg`` from ``load_from`` with
    ``refuse`` (a tool's arguments to its stderr; the tool must fail);
    check that it saved no checkpoint and return its stderr."""
    stderr = refuse([
        cfg, '--work-dir', work_dir, '--cfg-options', f'load_from={load_from}',
        'train_cfg.max_iters=1'
    ])
    assert not glob.glob(osp.join(work_dir, '*.pth'))
    return stderr


def without_keys(checkpoint: str, prefix: str, out: str) -> str:
    """Save ``checkpoint`` without its weights under ``prefix``."""
    saved = torch.load(checkpoint, map_location='cpu', weights_only=False)
    saved['state_dict'] = {
        key: value
        for key, value in saved['state_dict'].items()
        if not key.startswith(prefix)
    }
    torch.save(saved, out)
    return out


def test_stock_mmdet_tools_refuse_a_checkpoint_that_does_not_fit(
        trained_memnet, tmp_path):
    """MMDetection's own tools/test.py and tools/train.py load leniently;
    the configs' CheckpointFitHook refuses what would leave weights at
    random: a test checkpoint without FlowNet, a load_from without the
    R-FCN head."""
    cfg, checkpoint, _ = trained_memnet
    no_flownet = without_keys(checkpoint, 'motion.',
                              str(tmp_path / 'no_flownet.pth'))
    stderr = run_stock_mmdet_refused(
        'test.py', [cfg, no_flownet, '--work-dir',
                    str(tmp_path / 'test')])
    assert (f'checkpoint {no_flownet} does not fit the model (MemoryRFCN)'
            in stderr)
    assert 'missing keys in source state_dict: motion.' in stderr
    no_head = without_keys(checkpoint, 'detector.roi_head.',
                           str(tmp_path / 'no_head.pth'))
    stderr = refused_training(
        lambda args: run_stock_mmdet_refused('train.py', args), cfg, no_head,
        str(tmp_path / 'train'))
    assert (f'load_from {no_head} does not fit the model (MemoryRFCN)'
            in stderr)
    assert 'missing keys in source state_dict: detector.roi_head.' in stderr


def refused_by_both_train_tools(cfg, hook, tmp_path, *args):
    """Run MMDetection's tools/train.py on ``cfg`` and memvid_mm's on
    ``cfg`` without ``default_hooks[hook]`` (which it adds back); both must
    fail. Returns each one's stderr and work dir."""
    cfg.dump(str(tmp_path / 'with_hook.py'))
    del cfg.default_hooks[hook]
    cfg.dump(str(tmp_path / 'without_hook.py'))
    refusals = []
    for refuse, config in [
        (lambda argv: run_stock_mmdet_refused('train.py', argv),
         'with_hook.py'),
        (lambda argv: run_refused(['tools/train.py'] + argv),
         'without_hook.py'),
    ]:
        work_dir = tmp_path / config[:-3]
        stderr = refuse([str(tmp_path / config), '--work-dir',
                         str(work_dir)] + list(args))
        refusals.append((stderr, work_dir))
    return refusals


def test_a_head_of_other_classes_is_refused_before_training(
        synthvid_root, tmp_path):
    """A 4-class head on a 3-class data set used to train and fail at the
    first validation under MMDetection's own tools/train.py (labels outside
    the classes); the configs' NumClassesHook refuses it before the first
    iteration, and memvid_mm's tools/train.py adds the hook to a config
    without it."""
    three_classes = list(SYNTHVID_CLASSES[:3])
    cfg = Config.fromfile(
        small_config(MEMNET_CFG, synthvid_root, str(tmp_path / 'memnet.py'),
                     **{
                         'model.motion.init_cfg': None,
                         'load_from': None
                     }))
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[split].dataset.metainfo = dict(classes=three_classes)
    for stderr, work_dir in refused_by_both_train_tools(
            cfg, 'num_classes', tmp_path, '--cfg-options',
            'train_cfg.max_iters=1'):
        assert ('detector.roi_head.bbox_head (RFCNBBoxHead) predicts 4 '
                'classes, but train_dataloader.dataset has 3' in stderr)
        assert 'set its num_classes to 3' in stderr
        assert not glob.glob(str(work_dir / '*.pth'))


def test_an_empty_training_set_is_refused_before_training(
        synthvid_root, tmp_path):
    """The val file as the training ann_file has no training key frames:
    mmengine's sampler used to end in a bare ZeroDivisionError; the
    configs' NonEmptyDatasetHook names the file, and memvid_mm's
    tools/train.py adds the hook to a config without it."""
    val_file = osp.join('annotations', VID_ANN_FILES['val'])
    cfg = Config.fromfile(
        small_config(RFCN_CFG, synthvid_root, str(tmp_path / 'rfcn.py'),
                     **{'train_dataloader.dataset.ann_file': val_file}))
    for stderr, _ in refused_by_both_train_tools(cfg, 'non_empty_dataset',
                                                 tmp_path):
        assert (f'train_dataloader.dataset ({synthvid_root}/{val_file}) has '
                'no training samples' in stderr), stderr[-2000:]
        assert 'ZeroDivisionError' not in stderr


def test_train_adds_the_fit_hook_to_a_config_without_it(
        trained_memnet, tmp_path):
    cfg, checkpoint, _ = trained_memnet
    without_hook = Config.fromfile(cfg)
    del without_hook.default_hooks['checkpoint_fit']
    without_hook.dump(str(tmp_path / 'without_hook.py'))
    no_head = without_keys(checkpoint, 'detector.roi_head.',
                           str(tmp_path / 'no_head.pth'))
    stderr = refused_training(
        lambda args: run_refused(['tools/train.py'] + args),
        str(tmp_path / 'without_hook.py'), no_head, str(tmp_path / 'work'))
    assert (f'load_from {no_head} does not fit the model (MemoryRFCN)'
            in stderr)
    assert 'missing keys in source state_dict: detector.roi_head.' in stderr


@pytest.mark.parametrize('config,num_frames', [
    ('configs/clocknet_r101_vid.py', 6),
    ('configs/clocknet/clocknet-10_rfcn_r101-dc5_4xb1-7e_imagenetvid.py', 10),
])
def test_clocknet_r101_vid_trains_with_two_processes(synthvid_root, tmp_path,
                                                     config, num_frames):
    """The paper-scale configs run a few iterations on 2 CPU processes.

    Only the data (SynthVID instead of ImageNet VID, which CI does not have)
    and the pretrained weights (nothing can be downloaded) are replaced; the
    10-frame ClockNet checkpoints its backbone's blocks under DDP.
    """
    memnet = Config.fromfile(osp.join(REPO_ROOT, MEMNET_CFG))
    memnet.train_dataloader.dataset.pipeline[0] = dict(
        type='CausalClipSample', num_frames=num_frames, stride=1)
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    vid_clip = cfg.train_dataloader.dataset.datasets[0].pipeline[0]
    assert vid_clip.num_frames == num_frames
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[split].dataset = memnet[split].dataset
    cfg.model.detector.backbone.init_cfg = None
    cfg.model.motion.init_cfg = None
    cfg.model.detector.roi_head.bbox_head.num_classes = 4
    base = str(tmp_path / 'clocknet_base.py')
    cfg.dump(base)
    small = small_config(
        base, synthvid_root, str(tmp_path / 'clocknet.py'), **{
            'train_cfg.max_iters': 2,
            'default_hooks.checkpoint.interval': 2
        })
    proc = run([
        'bash', 'tools/dist_train.sh', small, '2', '--work-dir',
        str(tmp_path)
    ])
    assert 'Iter(train) [2/2]' in proc.stdout + proc.stderr
    assert osp.exists(tmp_path / 'iter_2.pth')


def test_strong_feature_r101_config_trains_with_two_processes(
        synthvid_root, tmp_path):
    """The paper-scale two-detector config (R-FCN-18 beside a ClockNet-101
    that lags 3 frames) runs a few iterations on 2 CPU processes, on
    SynthVID and without pretrained weights (the strong detector random:
    no trained ClockNet-101 here)."""
    memnet = Config.fromfile(osp.join(REPO_ROOT, MEMNET_CFG))
    cfg = Config.fromfile(osp.join(REPO_ROOT, STRONG_FEATURE_R101_CFG))
    assert cfg.train_dataloader.dataset.datasets[0].pipeline[0] == dict(
        type='CausalClipSample', num_frames=11, stride=1)
    strong = Config.fromfile(osp.join(REPO_ROOT, cfg.model.strong_config))
    strong.model.detector.roi_head.bbox_head.num_classes = 4
    strong_file = str(tmp_path / 'clocknet_r101.py')
    strong.dump(strong_file)
    memnet.train_dataloader.dataset.pipeline[0] = dict(
        type='CausalClipSample', num_frames=11, stride=1)
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[split].dataset = memnet[split].dataset
    cfg.model.detector.backbone.init_cfg = None
    cfg.model.detector.roi_head.bbox_head.num_classes = 4
    cfg.model.strong_config = strong_file
    cfg.model.strong_ckpt = None
    base = str(tmp_path / 'sf_base.py')
    cfg.dump(base)
    small = small_config(
        base, synthvid_root, str(tmp_path / 'sf.py'), **{
            'train_cfg.max_iters': 2,
            'default_hooks.checkpoint.interval': 2
        })
    proc = run([
        'bash', 'tools/dist_train.sh', small, '2', '--work-dir',
        str(tmp_path)
    ])
    assert 'Iter(train) [2/2]' in proc.stdout + proc.stderr
    assert 'no strong_ckpt' in proc.stdout + proc.stderr
    assert osp.exists(tmp_path / 'iter_2.pth')


def test_per_frame_rfcn_trains_and_tests_with_two_processes(
        synthvid_root, tmp_path):
    cfg = small_config(
        RFCN_CFG, synthvid_root, str(tmp_path / 'rfcn.py'), **{
            'train_cfg.max_iters': 2,
            'default_hooks.checkpoint.interval': 2
        })
    run(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(tmp_path)])
    metrics_out = str(tmp_path / 'metrics.json')
    run([
        'bash', 'tools/dist_test.sh', cfg,
        str(tmp_path / 'iter_2.pth'), '2', '--work-dir',
        str(tmp_path), '--metrics-out', metrics_out
    ])
    with open(metrics_out) as f:
        metrics = json.load(f)
    assert {
        'vid/mAP', 'vid/mAP_fast', 'vid/mAP_medium', 'vid/mAP_slow',
        'vid/bbox_mAP_50'
    } <= set(metrics)


def test_strong_feature_rfcn_trains_and_tests_with_two_processes(
        trained_memnet, synthvid_root, tmp_path):
    """The fast detector trains beside a frozen strong memory detector (the
    two-process MemNet of ``trained_memnet``), whose weights leave the
    training as they came from ``strong_ckpt``, and tests online."""
    strong_cfg, strong_ckpt, _ = trained_memnet
    cfg = small_config(
        STRONG_FEATURE_CFG, synthvid_root, str(tmp_path / 'sf.py'), **{
            'model.strong_config': strong_cfg,
            'model.strong_ckpt': strong_ckpt,
            'train_cfg.max_iters': 2,
            'default_hooks.checkpoint.interval': 2
        })
    run(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(tmp_path)])
    trained = torch.load(
        str(tmp_path / 'iter_2.pth'), map_location='cpu',
        weights_only=False)['state_dict']
    strong = torch.load(
        strong_ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert {k[len('strong.'):]
            for k in trained if k.startswith('strong.')} == set(strong)
    for key, value in strong.items():
        assert torch.equal(trained[f'strong.{key}'], value), key
    metrics_out = str(tmp_path / 'metrics.json')
    run([
        'bash', 'tools/dist_test.sh', cfg,
        str(tmp_path / 'iter_2.pth'), '2', '--work-dir',
        str(tmp_path), '--metrics-out', metrics_out
    ])
    with open(metrics_out) as f:
        assert 'vid/mAP' in json.load(f)


def test_training_refuses_a_strong_ckpt_of_other_classes(
        trained_memnet, synthvid_root, tmp_path):
    """tools/train.py refuses, before the first iteration, a strong_ckpt
    trained on the data set's classes in another order (box propagation
    would read its labels as others), also for a config without
    CheckpointClassesHook (the tool adds it)."""
    strong_cfg, strong_ckpt, _ = trained_memnet
    checkpoint = torch.load(
        strong_ckpt, map_location='cpu', weights_only=False)
    classes = checkpoint['meta']['dataset_meta']['classes']
    checkpoint['meta']['dataset_meta']['classes'] = list(classes)[::-1]
    reordered = str(tmp_path / 'reordered.pth')
    torch.save(checkpoint, reordered)
    cfg = small_config(
        STRONG_FEATURE_CFG, synthvid_root, str(tmp_path / 'sf.py'), **{
            'model.strong_config': strong_cfg,
            'model.strong_ckpt': reordered
        })
    without_hook = Config.fromfile(cfg)
    without_hook.default_hooks.pop('checkpoint_classes')
    without_hook.dump(cfg)
    assert 'CheckpointClassesHook' not in Config.fromfile(cfg).pretty_text
    stderr = run_refused(['tools/train.py', cfg, '--work-dir', str(tmp_path)])
    assert (f'CheckpointClassesError: strong_ckpt {reordered} was trained '
            f'on classes {tuple(classes[::-1])!r} (label order), but '
            f'train_dataloader.dataset lists {tuple(classes)!r}: the same '
            'classes in another order') in stderr
    assert 'Iter(train)' not in stderr


def test_validation_in_two_process_training_scores_the_saved_checkpoint(
        synthvid_root, tmp_path):
    """The tiny R-FCN trains its BN: without syncing the buffers, rank 1
    validated its videos with its own running statistics, which the
    checkpoint (rank 0's) does not hold."""
    train_dump = str(tmp_path / 'val_in_training.pkl')
    cfg = small_config(
        RFCN_CFG, synthvid_root, str(tmp_path / 'rfcn.py'), **{
            'train_cfg.max_iters':
            2,
            'train_cfg.val_interval':
            2,
            'default_hooks.checkpoint.interval':
            2,
            'val_evaluator': [
                dict(type='ImagenetVIDMetric', degradation_key='degradation'),
                dict(type='DumpVIDResults', out_file_path=train_dump)
            ]
        })
    assert Config.fromfile(cfg).default_hooks.sync_buffers.type == \
        'SyncBuffersEveryIterHook'
    run(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(tmp_path)])
    test_dump = str(tmp_path / 'test.pkl')
    run([
        sys.executable, 'tools/test.py', cfg,
        str(tmp_path / 'iter_2.pth'), '--work-dir',
        str(tmp_path), '--out', test_dump
    ])
    with open(train_dump, 'rb') as f:
        in_training = {d['img_id']: d for d in pickle.load(f)}
    with open(test_dump, 'rb') as f:
        tested = {d['img_id']: d for d in pickle.load(f)}
    assert set(in_training) == set(tested)
    assert sum(len(d['scores']) for d in tested.values()) > 0
    for img_id, det in tested.items():
        assert torch.equal(
            torch.as_tensor(in_training[img_id]['bboxes']),
            torch.as_tensor(det['bboxes'])), img_id
        assert torch.equal(
            torch.as_tensor(in_training[img_id]['scores']),
            torch.as_tensor(det['scores'])), img_id


def test_clocknet_with_learned_psi_trains_with_two_processes(
        synthvid_root, tmp_path):
    """Iterations in which no memory takes evidence leave psi unused.

    With evidence dropout 0.99 nearly every clip drops the evidence of all
    its frames after the first, so the learned psi (Eq. 4) gets no gradient;
    DDP then fails unless the config sets ``find_unused_parameters``.
    """
    cfg = small_config(
        'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
        synthvid_root, str(tmp_path / 'clocknet.py'), **{
            'model.motion.init_cfg': None,
            'model.train_cfg.evidence_drop_prob': 0.99,
            'train_cfg.max_iters': 3,
            'default_hooks.checkpoint.interval': 3
        })
    proc = run(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir',
         str(tmp_path)])
    assert 'Iter(train) [3/3]' in proc.stdout + proc.stderr


def test_test_show_dir_draws_frames_per_video(trained_memnet, synthvid_root,
                                              tmp_path):
    """``--show-dir`` draws every ``--frame-interval``-th frame per video."""
    cfg, checkpoint, _ = trained_memnet
    run([
        sys.executable, 'tools/test.py', cfg, checkpoint, '--work-dir',
        str(tmp_path), '--show-dir', 'vis', '--frame-interval', '3'
    ])
    [vis_dir] = glob.glob(str(tmp_path / '*' / 'vis'))
    with open(osp.join(synthvid_root, 'annotations',
                       VID_ANN_FILES['val'])) as f:
        images = json.load(f)['images']
    expected = sorted(
        osp.join(*image['file_name'].split('/')[-2:]) for image in images
        if image['frame_id'] % 3 == 0)
    drawn = sorted(
        osp.relpath(path, vis_dir)
        for path in glob.glob(osp.join(vis_dir, '*', '*')))
    assert drawn == expected
    assert len({osp.dirname(path) for path in drawn}) == 3


def test_resume_with_nothing_to_resume_starts_from_load_from(
        trained_memnet, tmp_path):
    """A job always launched with ``--resume``, on its first start: the
    memory model starts from ``load_from`` (mmengine's auto-resume would
    train from random weights), and the run's log says so."""
    cfg, checkpoint, _ = trained_memnet
    work_dir = str(tmp_path / 'fresh')
    run([
        sys.executable, 'tools/train.py', cfg, '--work-dir', work_dir,
        '--resume', '--cfg-options', f'load_from={checkpoint}',
        'train_cfg.max_iters=1'
    ])
    [log_file] = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(log_file) as f:
        log = f.read()
    assert f'no checkpoint in {work_dir} to resume from yet' in log
    assert f'Load checkpoint from {checkpoint}' in log


def test_train_refuses_a_load_from_of_other_classes(trained_memnet, tmp_path):
    """Before mmengine's lenient load: a start whose classes are in another
    order would train every class under another's label."""
    cfg, checkpoint, _ = trained_memnet
    saved = torch.load(checkpoint, map_location='cpu', weights_only=False)
    saved['meta']['dataset_meta']['classes'] = ('box', 'disc', 'triangle',
                                                'cross')
    reordered = str(tmp_path / 'reordered.pth')
    torch.save(saved, reordered)
    stderr = refused_training(
        lambda args: run_refused(['tools/train.py'] + args), cfg, reordered,
        str(tmp_path / 'work'))
    assert (f"load_from {reordered} was trained on classes ('box', 'disc', "
            "'triangle', 'cross') (label order), but train_dataloader."
            'dataset lists' in stderr)
    assert 'random initialisation' not in stderr
    assert 'the same classes in another order' in stderr
    # on purpose: load_from_partial trains from it (CheckpointClassesHook
    # lets such a start through, as tools/train.py does)
    proc = run([
        sys.executable, 'tools/train.py', cfg, '--work-dir',
        str(tmp_path / 'partial'), '--cfg-options', f'load_from={reordered}',
        'train_cfg.max_iters=1', 'load_from_partial=True'
    ])
    assert 'load_from_partial: ' in proc.stdout + proc.stderr
    assert 'Iter(train) [1/1]' in proc.stdout + proc.stderr
