# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch

from memvid_mm.ops import PSRoIAlign, ps_roi_align
from .ps_roi_reference import expected_ps_roi_align, random_rois


def _ramp(channels=1, height=5, width=5, dtype=torch.float64):
    """Channel m holds ``100 * m + width * y + x``."""
    ys = torch.arange(height, dtype=dtype)[:, None] * width
    xs = torch.arange(width, dtype=dtype)[None]
    base = 100 * torch.arange(channels, dtype=dtype)[:, None, None]
    return (base + ys + xs)[None]  # [1, channels, H, W]


def test_hand_computed_single_bin():
    x = _ramp()  # value 5 * y + x, bilinear interpolation is exact on it
    # box [1, 3] -> map [0.5, 2.5], one bin of size 2, 2x2 samples at
    # y, x in {1.0, 2.0}: mean of 5 * y + x = 5 * 1.5 + 1.5 = 9.0
    rois = torch.tensor([[0., 1., 1., 3., 3.]], dtype=torch.float64)
    for sampling_ratio in (2, -1, 0):  # adaptive: ceil(2 / 1) = 2
        out = ps_roi_align(x, rois, 1, sampling_ratio=sampling_ratio)
        assert out.shape == (1, 1, 1, 1)
        assert out.item() == pytest.approx(9.0)


def test_hand_computed_position_sensitive_channels():
    x = _ramp(channels=4, height=4, width=4)  # 100 * m + 4 * y + x
    # box [0.5, 3.5] -> map [0, 3], bins of 1.5, one sample per bin at
    # 0.75 and 2.25; bin (i, j) reads channel 2 * i + j.
    rois = torch.tensor([[0., 0.5, 0.5, 3.5, 3.5]], dtype=torch.float64)
    out = ps_roi_align(x, rois, 2, sampling_ratio=1)
    expected = torch.tensor([[3.75, 105.25], [209.75, 311.25]],
                            dtype=torch.float64)
    # (0, 0): 0 + 4 * 0.75 + 0.75; (0, 1): 100 + 3 + 2.25;
    # (1, 0): 200 + 4 * 2.25 + 0.75; (1, 1): 300 + 9 + 2.25
    assert torch.allclose(out[0, 0], expected)


def test_hand_computed_borders():
    x = _ramp()  # 5 * y + x on a 5 x 5 map
    rois = torch.tensor(
        [
            # x: [-1.5, 0.5] sample -0.5 clamps to 0; y: [0.5, 2.5] sample
            # 1.5 -> 5 * 1.5 + 0 = 7.5
            [0., -1., 1., 1., 3.],
            # sample 4.5 lies in [H - 1, H]: border row/col -> 24
            [0., 4., 4., 6., 6.],
            # sample 6.0 > H = 5: outside -> 0
            [0., 5.5, 5.5, 7.5, 7.5],
            # map [-2.5, 1.5], adaptive grid ceil(4 / 1) = 4: samples at
            # -2 (< -1: dropped), -1 and 0 (clamped to 0) and 1, so rows
            # and columns {0, 0, 1} each: sum of 5 * y + x over the 3 x 3
            # pairs = 3 * 5 * 1 + 3 * 1 = 18, over 16 samples -> 1.125
            [0., -2., -2., 2., 2.],
        ],
        dtype=torch.float64)
    out = ps_roi_align(x, rois, 1, sampling_ratio=-1).flatten()
    expected = torch.tensor([7.5, 24.0, 0.0, 1.125], dtype=torch.float64)
    assert torch.allclose(out, expected)


@pytest.mark.parametrize('sampling_ratio', [-1, 0, 1, 2, 3])
@pytest.mark.parametrize('output_size', [(2, 2), (3, 2)])
def test_matches_loop_reference(sampling_ratio, output_size):
    gen = torch.Generator().manual_seed(1)
    kh, kw = output_size
    x = torch.randn(2, 2 * kh * kw, 7, 9, dtype=torch.float64, generator=gen)
    for scale in (1.0, 0.5):
        rois = random_rois(6, 2, 7, 9, scale, gen)
        out = ps_roi_align(x, rois, output_size, scale, sampling_ratio)
        expected = expected_ps_roi_align(x, rois, kh, kw, scale,
                                         sampling_ratio)
        assert torch.allclose(out, expected, atol=1e-12), (out - expected)


def test_float32_matches_reference():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1, 8, 6, 6, generator=gen)
    rois = random_rois(5, 1, 6, 6, 1 / 4, gen)
    out = ps_roi_align(x, rois.float(), 2, 1 / 4)
    expected = expected_ps_roi_align(x, rois, 2, 2, 1 / 4)
    assert out.dtype == torch.float32
    assert torch.allclose(out.double(), expected, atol=1e-5)


