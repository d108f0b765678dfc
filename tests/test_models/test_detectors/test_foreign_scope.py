# Copyright (c) memvid_mm contributors. All rights reserved.
"""memvid_mm's models built under another project's default scope.

A project with its own scope names mmdet's (and memvid_mm's) types with the
``mmdet.`` prefix; what memvid_mm builds by itself must then not depend on
the default scope being ``'mmdet'``.
"""
import os.path as osp

from mmdet.registry import MODELS
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from memvid_mm.models.aggregators import ClockNetAggregator, MemNetAggregator
from memvid_mm.models.detectors.strong_feature_rfcn import build_fusion

REPO_ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
MEMNET_CONFIG = osp.join(REPO_ROOT, 'configs', 'memnet',
                         'memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')


def with_mmdet_prefix(cfg):
    """Every registry type named as ``mmdet.<type>`` (``nms`` is mmcv's op
    name, not a registry type)."""
    if isinstance(cfg, dict):
        cfg = {key: with_mmdet_prefix(value) for key, value in cfg.items()}
        kind = cfg.get('type')
        if isinstance(kind, str) and '.' not in kind and kind != 'nms':
            cfg['type'] = f'mmdet.{kind}'
        return cfg
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(with_mmdet_prefix(value) for value in cfg)
    return cfg


def test_memnet_builds_under_another_default_scope():
    """R-FCN's box head (mmdet's default 'Linear' is mmdet's) and the
    ClockNet that wraps a MemNet are found without the mmdet scope."""
    model_cfg = with_mmdet_prefix(
        Config.fromfile(MEMNET_CONFIG).model.to_dict())
    for stage in ('rpn', 'rcnn'):
        # mmdet's own default, named as such a project names it
        model_cfg['detector']['train_cfg'][stage]['assigner'][
            'iou_calculator'] = dict(type='mmdet.BboxOverlaps2D')
    with DefaultScope.overwrite_default_scope('mmengine'):
        model = MODELS.build(ConfigDict(model_cfg))
    assert type(model).__name__ == 'MemoryRFCN'
    assert isinstance(model.aggregator, ClockNetAggregator)
    assert model.aggregator.strides == (1, )


def test_default_aggregators_build_under_another_default_scope():
    with DefaultScope.overwrite_default_scope('mmengine'):
        clocknet = ClockNetAggregator(strides=(1, 4))
        fusion = build_fusion(None, 8)
    assert isinstance(clocknet.memnets[0], MemNetAggregator)
    assert isinstance(fusion, MemNetAggregator)
    assert fusion.mode == 'average'
