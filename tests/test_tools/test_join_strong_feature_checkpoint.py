# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/misc/join_strong_feature_checkpoint.py joins a per-frame fast
detector and a memory model into a StrongFeatureRFCN checkpoint."""
import subprocess
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

from . import REPO_ROOT, load_tool

TOOL = 'tools/misc/join_strong_feature_checkpoint.py'
TWO_DETECTOR_CFG = ('configs/strong_feature/strong-feature_rfcn_r18-w8-d8_'
                    'clocknet-featprop_1xb4-ft3e_synthvid.py')
FAST_CFG = 'configs/rfcn/rfcn_r18-w8-d8_1xb4-ft3e_synthvid.py'
CLASSES = ('disc', 'box', 'triangle', 'cross')


def saved(path, model, classes=CLASSES):
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=classes))), path)
    return str(path)


def test_the_joined_checkpoint_loads_strictly_into_the_two_detector_model(
        tmp_path):
    torch.manual_seed(0)
    cfg = Config.fromfile(TWO_DETECTOR_CFG)
    two_detector = MODELS.build(cfg.model)
    fast = MODELS.build(Config.fromfile(FAST_CFG).model)
    fast_file = saved(tmp_path / 'fast.pth', fast)
    strong_file = saved(tmp_path / 'strong.pth', two_detector.strong)
    out = tmp_path / 'out' / 'joined.pth'
    proc = subprocess.run(
        [sys.executable, TOOL, fast_file, strong_file,
         str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    joined = torch.load(out, map_location='cpu', weights_only=False)
    assert joined['meta']['dataset_meta']['classes'] == CLASSES
    two_detector.load_state_dict(joined['state_dict'], strict=True)
    for key, value in fast.state_dict().items():
        assert torch.equal(two_detector.state_dict()[key], value), key


def test_a_fast_checkpoint_of_another_model_or_other_classes_is_refused():
    tool = load_tool(TOOL)
    strong = dict(
        state_dict={'detector.w': torch.ones(1)},
        meta=dict(dataset_meta=dict(classes=CLASSES)))
    memory = dict(state_dict={
        'detector.w': torch.ones(1),
        'motion.w': torch.ones(1)
    })
    with pytest.raises(ValueError, match='fast.pth is not a per-frame'):
        tool.join_checkpoints(memory, strong, 'fast.pth', 'strong.pth')
    other = dict(
        state_dict={'detector.w': torch.ones(1)},
        meta=dict(dataset_meta=dict(classes=CLASSES[::-1])))
    with pytest.raises(ValueError, match='strong.pth on'):
        tool.join_checkpoints(other, strong, 'fast.pth', 'strong.pth')


def test_the_strong_classes_are_kept_when_only_it_records_them():
    tool = load_tool(TOOL)
    strong = dict(
        state_dict={'detector.w': torch.ones(1)},
        meta=dict(dataset_meta=dict(classes=CLASSES)))
    fast = dict(state_dict={'detector.w': torch.zeros(1)})
    joined = tool.join_checkpoints(fast, strong, 'fast.pth', 'strong.pth')
    assert joined['meta']['dataset_meta']['classes'] == CLASSES
    # the fast meta's other entries stay, but the per-frame model's config
    fast['meta'] = dict(seed=3, cfg="model = dict(type='RFCN')")
    joined = tool.join_checkpoints(fast, strong, 'fast.pth', 'strong.pth')
    assert joined['meta'] == dict(seed=3, dataset_meta=dict(classes=CLASSES))
    strong.pop('meta')
    assert 'meta' not in tool.join_checkpoints(
        dict(state_dict=fast['state_dict']), strong, 'fast.pth', 'strong.pth')
    # a meta of None is no record (it failed on None.items())
    joined = tool.join_checkpoints(
        dict(state_dict=fast['state_dict'], meta=None), strong, 'fast.pth',
        'strong.pth')
    assert 'meta' not in joined
