# Copyright (c) memvid_mm contributors. All rights reserved.
import math

import pytest
import torch
from mmdet.registry import MODELS

from memvid_mm.models.aggregators import (MemNetAggregator,
                                          average_memory_update,
                                          memory_update_weights,
                                          weighted_memory_update)
from memvid_mm.models.aggregators.memnet import weight_logit_cnn


def _perturb_last_convs(memnet):
    """Give the zero-initialised last 1x1 convs non-zero weights."""
    with torch.no_grad():
        for cnn in (memnet.memory_weight_cnn, memnet.feature_weight_cnn):
            cnn[2].weight.normal_(std=0.5)
            cnn[2].bias.normal_()


def test_average_memory_update_is_half_sum():
    memory = torch.tensor([[[[1., 2.], [3., 4.]]]])
    feature = torch.tensor([[[[3., 0.], [-3., 8.]]]])
    expected = torch.tensor([[[[2., 1.], [0., 6.]]]])
    assert torch.equal(average_memory_update(memory, feature), expected)


def test_update_weights_sum_to_one_per_pixel():
    logit_m = torch.randn(2, 1, 3, 4) * 5
    logit_f = torch.randn(2, 1, 3, 4) * 5
    alpha_m, alpha_f = memory_update_weights(logit_m, logit_f)
    assert alpha_m.shape == alpha_f.shape == (2, 1, 3, 4)
    assert torch.allclose(alpha_m + alpha_f, torch.ones(2, 1, 3, 4))
    assert (alpha_m > 0).all() and (alpha_f > 0).all()
    # a hand-worked value: logits (log 3, 0) -> weights (3/4, 1/4)
    alpha_m, alpha_f = memory_update_weights(
        torch.full((1, 1, 1, 1), math.log(3)), torch.zeros(1, 1, 1, 1))
    assert torch.allclose(alpha_m, torch.tensor(0.75))
    assert torch.allclose(alpha_f, torch.tensor(0.25))
    with pytest.raises(ValueError, match='logit_memory'):
        memory_update_weights(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3))


def test_weighted_memory_update_is_convex_combination():
    memory = torch.randn(2, 3, 4, 5)
    feature = torch.randn(2, 3, 4, 5)
    logit_m = torch.randn(2, 1, 4, 5)
    logit_f = torch.randn(2, 1, 4, 5)
    out = weighted_memory_update(memory, feature, logit_m, logit_f)
    a_m = torch.exp(logit_m) / (torch.exp(logit_m) + torch.exp(logit_f))
    assert torch.allclose(out, a_m * memory + (1 - a_m) * feature, atol=1e-6)
    # equal logits give Eq. 3; a dominant logit selects that input
    same = torch.zeros(2, 1, 4, 5)
    assert torch.allclose(
        weighted_memory_update(memory, feature, same, same),
        average_memory_update(memory, feature))
    assert torch.allclose(
        weighted_memory_update(memory, feature, same + 50, same - 50), memory)


def test_average_mode_has_no_parameters():
    memnet = MODELS.build(
        dict(type='MemNetAggregator', in_channels=4, mode='average'))
    assert isinstance(memnet, MemNetAggregator)
    assert len(list(memnet.parameters())) == 0
    memory, feature = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    assert torch.equal(memnet(memory, feature), (memory + feature) / 2)


def test_weighting_mode_starts_as_average_and_learns():
    memnet = MemNetAggregator(4, mode='weighting', hidden_channels=6)
    assert memnet.memory_weight_cnn[0].out_channels == 6
    assert memnet.feature_weight_cnn[2].out_channels == 1
    memory = torch.randn(2, 4, 5, 5, requires_grad=True)
    feature = torch.randn(2, 4, 5, 5, requires_grad=True)
    assert torch.allclose(
        memnet(memory, feature), (memory + feature) / 2, atol=1e-6)
    _perturb_last_convs(memnet)
    out = memnet(memory, feature)
    logit_m = memnet.memory_weight_cnn(memory)
    logit_f = memnet.feature_weight_cnn(feature)
    alpha_m, alpha_f = memory_update_weights(logit_m, logit_f)
    assert not torch.allclose(alpha_m, torch.full_like(alpha_m, 0.5))
    assert torch.allclose(alpha_m + alpha_f, torch.ones_like(alpha_m))
    assert torch.allclose(out, alpha_m * memory + alpha_f * feature)
    out.pow(2).sum().backward()
    for name, param in memnet.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert memory.grad.abs().sum() > 0 and feature.grad.abs().sum() > 0


def test_weight_logit_cnn_is_conv_relu_conv():
    """The weight CNN is 3x3 conv -> ReLU -> 1x1 conv, not a linear map.

    With the 3x3 kernel an identity tap (centre 1) and the 1x1 conv a
    copy, the logit of a map is the map's positive part, zero padding
    included.
    """
    cnn = weight_logit_cnn(1, 1)
    # the last conv starts at zero: equal logits, a plain mean
    x = torch.tensor([[[[-2., 3.], [0.5, -1.]]]])
    assert torch.equal(cnn(x), torch.zeros(1, 1, 2, 2))
    with torch.no_grad():
        cnn[0].weight.zero_()
        cnn[0].weight[0, 0, 1, 1] = 1.
        cnn[0].bias.zero_()
        cnn[2].weight.fill_(1.)
    assert torch.equal(cnn(x), torch.tensor([[[[0., 3.], [0.5, 0.]]]]))


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match='mode'):
        MemNetAggregator(4, mode='lstm')
    with pytest.raises(ValueError, match='in_channels'):
        MemNetAggregator(0)
    memnet = MemNetAggregator(4)
    with pytest.raises(ValueError, match='warped_memory'):
        memnet(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match='warped_memory'):
        memnet(torch.zeros(1, 4, 2, 2), torch.zeros(1, 4, 2, 3))


def test_default_mode_is_the_parameter_free_average():
    memnet = MemNetAggregator(4)
    assert memnet.mode == 'average'
    assert len(list(memnet.parameters())) == 0
    assert not hasattr(memnet, 'memory_weight_cnn')
    memory, feature = torch.randn(1, 4, 2, 3), torch.randn(1, 4, 2, 3)
    assert torch.equal(memnet(memory, feature), (memory + feature) / 2)
