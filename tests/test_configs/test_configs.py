# Copyright (c) memvid_mm contributors. All rights reserved.
"""Every config under configs/ loads and its model builds."""
import ast
import glob
import os.path as osp
import shutil

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.utils.data import DataLoader

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def test_configs_found():
    assert len(CONFIGS) >= 12
    assert osp.join(REPO_ROOT, 'configs', 'clocknet_r101_vid.py') in CONFIGS


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO_ROOT) for p in CONFIGS])
def test_config_loads_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports == dict(
        imports=['memvid_mm'], allow_failed_imports=False)
    # a loaded checkpoint must fit, with the data sets' classes, also
    # under MMDetection's own tools
    assert cfg.default_hooks.checkpoint_fit.type == 'CheckpointFitHook'
    assert cfg.default_hooks.checkpoint_classes.type == \
        'CheckpointClassesHook'
    assert cfg.default_hooks.num_classes.type == 'NumClassesHook'
    assert cfg.default_hooks.non_empty_dataset.type == 'NonEmptyDatasetHook'
    model = MODELS.build(cfg.model)  # building loads no weights
    assert model.data_preprocessor is not None
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[split].dataset.type in ('ImagenetVIDDataset',
                                           'ConcatDataset')
    # a learned psi is unused in iterations whose clip frames all dropped
    # their evidence: multi-process training must allow unused parameters
    psi = getattr(getattr(model, 'aggregator', None), 'memnets', None)
    if psi is not None and any(True for _ in psi.parameters()):
        assert cfg.get('find_unused_parameters') is True


def _local_bases(path):
    """The config files that ``path`` names in ``_base_``, as absolute
    paths; ``mmdet::`` bases are left out (they are MMDetection's)."""
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(target, 'id', None) == '_base_'
                for target in node.targets):
            bases = ast.literal_eval(node.value)
            bases = [bases] if isinstance(bases, str) else bases
            return [
                osp.normpath(osp.join(osp.dirname(path), base))
                for base in bases if not base.startswith('mmdet::')
            ]
    return []


def _inheritance_levels(path):
    """The longest chain of ``_base_`` links from ``path`` down to a config
    that inherits nothing local: 0 for such a config itself."""
    return max((1 + _inheritance_levels(base) for base in _local_bases(path)),
               default=0)


def test_inheritance_levels_helper_counts_the_longest_chain():
    clocknet = osp.join(REPO_ROOT, 'configs', 'clocknet_r101_vid.py')
    # clocknet_r101_vid -> clocknet 7e -> memnet-3 -> _base_ files
    assert _inheritance_levels(clocknet) == 3
    base = osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py')
    assert _inheritance_levels(base) == 0


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO_ROOT) for p in CONFIGS])
def test_config_inherits_at_most_three_levels(path):
    # MMDetection's rule (docs/en/user_guides/config.md): one primitive
    # config per folder, and at most 3 levels of inheritance
    assert _inheritance_levels(path) <= 3


def test_clocknet_r101_vid_is_the_paper_model():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'clocknet_r101_vid.py'))
    assert cfg.model.type == 'MemoryRFCN'
    assert cfg.model.detector.backbone.depth == 101
    assert cfg.model.detector.backbone.dilations == (1, 1, 1, 2)
    # FGFA's R-FCN: a dilated 3x3 embedding to 1024-d whose first 512
    # channels a 1x1 RPN reads and the other 512 the R-FCN head
    detector = cfg.model.detector
    assert detector.neck == dict(
        type='FeatureEmbedding',
        in_channels=2048,
        out_channels=1024,
        dilation=6)
    assert detector.rpn_channels == 512
    assert detector.rpn_head.type == 'Conv1x1RPNHead'
    assert detector.rpn_head.in_channels == 512
    assert 'feat_channels' not in detector.rpn_head
    assert detector.roi_head.bbox_head.in_channels == 512
    assert tuple(cfg.model.aggregator.strides) == (1, 4, 8)
    assert cfg.model.train_cfg.evidence_drop_prob == 0.8
    datasets = cfg.train_dataloader.dataset.datasets
    assert [d.ann_file for d in datasets] == [
        'annotations/imagenet_vid_train.json',
        'annotations/imagenet_det_30plus1cls.json'
    ]


def _memnet_config(name):
    return Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'memnet',
                 f'{name}_rfcn_r101-dc5_8xb1-7e_imagenetvid.py'))