@pytest.mark.parametrize('sampling_ratio', [-1, 2])
def test_gradcheck(sampling_ratio):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(
        2, 2 * 4, 5, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    rois = torch.tensor([[0, -1.3, 0.2, 3.9, 4.4], [1, 1.1, 2.7, 5.5, 5.8],
                         [1, 0.4, 0.4, 2.2, 1.9]],
                        dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda inp: ps_roi_align(inp, rois, 2, 1.0, sampling_ratio), (x, ))


def test_list_of_boxes_equals_rois_tensor():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 9, 8, 8, generator=gen)
    boxes = [
        torch.tensor([[0., 1., 6., 7.], [2., 2., 3., 5.]]),
        torch.tensor([[1., 0., 8., 4.]])
    ]
    rois = torch.tensor([[0., 0., 1., 6., 7.], [0., 2., 2., 3., 5.],
                         [1., 1., 0., 8., 4.]])
    out_list = ps_roi_align(x, boxes, 3, 0.5, 2)
    out_rois = PSRoIAlign(3, 0.5, 2)(x, rois)
    assert out_list.shape == (3, 1, 3, 3)
    assert torch.equal(out_list, out_rois)


def test_empty_boxes():
    x = torch.randn(1, 2 * 9, 4, 4, requires_grad=True)
    out = ps_roi_align(x, torch.zeros(0, 5), 3)
    assert out.shape == (0, 2, 3, 3)
    out_list = ps_roi_align(x, [torch.zeros(0, 4)], 3)
    assert out_list.shape == (0, 2, 3, 3)
    out.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_invalid_arguments():
    x = torch.randn(1, 10, 4, 4)
    with pytest.raises(ValueError, match='input'):
        ps_roi_align(x, torch.zeros(1, 5), 3)  # 10 % 9 != 0
    x = torch.randn(1, 9, 4, 4)
    with pytest.raises(ValueError, match='boxes'):
        ps_roi_align(x, torch.zeros(2, 4), 3)
    with pytest.raises(ValueError, match=r'boxes\[0\]'):
        ps_roi_align(x, [torch.zeros(2, 5)], 3)
    with pytest.raises(ValueError, match='batch indices'):
        ps_roi_align(x, torch.tensor([[1., 0., 0., 2., 2.]]), 3)
    for bad in ((3, 0), True, (3, True)):
        with pytest.raises(ValueError, match='output_size'):
            ps_roi_align(x, torch.zeros(1, 5), bad)
    with pytest.raises(ValueError, match='input'):
        ps_roi_align(x[0], torch.zeros(1, 5), 3)


def test_chunking_gives_same_result(monkeypatch):
    from memvid_mm.ops import roi_utils
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(1, 8, 6, 7, generator=gen, requires_grad=True)
    rois = random_rois(9, 1, 6, 7, 1.0, gen).float()
    whole = ps_roi_align(x, rois, 2, 1.0, -1)
    grad_whole, = torch.autograd.grad(whole.sum(), x)
    monkeypatch.setattr(roi_utils, 'MAX_GATHER_ELEMENTS', 1)
    assert len(roi_utils.roi_chunks(9, 10)) == 9
    chunked = ps_roi_align(x, rois, 2, 1.0, -1)
    grad_chunked, = torch.autograd.grad(chunked.sum(), x)
    assert torch.allclose(whole, chunked)
    assert torch.allclose(grad_whole, grad_chunked)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision(dtype):
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(1, 8, 6, 6, generator=gen)
    rois = random_rois(4, 1, 6, 6, 1.0, gen).float()
    x_half = x.to(dtype).requires_grad_()
    out = ps_roi_align(x_half, rois, 2, 1.0, 2)
    assert out.dtype == dtype
    ref = ps_roi_align(x_half.detach().float(), rois, 2, 1.0, 2)
    assert torch.allclose(out.float(), ref, atol=5e-2, rtol=1e-2)
    out.float().sum().backward()
    assert x_half.grad.dtype == dtype and x_half.grad.abs().sum() > 0


def test_module_repr():
    op = PSRoIAlign((7, 5), 1 / 16, 2)
    assert op.output_size == (7, 5)
    assert repr(op) == ('PSRoIAlign(output_size=(7, 5), '
                        'spatial_scale=0.0625, sampling_ratio=2)')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3 * 9, 10, 11, generator=gen)
    rois = random_rois(20, 2, 10, 11, 0.5, gen).float()
    for sampling_ratio in (-1, 2):
        xc = x.cuda().requires_grad_()
        out = ps_roi_align(xc, rois.cuda(), 3, 0.5, sampling_ratio)
        out.square().sum().backward()
        xr = x.clone().requires_grad_()
        ref = ps_roi_align(xr, rois, 3, 0.5, sampling_ratio)
        ref.square().sum().backward()
        assert torch.allclose(out.cpu(), ref, atol=1e-5)
        assert torch.allclose(xc.grad.cpu(), xr.grad, atol=1e-5)
