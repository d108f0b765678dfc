# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
from mmdet.registry import MODELS

import memvid_mm.models.necks.flow_warp as flow_warp_neck_module
from memvid_mm.models.layers import flow_warp
from memvid_mm.models.necks import FlowWarp


@pytest.fixture
def neck():
    return MODELS.build(dict(type='FlowWarp'))


@pytest.fixture
def grid_calls(monkeypatch):
    """Count the base grids the neck builds."""
    calls = []
    real = flow_warp_neck_module.make_base_grid

    def counting(h, w, device=None, dtype=torch.float32):
        calls.append((h, w, dtype))
        return real(h, w, device=device, dtype=dtype)

    monkeypatch.setattr(flow_warp_neck_module, 'make_base_grid', counting)
    return calls


def test_builds_from_registry_without_state(neck):
    assert isinstance(neck, FlowWarp)
    assert neck.grid_cache == {}
    assert len(neck.state_dict()) == 0


def test_tensor_input_matches_flow_warp(neck):
    feat = torch.randn(2, 4, 6, 10)
    flow = torch.randn(2, 2, 24, 40) * 5
    out = neck(feat, flow)
    assert isinstance(out, torch.Tensor)
    assert torch.equal(out, flow_warp(feat, flow))


def test_zero_flow_is_identity(neck):
    feat = torch.randn(1, 3, 5, 7)
    assert torch.equal(neck(feat, torch.zeros(1, 2, 80, 112)), feat)


def test_list_and_tuple_keep_their_kind(neck):
    feats = [torch.randn(1, 4, 8, 12), torch.randn(1, 6, 4, 6)]
    flow = torch.randn(1, 2, 32, 48) * 3
    out = neck(feats, flow)
    assert isinstance(out, list) and len(out) == 2
    for o, f in zip(out, feats):
        assert torch.equal(o, flow_warp(f, flow))
    out = neck(tuple(feats), flow)
    assert isinstance(out, tuple) and len(out) == 2
    assert [o.shape for o in out] == [f.shape for f in feats]
    with pytest.raises(TypeError, match='feats'):
        neck({'a': feats[0]}, flow)
    with pytest.raises(
            ValueError,
            match=r'flow \(2, 2, 32, 48\) and feat '
            r'\(1, 4, 8, 12\) must have the same batch size'):
        neck(feats, torch.zeros(2, 2, 32, 48))


def test_base_grid_is_built_once_per_shape_device_dtype(neck, grid_calls):
    flow = torch.randn(1, 2, 32, 48)
    neck(torch.randn(1, 4, 8, 12), flow)
    neck(torch.randn(1, 4, 8, 12), flow)
    assert grid_calls == [(8, 12, torch.float32)]
    key = (8, 12, torch.device('cpu'), torch.float32)
    cached = neck.grid_cache[key]
    neck(torch.randn(1, 4, 8, 12), flow)
    assert neck.grid_cache[key] is cached
    neck(torch.randn(1, 4, 4, 6), flow)
    neck(torch.randn(1, 4, 8, 12, dtype=torch.float64), flow.double())
    assert grid_calls == [(8, 12, torch.float32), (4, 6, torch.float32),
                          (8, 12, torch.float64)]
    assert len(neck.grid_cache) == 3


def test_grid_cache_is_bounded(grid_calls):
    neck = FlowWarp(max_cached_grids=2)
    flow = torch.zeros(1, 2, 16, 16)
    for size in (2, 4, 8):
        neck(torch.randn(1, 1, size, size), flow)
    assert [k[:2] for k in neck.grid_cache] == [(4, 4), (8, 8)]
    neck(torch.randn(1, 1, 2, 2), flow)  # evicted, so rebuilt
    assert len(grid_calls) == 4
    # the least recently used goes: 8x8 was used after 2x2, so 2x2 goes
    neck(torch.randn(1, 1, 8, 8), flow)
    neck(torch.randn(1, 1, 4, 4), flow)
    assert [k[:2] for k in neck.grid_cache] == [(8, 8), (4, 4)]
    assert len(grid_calls) == 5
    with pytest.raises(ValueError, match='max_cached_grids'):
        FlowWarp(max_cached_grids=0)


def test_gradients_reach_features_and_flow(neck):
    feat = torch.randn(1, 2, 4, 5, requires_grad=True)
    flow = (torch.rand(1, 2, 16, 20) * 4 - 2).requires_grad_(True)
    neck([feat], flow)[0].pow(2).sum().backward()
    assert feat.grad.abs().sum() > 0
    assert flow.grad.abs().sum() > 0


@pytest.mark.parametrize('half', [torch.float16, torch.bfloat16])
def test_half_precision_flow_is_sampled_in_float32(neck, half):
    """A half-precision flow (``--amp``) must not quantise the positions.

    At x = 60 a bfloat16 coordinate has steps of 0.25 cell (float16: 1/32),
    so 60.3 would be sampled at 60.25; float32 coordinates keep 60.3.
    """
    feat = torch.arange(64.).repeat(1, 1, 2, 1)  # [1, 1, 2, 64], value = x
    flow = torch.full((1, 2, 2, 64), 0.3)
    flow[:, 1] = 0.
    flow = flow.to(half)  # 0.3 itself is rounded, the sum must not be
    out = neck(feat, flow)
    expected = torch.arange(64.) + flow[0, 0, 0].float()
    assert torch.allclose(out[0, 0, 0, :63], expected[:63], atol=1e-5)
    assert out.shape == feat.shape and out.dtype == torch.float32
    assert list(neck.grid_cache) == [(2, 64, torch.device('cpu'),
                                      torch.float32)]


