# Copyright (c) memvid_mm contributors. All rights reserved.
import os.path as osp

import pytest
from mmengine.config import Config

from memvid_mm.apis import build_config_motion
from memvid_mm.models.motion import FlowNetSimple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLOCKNET_CFG = osp.join(
    REPO_ROOT,
    'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')


def test_builds_the_motion_network_without_init_cfg_or_changing_cfg():
    cfg = Config.fromfile(CLOCKNET_CFG)
    before = cfg.model.motion.to_dict()
    motion = build_config_motion(cfg, 'score', zero_init_flow=True)
    assert isinstance(motion, FlowNetSimple)
    assert motion.init_cfg is None and motion.zero_init_flow
    assert cfg.model.motion.to_dict() == before


def test_config_without_motion_raises_key_error_naming_the_purpose():
    cfg = Config(dict(model=dict(type='RFCN')))
    with pytest.raises(KeyError, match='no model.motion to pre-train'):
        build_config_motion(cfg, 'pre-train')
