# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch

from memvid_mm.ops import PSRoIPool, ps_roi_pool
from memvid_mm.ops.ps_roi_pool import round_half_away
from .ps_roi_reference import expected_ps_roi_pool, random_rois


def _ramp(channels=1, height=5, width=6, dtype=torch.float64):
    """Channel m holds ``100 * m + width * y + x``."""
    ys = torch.arange(height, dtype=dtype)[:, None] * width
    xs = torch.arange(width, dtype=dtype)[None]
    base = 100 * torch.arange(channels, dtype=dtype)[:, None, None]
    return (base + ys + xs)[None]  # [1, channels, H, W]


def test_hand_computed_single_bin():
    x = _ramp()  # 6 * y + x on a 5 x 6 map
    rois = torch.tensor(
        [
            # cols [1, 3), rows [1, 2): cells 7 and 8 -> 7.5
            [0., 1., 1., 3., 2.],
            # C round: 0.5 -> 1, 2.5 -> 3, 1.5 -> 2: the same box -> 7.5
            # (round half to even would give cols [0, 2), rows [2, 2))
            [0., 0.5, 0.5, 2.5, 1.5],
            # whole map: bins are clipped to [0, W - 1] x [0, H - 1], as in
            # torchvision, so rows 0..3 and cols 0..4: 6 * 1.5 + 2 = 11
            [0., 0., 0., 6., 5.],
            # degenerate box at (2, 3): size forced to 1 -> cell 6*3+2 = 20
            [0., 2., 3., 2., 3.],
            # starts at the last row and column: empty after clipping -> 0
            [0., 5., 4., 6., 5.],
        ],
        dtype=torch.float64)
    out = ps_roi_pool(x, rois, 1).flatten()
    expected = torch.tensor([7.5, 7.5, 11.0, 20.0, 0.0], dtype=torch.float64)
    assert torch.allclose(out, expected)


def test_hand_computed_position_sensitive_channels():
    x = _ramp(channels=4)  # 100 * m + 6 * y + x
    # box [0, 4] x [0, 4], bins of 2 cells; bin (i, j) reads channel
    # 2 * i + j and averages rows 2i, 2i+1 and cols 2j, 2j+1
    rois = torch.tensor([[0., 0., 0., 4., 4.]], dtype=torch.float64)
    out = ps_roi_pool(x, rois, 2)
    # (0, 0): 6 * 0.5 + 0.5; (0, 1): 100 + 3 + 2.5;
    # (1, 0): 200 + 6 * 2.5 + 0.5; (1, 1): 300 + 15 + 2.5
    expected = torch.tensor([[3.5, 105.5], [215.5, 317.5]],
                            dtype=torch.float64)
    assert torch.allclose(out[0, 0], expected)


def test_round_half_away():
    x = torch.tensor([-2.5, -1.5, -0.4, 0.5, 1.5, 2.5, 2.49])
    assert round_half_away(x).tolist() == [-3, -2, 0, 1, 2, 3, 2]


@pytest.mark.parametrize('output_size', [(1, 1), (2, 2), (3, 2)])
def test_matches_loop_reference(output_size):
    gen = torch.Generator().manual_seed(1)
    kh, kw = output_size
    x = torch.randn(2, 2 * kh * kw, 7, 9, dtype=torch.float64, generator=gen)
    for scale in (1.0, 0.5, 0.25):
        rois = random_rois(8, 2, 7, 9, scale, gen)
        out = ps_roi_pool(x, rois, output_size, scale)
        expected = expected_ps_roi_pool(x, rois, kh, kw, scale)
        assert torch.allclose(out, expected, atol=1e-12), (out - expected)


def test_float32_matches_reference():
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(1, 8, 12, 12, generator=gen) * 50
    rois = random_rois(6, 1, 12, 12, 1 / 4, gen)
    out = ps_roi_pool(x, rois.float(), 2, 1 / 4)
    expected = expected_ps_roi_pool(x, rois.float().double(), 2, 2, 1 / 4)
    assert out.dtype == torch.float32
    assert torch.allclose(out.double(), expected, rtol=1e-6, atol=1e-5)


def test_gradcheck():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(
        2, 2 * 4, 5, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    rois = torch.tensor([[0, -1.3, 0.2, 3.9, 4.4], [1, 1.1, 2.7, 5.5, 5.8],
                         [1, 0.4, 0.4, 2.2, 1.9], [0, 3, 2, 9, 8]],
                        dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda inp: ps_roi_pool(inp, rois, 2, 1.0),
                                    (x, ))


def test_list_of_boxes_equals_rois_tensor():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 9, 8, 8, generator=gen)
    boxes = [
        torch.tensor([[0., 1., 6., 7.], [2., 2., 3., 5.]]),
        torch.tensor([[1., 0., 8., 4.]])
    ]
    rois = torch.tensor([[0., 0., 1., 6., 7.], [0., 2., 2., 3., 5.],
                         [1., 1., 0., 8., 4.]])
    out_list = ps_roi_pool(x, boxes, 3, 0.5)
    out_rois = PSRoIPool(3, 0.5)(x, rois)
    assert out_list.shape == (3, 1, 3, 3)
    assert torch.equal(out_list, out_rois)


def test_empty_boxes():
    x = torch.randn(1, 2 * 9, 4, 4, requires_grad=True)
    out = ps_roi_pool(x, torch.zeros(0, 5), 3)
    assert out.shape == (0, 2, 3, 3)
    assert ps_roi_pool(x, [], 3).shape == (0, 2, 3, 3)
    out.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_invalid_arguments():
    x = torch.randn(1, 8, 4, 4)
    with pytest.raises(ValueError, match='input'):
        ps_roi_pool(x, torch.zeros(1, 5), 3)
    x = torch.randn(1, 9, 4, 4)
    with pytest.raises(ValueError, match='boxes'):
        ps_roi_pool(x, torch.zeros(5), 3)
    with pytest.raises(ValueError, match='boxes'):
        ps_roi_pool(x, 'boxes', 3)
    with pytest.raises(ValueError, match='batch indices'):
        ps_roi_pool(x, torch.tensor([[-1., 0., 0., 2., 2.]]), 3)
    with pytest.raises(TypeError, match='input'):
        ps_roi_pool(x.long(), torch.zeros(1, 5), 3)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision(dtype):
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(1, 8, 6, 6, generator=gen).to(dtype)
    rois = random_rois(4, 1, 6, 6, 1.0, gen).float()
    out = ps_roi_pool(x.requires_grad_(), rois, 2)
    assert out.dtype == dtype
    ref = ps_roi_pool(x.detach().float(), rois, 2)
    assert torch.allclose(out.float(), ref, atol=2e-2, rtol=1e-2)
    out.float().sum().backward()
    assert x.grad.dtype == dtype


def test_module_repr():
    op = PSRoIPool(7, 1 / 16)
    assert op.output_size == (7, 7)
    assert repr(op) == 'PSRoIPool(output_size=(7, 7), spatial_scale=0.0625)'


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3 * 9, 10, 11, generator=gen)
    rois = random_rois(20, 2, 10, 11, 0.5, gen).float()
    xc = x.cuda().requires_grad_()
    out = ps_roi_pool(xc, rois.cuda(), 3, 0.5)
    out.square().sum().backward()
    xr = x.clone().requires_grad_()
    ref = ps_roi_pool(xr, rois, 3, 0.5)
    ref.square().sum().backward()
    assert torch.allclose(out.cpu(), ref, atol=1e-5)
    assert torch.allclose(xc.grad.cpu(), xr.grad, atol=1e-5)
