# Copyright (c) memvid_mm contributors. All rights reserved.
"""RFCN's split of the embedding between the RPN and the R-FCN head."""
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config

from memvid_mm.models.detectors import RFCN
from .fgfa_wiring import fgfa_wired

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
TINY = osp.join(REPO_ROOT, 'configs', 'rfcn',
                'rfcn_r18-tiny-d8_1xb4-6e_synthvid.py')


def split_cfg(rpn_channels=32, rcnn_channels=32):
    return fgfa_wired(
        Config.fromfile(TINY).model.detector, rpn_channels, rcnn_channels)


def batch(num_images=2):
    data = demo_mm_inputs(
        batch_size=num_images,
        image_shapes=[(3, 96, 160)] * num_images,
        num_items=[2] * num_images,
        num_classes=4)
    for sample in data['data_samples']:
        sample.set_metainfo(
            dict(batch_input_shape=(96, 160), pad_shape=(96, 160)))
    return torch.randn(num_images, 3, 96, 160), data['data_samples']


def record_head_inputs(model):
    """The inputs of the RPN's score conv and the R-FCN score-map conv."""
    seen = {}

    def keep(name):

        def hook(module, args):
            seen[name] = args[0].detach().clone()

        return hook

    model.rpn_head.rpn_cls.register_forward_pre_hook(keep('rpn'))
    model.roi_head.bbox_head.conv_cls.register_forward_pre_hook(keep('rcnn'))
    return seen


@pytest.mark.parametrize('mode', ['loss', 'predict', 'tensor'])
def test_the_heads_read_their_own_channels(mode):
    torch.manual_seed(0)
    model = MODELS.build(split_cfg())
    model.init_weights()
    assert isinstance(model, RFCN)
    assert model.feature_channels == 64
    seen = record_head_inputs(model)
    images, samples = batch()
    model.train(mode == 'loss')
    with torch.set_grad_enabled(mode == 'loss'):
        model(images, samples, mode=mode)
        (feature, ) = model.extract_feat(images)
    assert feature.shape[1] == 64
    torch.testing.assert_close(seen['rpn'], feature[:, :32].detach())
    torch.testing.assert_close(seen['rcnn'], feature[:, 32:].detach())


def test_uneven_split_and_whole_map_without_it():
    model = MODELS.build(split_cfg(rpn_channels=16, rcnn_channels=48))
    x = (torch.randn(1, 64, 12, 20), )
    assert model.feature_channels == 64
    (rpn_x, ), (rcnn_x, ) = model.head_features(x)
    assert torch.equal(rpn_x, x[0][:, :16])
    assert torch.equal(rcnn_x, x[0][:, 16:])
    whole = MODELS.build(Config.fromfile(TINY).model.detector)
    assert whole.rpn_channels is None and whole.feature_channels == 64
    (rpn_x, ), (rcnn_x, ) = whole.head_features(x)
    assert rpn_x is x[0] and rcnn_x is x[0]


def test_features_the_split_does_not_fit_are_refused():
    model = MODELS.build(split_cfg())
    x = (torch.randn(1, 48, 12, 20), )
    message = (r'RFCN splits 64-channel features \(rpn_channels=32 \+ '
               r'roi_head.bbox_head.in_channels=32\), got a map '
               r'\(1, 48, 12, 20\): set the embedding \(neck\) out_channels '
               r'to 64')
    with pytest.raises(ValueError, match=message):
        model.head_features(x)
    _, samples = batch(1)
    with pytest.raises(ValueError, match=message):
        model._head_predict(x, samples)


@pytest.mark.parametrize('change,message', [
    (dict(rpn_channels=16), r'rpn_channels=16 but rpn_head.in_channels=32'),
    (dict(rpn_channels=True), 'rpn_channels must be a positive int or None'),
    (dict(rpn_channels=0), 'rpn_channels must be a positive int or None'),
    (dict(roi_head=None),
     'rpn_channels splits the features between rpn_head and roi_head'),
])
def test_a_split_the_heads_do_not_fit_is_refused(change, message):
    cfg = split_cfg()
    cfg.update(change)
    with pytest.raises(ValueError, match=message):
        MODELS.build(cfg)
