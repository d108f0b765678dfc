# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from memvid_mm.ops import (cumsum_last_two, deterministic_cuda_required,
                           resize_bilinear)
from memvid_mm.ops.deterministic import linear_resize_taps


def test_deterministic_cuda_required_only_for_cuda_under_the_mode(
        deterministic_algorithms):
    cuda = torch.device('cuda')  # the check needs no GPU
    assert deterministic_cuda_required(cuda)
    assert not deterministic_cuda_required(cuda, needs_grad=False)
    assert not deterministic_cuda_required(torch.device('cpu'))
    torch.use_deterministic_algorithms(True, warn_only=True)
    assert not deterministic_cuda_required(cuda)


def test_deterministic_cuda_required_is_off_by_default():
    if torch.are_deterministic_algorithms_enabled():
        pytest.fail('deterministic algorithms left on by another test')
    assert not deterministic_cuda_required(torch.device('cuda'))


def test_linear_resize_taps_follow_pixel_centres():
    lower, upper, weight = linear_resize_taps(4, 8, torch.device('cpu'))
    # output cell i reads input (i + 0.5) / 2 - 0.5, clamped at 0; the
    # last one reads cell 3 through both taps
    assert lower.tolist() == [0, 0, 0, 1, 1, 2, 2, 3]
    assert upper.tolist() == [1, 1, 1, 2, 2, 3, 3, 3]
    assert torch.allclose(
        weight, torch.tensor([0., 0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0.25]))


@pytest.mark.parametrize('in_hw,out_hw',
                         [((40, 64), (5, 8)), ((5, 8), (20, 32)),
                          ((7, 9), (11, 5)), ((6, 6), (6, 6)),
                          ((1, 3), (4, 1))])
def test_resize_bilinear_equals_interpolate_with_gradient(in_hw, out_hw):
    x = torch.randn(2, 3, *in_hw, dtype=torch.float64, requires_grad=True)
    reference = F.interpolate(
        x, size=out_hw, mode='bilinear', align_corners=False)
    out = resize_bilinear(x, out_hw, deterministic=True)
    assert out.shape == reference.shape
    assert torch.allclose(out, reference, rtol=0, atol=1e-12)
    upstream = torch.randn_like(out)
    grad, = torch.autograd.grad(out, x, upstream)
    grad_reference, = torch.autograd.grad(reference, x, upstream)
    assert torch.allclose(grad, grad_reference, rtol=0, atol=1e-12)


def test_resize_bilinear_float32_and_default_path():
    x = torch.randn(1, 2, 30, 50)
    reference = F.interpolate(
        x, size=(19, 32), mode='bilinear', align_corners=False)
    # off CUDA the default is PyTorch's own op, bit for bit
    assert torch.equal(resize_bilinear(x, (19, 32)), reference)
    out = resize_bilinear(x, (19, 32), deterministic=True)
    assert out.dtype == torch.float32
    assert torch.allclose(out, reference, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        resize_bilinear(x[0], (4, 4))


def test_cumsum_last_two_equals_cumsum_with_gradient():
    x = torch.randn(2, 3, 38, 63, dtype=torch.float64, requires_grad=True)
    reference = x.cumsum(-2).cumsum(-1)
    assert torch.equal(cumsum_last_two(x), reference)
    out = cumsum_last_two(x, deterministic=True)
    assert torch.allclose(out, reference, rtol=1e-12, atol=1e-10)
    upstream = torch.randn_like(out)
    grad, = torch.autograd.grad(out, x, upstream)
    grad_reference, = torch.autograd.grad(reference, x, upstream)
    assert torch.allclose(grad, grad_reference, rtol=1e-12, atol=1e-10)
    single = torch.randn(4, 1, 1)
    assert torch.equal(cumsum_last_two(single, deterministic=True), single)


def test_cuda_deterministic_ops_run_under_the_mode(cuda_device,
                                                   deterministic_algorithms):
    x = torch.randn(1, 2, 12, 20, device=cuda_device, requires_grad=True)
    out = resize_bilinear(x, (3, 5))  # F.interpolate's backward would raise
    out.sum().backward()
    reference = F.interpolate(
        x.detach().cpu(), size=(3, 5), mode='bilinear', align_corners=False)
    assert torch.allclose(out.detach().cpu(), reference, atol=1e-5)
    table = cumsum_last_two(x.detach().double())  # CUDA cumsum would raise
    assert torch.allclose(table.cpu(),
                          x.detach().double().cpu().cumsum(-2).cumsum(-1))