def test_bicubic_neck_matches_flow_warp():
    neck = MODELS.build(dict(type='FlowWarp', interpolation='bicubic'))
    feat = torch.randn(2, 4, 6, 10)
    flow = torch.randn(2, 2, 24, 40) * 5
    assert torch.equal(neck(feat, flow), flow_warp(feat, flow, 'bicubic'))
    assert not torch.allclose(neck(feat, flow), flow_warp(feat, flow))
    assert torch.equal(neck(feat, torch.zeros(2, 2, 24, 40)), feat)
    with pytest.raises(ValueError, match='interpolation'):
        FlowWarp(interpolation='area')


def test_moving_the_module_empties_the_grid_cache(neck, grid_calls):
    """The grids of a device the model has left are not kept."""
    flow = torch.zeros(1, 2, 16, 16)
    neck(torch.randn(1, 1, 4, 4), flow)
    assert len(neck.grid_cache) == 1
    neck.to('cpu')
    assert neck.grid_cache == {}
    neck(torch.randn(1, 1, 4, 4), flow)
    neck.half()
    assert neck.grid_cache == {}
    neck(torch.randn(1, 1, 4, 4), flow)
    assert len(grid_calls) == 3
    # the detector's .to() reaches its neck
    model = torch.nn.Sequential(neck)
    model.to(torch.float32)
    assert neck.grid_cache == {}


def test_cuda_input_gets_its_own_cuda_grid(neck, cuda_device):
    feat = torch.randn(1, 4, 8, 12)
    flow = torch.randn(1, 2, 32, 48) * 3
    on_cpu = neck(feat, flow)
    on_cuda = neck(feat.to(cuda_device), flow.to(cuda_device))
    assert on_cuda.device.type == 'cuda'
    assert torch.allclose(on_cuda.cpu(), on_cpu, atol=1e-5)
    devices = {key[2].type for key in neck.grid_cache}
    assert devices == {'cpu', 'cuda'}
    assert all(grid.device.type == key[2].type
               for key, grid in neck.grid_cache.items())
    neck.cpu()
    assert neck.grid_cache == {}


@pytest.mark.parametrize('sampler', ['grid_sample', 'gather'])
def test_sampler_neck_matches_flow_warp(sampler):
    neck = MODELS.build(dict(type='FlowWarp', sampler=sampler))
    assert neck.sampler == sampler
    feat = torch.randn(2, 4, 6, 10)
    flow = torch.randn(2, 2, 24, 40) * 5
    out = neck(feat, flow)
    assert torch.equal(out, flow_warp(feat, flow, sampler=sampler))
    # the default ('auto', the gather sampler on the CPU) computes the same
    # warp up to float rounding
    assert torch.allclose(out, flow_warp(feat, flow), atol=1e-5)
    assert torch.equal(neck(feat, torch.zeros(2, 2, 24, 40)), feat)


def test_unknown_sampler_is_refused():
    assert FlowWarp().sampler == 'auto'
    with pytest.raises(ValueError, match='sampler'):
        FlowWarp(sampler='nearest')


@pytest.mark.parametrize('sampler', ['grid_sample', 'gather'])
@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_flow_is_refused(sampler, bad):
    """A NaN flow would give NaNs or a bad index, an infinite one zeros."""
    neck = FlowWarp(sampler=sampler)
    flow = torch.zeros(1, 2, 8, 8)
    flow[0, 1, 3, 4] = bad
    with pytest.raises(
            ValueError,
            match=r'flow \(1, 2, 8, 8\) with 1 NaN '
            'or infinite values'):
        neck([torch.randn(1, 3, 4, 4)], flow)


def test_zero_non_finite_flow_counts_and_zeroes_without_a_check():
    flow = torch.randn(1, 2, 8, 8, requires_grad=True)
    bad = flow.detach().clone()
    bad[0, 0, 1, 2], bad[0, 1, 5, 5] = float('nan'), float('inf')
    bad.requires_grad_(True)
    finite, count = flow_warp_neck_module.zero_non_finite_flow(bad)
    assert count.dim() == 0 and int(count) == 2
    assert finite[0, 0, 1, 2] == 0 and finite[0, 1, 5, 5] == 0
    keep = torch.isfinite(bad.detach())
    assert torch.equal(finite[keep], bad.detach()[keep])
    finite.sum().backward()  # the gradient reaches the finite values only
    assert torch.equal(bad.grad, keep.float())
    # a caller that made its flow finite skips the neck's check
    feats = torch.randn(1, 3, 4, 4)
    assert torch.isfinite(FlowWarp()(feats, finite, check_finite=False)).all()
    with pytest.raises(ValueError, match='2 NaN or infinite values'):
        FlowWarp()(feats, bad, check_finite=True)