def test_strong_feature_r101_is_the_papers_two_detector_system():
    """R-FCN-18 beside the Table 1 ClockNet-101 with evidence every 4
    frames (Sec. 5.3), their 1024-d embeddings averaged."""
    cfg = Config.fromfile(
        osp.join(
            REPO_ROOT, 'configs', 'strong_feature',
            'strong-feature_rfcn_r18-dc5_clocknet-r101-featprop_'
            '4xb1-7e_imagenetvid.py'))
    assert cfg.model.type == 'StrongFeatureRFCN'
    assert cfg.model.detector.backbone.depth == 18
    assert cfg.model.detector.neck.out_channels == 1024
    assert cfg.model.strong_test_cfg == dict(evidence_interval=4)
    assert cfg.model.delay == 3
    # the Table 1 ClockNet, as `dist_train.sh configs/clocknet_r101_vid.py`
    # writes it
    assert cfg.model.strong_config == 'configs/clocknet_r101_vid.py'
    assert cfg.model.strong_ckpt == 'work_dirs/clocknet_r101_vid/epoch_7.pth'


@pytest.mark.parametrize('stride', [4, 8])
def test_memnet_strd_trains_on_strided_clips_and_tests_as_memnet(stride):
    # "MemNet trained with longer strides": MemNet-6's model (every frame
    # takes evidence at test time) on 6-frame clips of stride 4 / 8.
    cfg = _memnet_config(f'memnet-6-strd{stride}')
    assert cfg.model == _memnet_config('memnet-6').model
    for dataset in cfg.train_dataloader.dataset.datasets:
        sample = dataset.pipeline[0]
        assert (sample.type, sample.num_frames,
                sample.stride) == ('CausalClipSample', 6, stride)
    # no leftover top-level clip variables that look like settings
    assert 'clip_num_frames' not in cfg and 'clip_stride' not in cfg


def test_memnet_strd_checkpoint_fits_the_propagating_variant():
    # The variant its header describes (evidence every 4th frame, the
    # memory warped in between) has the same parameters, so it tests the
    # same checkpoint.
    cfg = _memnet_config('memnet-6-strd4')
    variant = _memnet_config('memnet-6-strd4')
    variant.merge_from_dict(
        dict(
            model=dict(
                aggregator=dict(
                    _delete_=True,
                    type='ClockNetAggregator',
                    strides=(4, ),
                    memnet=dict(
                        type='MemNetAggregator',
                        in_channels=1024,
                        mode='average')))))
    model, propagating = MODELS.build(cfg.model), MODELS.build(variant.model)
    assert (model.strides, propagating.strides) == ((1, ), (4, ))
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes == {k: v.shape for k, v in propagating.state_dict().items()}


def test_clocknet_10_is_clocknet_on_10_frame_clips_with_checkpointing():
    clocknet = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'clocknet_r101_vid.py'))
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'clocknet',
                 'clocknet-10_rfcn_r101-dc5_4xb1-7e_imagenetvid.py'))
    assert cfg.model.detector.backbone.pop('with_cp') is True
    assert not clocknet.model.detector.backbone.get('with_cp', False)
    assert cfg.model == clocknet.model
    for dataset, base in zip(cfg.train_dataloader.dataset.datasets,
                             clocknet.train_dataloader.dataset.datasets):
        assert dataset.pipeline[0] == dict(
            type='CausalClipSample', num_frames=10, stride=1)
        assert base.pipeline[0].num_frames == 6
        assert dataset.pipeline[1:] == base.pipeline[1:]
        dataset.pipeline = base.pipeline
        assert dataset == base
    for key in ('optim_wrapper', 'auto_scale_lr', 'train_cfg',
                'param_scheduler', 'val_dataloader', 'test_dataloader'):
        assert cfg[key] == clocknet[key]


IMAGENET_VID_CONFIGS = [p for p in CONFIGS if 'imagenetvid' in p] + [
    osp.join(REPO_ROOT, 'configs', 'clocknet_r101_vid.py')
]


def _datasets(cfg):
    """Every ImageNet VID data set of a config's three data loaders."""
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[split].dataset
        yield from dataset.get('datasets', [dataset])


def _vid_frame_loaders(dataset):
    for transform in dataset.pipeline:
        for inner in transform.get('transforms', [transform]):
            if inner.type == 'LoadVIDFrame':
                yield inner


def _assert_data_settings(path, data_root, backend_args):
    cfg = Config.fromfile(path)
    datasets = list(_datasets(cfg))
    assert len(datasets) == 4  # VID train, DET train, VID val, VID test
    for dataset in datasets:
        assert dataset.type == 'ImagenetVIDDataset'
        assert dataset.data_root == data_root
        assert dataset.backend_args == backend_args
        loaders = list(_vid_frame_loaders(dataset))
        assert len(loaders) == 1
        assert loaders[0].get('backend_args') == backend_args


@pytest.mark.parametrize(
    'path',
    IMAGENET_VID_CONFIGS,
    ids=[osp.relpath(p, REPO_ROOT) for p in IMAGENET_VID_CONFIGS])
