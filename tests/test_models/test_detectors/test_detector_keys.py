# Copyright (c) memvid_mm contributors. All rights reserved.
"""A video detector refuses a state dict that fits none of its image
detector, and its image detector a video detector's, whichever loader is
used."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from memvid_mm.utils import ForeignStateDictError, load_fitting_checkpoint

CONFIGS = {
    'memory': 'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
    'per_frame': 'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py',
}


def build(kind, **detector_overrides):
    cfg = copy.deepcopy(Config.fromfile(CONFIGS[kind]).model)
    cfg.detector.update(detector_overrides)
    if kind == 'memory':
        cfg.motion.init_cfg = None  # no FlowNet file in the tests
    return MODELS.build(cfg)


def bare_detector_state(model):
    """The image detector's weights as its own checkpoint names them."""
    return {
        key: value.clone()
        for key, value in model.detector.state_dict().items()
    }


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_bare_image_detector_keys_are_refused(kind, tmp_path):
    model = build(kind)
    state = bare_detector_state(build(kind))
    with pytest.raises(ValueError, match='detector.init_cfg'):
        model.load_state_dict(state, strict=False)
    path = str(tmp_path / 'rfcn.pth')
    torch.save(dict(state_dict=state), path)
    with pytest.raises(ValueError, match='without the "detector." prefix'):
        load_checkpoint(model, path, map_location='cpu', strict=False)


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_video_detector_checkpoint_into_the_image_detector_is_refused(
        kind, tmp_path):
    """What MMDetection's tools/test_tracking.py --detector does: the
    video detector's checkpoint loaded into ``model.detector``."""
    model = build(kind)
    path = str(tmp_path / 'video.pth')
    torch.save(dict(state_dict=build(kind).state_dict()), path)
    with pytest.raises(ValueError, match='is a video detector'):
        load_checkpoint(model.detector, path, map_location='cpu', strict=False)
    # its own (bare) keys load into it
    model.detector.load_state_dict(bare_detector_state(build(kind)))


def test_another_model_is_refused():
    model = build('memory')
    state = {
        'backbone.stem.weight': torch.zeros(3),
        'head.fc.bias': torch.zeros(2)
    }
    with pytest.raises(ValueError, match='another model'):
        model.load_state_dict(state, strict=False)


def test_partial_and_per_frame_state_dicts_load():
    model = build('memory')
    motion_only = {
        'motion.' + key: value
        for key, value in build('memory').motion.state_dict().items()
    }
    missing, unexpected = model.load_state_dict(motion_only, strict=False)
    assert not unexpected and missing
    per_frame = build('per_frame').state_dict()  # detector.* only
    missing, unexpected = model.load_state_dict(per_frame, strict=False)
    assert not unexpected
    assert all(
        key.startswith('motion.') or key.startswith('aggregator.')
        for key in missing)
    model.load_state_dict(build('memory').state_dict())  # its own: strict


def test_image_detector_checkpoint_loads_by_init_cfg(tmp_path):
    """The way the refusal's message points to."""
    state = bare_detector_state(build('per_frame'))
    path = str(tmp_path / 'rfcn.pth')
    torch.save(dict(state_dict=state), path)
    model = build('memory', init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    loaded = model.detector.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in state.items())


def test_strict_test_loading_names_the_checkpoint(tmp_path):
    path = str(tmp_path / 'rfcn.pth')
    torch.save(dict(state_dict=bare_detector_state(build('per_frame'))), path)
    with pytest.raises(ForeignStateDictError, match=f'checkpoint {path}:'):
        load_fitting_checkpoint(build('memory'), path)


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_init_cfg_checkpoint_must_fit_the_image_detector(kind, tmp_path):
    """mmengine's Pretrained init loads leniently: what does not fit would
    stay random."""
    state = bare_detector_state(build(kind))
    state.pop('backbone.conv1.weight')
    cases = {
        'missing.pth': (state, 'missing keys in source state_dict: '
                        'backbone.conv1.weight'),
        'flownet.pth': ({
            'motion.conv1.weight': torch.zeros(1)
        }, 'unexpected key .*: motion.conv1.weight'),
    }
    for name, (state_dict, message) in cases.items():
        path = str(tmp_path / name)
        torch.save(dict(state_dict=state_dict), path)
        model = build(kind, init_cfg=dict(type='Pretrained', checkpoint=path))
        with pytest.raises(
                ValueError,
                match=f'model.detector.init_cfg '
                f'checkpoint {path} does not fit the image '
                f'detector .*{message}'):
            model.init_weights()
    # with a prefix, as mmengine's PretrainedInit takes it
    whole = str(tmp_path / 'whole.pth')
    torch.save(dict(state_dict=build(kind).state_dict()), whole)
    model = build(
        kind,
        init_cfg=dict(type='Pretrained', checkpoint=whole, prefix='detector'))
    model.init_weights()


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_init_cfg_in_a_list_and_the_video_detector_s_own_are_checked(
        kind, tmp_path):
    """A Pretrained entry in a list of init_cfgs, and a Pretrained
    init_cfg of the video detector itself, passed unchecked: a checkpoint
    of other classes left the box head random, with a logged warning."""
    other_cfg = copy.deepcopy(Config.fromfile(CONFIGS[kind]).model)
    other_cfg.detector.roi_head.bbox_head.num_classes = 5
    if kind == 'memory':
        other_cfg.motion.init_cfg = None
    other = MODELS.build(other_cfg)
    bare = str(tmp_path / 'other_classes.pth')
    torch.save(dict(state_dict=bare_detector_state(other)), bare)
    model = build(kind, init_cfg=[dict(type='Pretrained', checkpoint=bare)])
    with pytest.raises(
            ValueError,
            match=f'model.detector.init_cfg checkpoint {bare} does not fit '
            'the image detector .*size mismatch'):
        model.init_weights()
    whole = str(tmp_path / 'other_classes_whole.pth')
    torch.save(dict(state_dict=other.state_dict()), whole)
    cfg = copy.deepcopy(Config.fromfile(CONFIGS[kind]).model)
    if kind == 'memory':
        cfg.motion.init_cfg = None
    cfg.init_cfg = dict(type='Pretrained', checkpoint=whole)
    model = MODELS.build(cfg)
    with pytest.raises(
            ValueError,
            match=f'model.init_cfg checkpoint {whole} does not fit the video '
            rf'detector \({type(model).__name__}\).*size mismatch.*use '
            'load_from'):
        model.init_weights()
    # a video detector checkpoint that fits loads by model.init_cfg
    fitting = str(tmp_path / 'fitting.pth')
    state = build(kind).state_dict()
    torch.save(dict(state_dict=state), fitting)
    cfg.init_cfg = dict(type='Pretrained', checkpoint=fitting)
    model = MODELS.build(cfg)
    model.init_weights()
    assert all(
        torch.equal(model.state_dict()[key], value)
        for key, value in state.items())
