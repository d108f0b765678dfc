# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from memvid_mm.models.necks import FeatureEmbedding


def test_embeds_by_a_dilated_conv_and_relu_keeping_the_map_size():
    neck = MODELS.build(
        dict(type='FeatureEmbedding', in_channels=8, out_channels=6))
    assert isinstance(neck, FeatureEmbedding)
    assert neck.conv.dilation == (6, 6) and neck.conv.padding == (6, 6)
    feature = torch.randn(2, 8, 5, 7)
    (out, ) = neck((feature, ))
    expected = F.relu(
        F.conv2d(
            feature, neck.conv.weight, neck.conv.bias, padding=6, dilation=6))
    assert out.shape == (2, 6, 5, 7)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_a_cell_sees_the_cells_dilation_apart():
    neck = FeatureEmbedding(1, 1, dilation=2)
    with torch.no_grad():
        neck.conv.weight.fill_(1.0)
        neck.conv.bias.zero_()
    impulse = torch.zeros(1, 1, 9, 9)
    impulse[0, 0, 4, 4] = 1.0
    (out, ) = neck((impulse, ))
    rows, cols = torch.nonzero(out[0, 0], as_tuple=True)
    assert sorted(set(rows.tolist())) == [2, 4, 6]
    assert sorted(set(cols.tolist())) == [2, 4, 6]
    assert out.sum().item() == 9.0


def test_default_init_is_fgfas_normal_with_zero_bias():
    torch.manual_seed(0)
    neck = FeatureEmbedding(64, 128)
    neck.init_weights()
    assert neck.conv.bias.abs().max().item() == 0.0
    assert abs(neck.conv.weight.std().item() - 0.01) < 0.001


@pytest.mark.parametrize('inputs,message', [
    ((torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 2, 2)),
     'embeds one backbone map, got 2: set the backbone out_indices'),
    ((torch.zeros(1, 4, 4, 4), ),
     r'expects a map \(N, 8, h, w\) \(in_channels\), got \(1, 4, 4, 4\)'),
])
def test_other_inputs_are_refused(inputs, message):
    neck = FeatureEmbedding(8, 6)
    with pytest.raises(ValueError, match=message):
        neck(inputs)


@pytest.mark.parametrize('kwargs,message', [
    (dict(in_channels=[8]), 'in_channels must be a positive int'),
    (dict(out_channels=0), 'out_channels must be a positive int'),
    (dict(dilation=True), 'dilation must be a positive int'),
    (dict(kernel_size=2), 'kernel_size must be a positive odd int'),
])
def test_bad_arguments_are_refused(kwargs, message):
    args = dict(in_channels=8, out_channels=6)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        FeatureEmbedding(**args)
