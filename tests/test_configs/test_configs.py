# Copyright (c) memvid_mm contributors. All rights reserved.
"""Every config under configs/ loads and its model builds."""
import glob
import os.path as osp

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config

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


def test_clocknet_r101_vid_is_the_paper_model():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs',
                                   'clocknet_r101_vid.py'))
    assert cfg.model.type == 'MemoryRFCN'
    assert cfg.model.detector.backbone.depth == 101
    assert cfg.model.detector.backbone.dilations == (1, 1, 1, 2)
    assert tuple(cfg.model.aggregator.strides) == (1, 4, 8)
    assert cfg.model.train_cfg.evidence_drop_prob == 0.8
    datasets = cfg.train_dataloader.dataset.datasets
    assert [d.ann_file for d in datasets] == [
        'annotations/imagenet_vid_train.json',
        'annotations/imagenet_det_30plus1cls.json'
    ]