def test_imagenet_vid_data_settings_come_from_the_data_set_base(
        path, tmp_path):
    # The memory configs restate the VID + DET list to change the clip
    # sampler (mmengine replaces a list as a whole); the data root and
    # backend set in _base_/datasets/imagenet-vid.py must still reach
    # every data set and frame loader, also after a user edits them there.
    _assert_data_settings(path, 'data/ILSVRC/', None)
    configs = tmp_path / 'configs'
    shutil.copytree(osp.join(REPO_ROOT, 'configs'), configs)
    base = configs / '_base_' / 'datasets' / 'imagenet-vid.py'
    text = base.read_text()
    assert text.count("data_root = 'data/ILSVRC/'\n") == 1
    assert text.count('backend_args = None\n') == 1
    base.write_text(
        text.replace("data_root = 'data/ILSVRC/'\n",
                     "data_root = '/mnt/ILSVRC2015/'\n").replace(
                         'backend_args = None\n',
                         "backend_args = dict(backend='local')\n"))
    _assert_data_settings(
        str(configs / osp.relpath(path, osp.join(REPO_ROOT, 'configs'))),
        '/mnt/ILSVRC2015/', dict(backend='local'))


@pytest.mark.parametrize(
    'path', [
        p for p in IMAGENET_VID_CONFIGS
        if 'memnet' in p or 'clocknet' in p or 'causal_fgfa' in p
    ],
    ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_memory_configs_restate_the_per_frame_training_data(path):
    # Only the clip sampler and the clip metadata packed with the inputs
    # differ from the per-frame R-FCN's VID + DET training data.
    rfcn = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'rfcn',
                 'rfcn_r101-dc5_8xb1-7e_imagenetvid.py'))
    cfg = Config.fromfile(path)
    memory = cfg.train_dataloader.dataset.datasets
    per_frame = rfcn.train_dataloader.dataset.datasets
    assert len(memory) == len(per_frame) == 2
    for dataset, base in zip(memory, per_frame):
        assert dataset.pipeline[0].type == 'CausalClipSample'
        assert dataset.pipeline[0].num_frames > 1
        assert dataset.pipeline[-1] == dict(
            type='PackTrackInputs',
            meta_keys=('clip_frame_offsets', 'clip_stride'))
        assert base.pipeline[-1] == dict(type='PackTrackInputs')
        assert dataset.pipeline[1:-1] == base.pipeline[1:-1]
        dataset.pipeline = base.pipeline
        assert dataset == base
    assert cfg.val_dataloader == rfcn.val_dataloader


class _LearningRates(Hook):
    """Records the learning rate each training iteration runs at."""

    def __init__(self):
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs.append(runner.optim_wrapper.get_lr()['lr'][0])


class _Scalar(BaseModel):

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=(self.weight * inputs).sum())


@pytest.mark.parametrize('iters_per_epoch', [6, 7, 10])
def test_paper_schedule_steps_the_lr_down_after_eight_thirds_of_an_epoch(
        iters_per_epoch, tmp_path):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'clocknet',
                 'clocknet_rfcn_r101-dc5_4xb1-4e_imagenetvid.py'))
    clocknet = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'clocknet_r101_vid.py'))
    for key in ('model', 'train_dataloader', 'val_dataloader',
                'auto_scale_lr'):
        assert cfg[key] == clocknet[key]
    # the paper's training, run by the stock mmengine runner on a toy model
    # with iters_per_epoch batches per epoch
    lrs = _LearningRates()
    # the runner's default scope ('mmengine') must not outlive the test:
    # later tests build mmdet's registered modules in mmdet's scope
    with DefaultScope.overwrite_default_scope('mmengine'):
        runner = Runner(
            model=_Scalar(),
            work_dir=str(tmp_path),
            train_dataloader=DataLoader(
                [torch.ones(1)] * iters_per_epoch,
                batch_size=1,
                collate_fn=list),
            train_cfg=dict(
                type=cfg.train_cfg.type, max_epochs=cfg.train_cfg.max_epochs),
            optim_wrapper=cfg.optim_wrapper,
            param_scheduler=cfg.param_scheduler,
            default_hooks=dict(logger=None, checkpoint=None),
            custom_hooks=[lrs],
            default_scope='mmengine',
            experiment_name=(
                f'paper_schedule_{iters_per_epoch}_{tmp_path.name}'))
        runner.train()
    # the paper's 4/3 of an epoch that holds each image and its flipped copy
    step = int(8 / 3 * iters_per_epoch)  # 16, 18, 26
    assert len(lrs.lrs) == 4 * iters_per_epoch
    assert lrs.lrs[:step] == pytest.approx([0.001] * step)
    assert lrs.lrs[step:] == pytest.approx([0.0001] *
                                           (4 * iters_per_epoch - step))
