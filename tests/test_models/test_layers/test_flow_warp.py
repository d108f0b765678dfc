# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

# yapf: disable
from memvid_mm.models.layers import (WARP_INTERPOLATIONS, WARP_SAMPLERS,
                                     cubic_weights,
                                     flow_to_feature_displacement, flow_warp,
                                     grid_sample_folds_channels,
                                     make_base_grid, padded_grid_size,
                                     sample_by_grid_sample, scale_flow_,
                                     warp_by_displacement)
# yapf: enable
from memvid_mm.models.layers.flow_warp import (check_deterministic_backward,
                                               memory_format_of,
                                               resolve_sampler)

samplers = pytest.mark.parametrize('sampler', WARP_SAMPLERS)


def _constant_disp(n, h, w, dx, dy, dtype=torch.float32):
    disp = torch.empty(n, 2, h, w, dtype=dtype)
    disp[:, 0] = dx
    disp[:, 1] = dy
    return disp


def _ramp(h, w, dtype=torch.float32):
    """(1, 1, h, w) map whose value is the column index."""
    return torch.arange(w, dtype=dtype).expand(1, 1, h, w).clone()


def _mmtrack_style_warp(feat, disp):
    """The normalisation of mmtrack's flow_warp_feats (the (W-1)/W bug).

    Pixel coordinates are normalised by W (not W - 1) and sampled with
    ``align_corners=True``. Kept here only to show that the regression test
    below would catch it.
    """
    h, w = feat.shape[-2:]
    grid = make_base_grid(h, w, dtype=disp.dtype) + disp
    gx = grid[:, 0] / w * 2 - 1
    gy = grid[:, 1] / h * 2 - 1
    return F.grid_sample(
        feat,
        torch.stack((gx, gy), dim=-1),
        mode='bilinear',
        padding_mode='zeros',
        align_corners=True)


def _ramp_check(warp_fn):
    """Whether warp_fn reproduces a ramp under zero and unit flows."""
    h, w = 3, 7
    ramp = _ramp(h, w)
    same = warp_fn(ramp, _constant_disp(1, h, w, 0., 0.))
    shifted = warp_fn(ramp, _constant_disp(1, h, w, 1., 0.))
    return (torch.equal(same, ramp)
            and torch.equal(shifted[..., :-1], ramp[..., 1:])
            and torch.equal(shifted[..., -1], torch.zeros(1, 1, h)))


def test_make_base_grid_holds_integer_pixel_coordinates():
    grid = make_base_grid(3, 4, dtype=torch.float64)
    assert grid.shape == (1, 2, 3, 4)
    assert grid.dtype == torch.float64
    assert torch.equal(grid[0, 0, 2], torch.arange(4, dtype=torch.float64))
    assert torch.equal(grid[0, 1, :, 3], torch.arange(3, dtype=torch.float64))
    with pytest.raises(ValueError, match='h > 0'):
        make_base_grid(0, 4)


@samplers
def test_zero_flow_is_identity(sampler):
    feat = torch.randn(2, 5, 6, 9)
    base = make_base_grid(6, 9)
    out = warp_by_displacement(
        feat, torch.zeros(2, 2, 6, 9), base, sampler=sampler)
    assert torch.equal(out, feat)
    # also through the image-resolution path (flow resized to the map)
    assert torch.equal(
        flow_warp(feat, torch.zeros(2, 2, 96, 144), sampler=sampler), feat)


@samplers
def test_integer_flow_equals_roll_on_interior(sampler):
    h, w, dx, dy = 7, 9, 2, -1
    feat = torch.randn(2, 3, h, w)
    out = warp_by_displacement(
        feat,
        _constant_disp(2, h, w, dx, dy),
        make_base_grid(h, w),
        sampler=sampler)
    # out[y, x] = feat[y + dy, x + dx]
    rolled = torch.roll(feat, shifts=(-dy, -dx), dims=(2, 3))
    assert torch.equal(out[:, :, 1:, :w - 2], rolled[:, :, 1:, :w - 2])
    # the rows/columns that read outside the map are zero
    assert torch.equal(out[:, :, 0], torch.zeros(2, 3, w))
    assert torch.equal(out[..., w - 2:], torch.zeros(2, 3, h, 2))


@samplers
def test_no_shrink_regression_of_mmtrack_normalisation(sampler):
    """Zero/unit flow on a ramp: exact; mmtrack's W-normalisation fails."""

    def ours(feat, disp):
        return warp_by_displacement(
            feat, disp, make_base_grid(3, 7), sampler=sampler)

    assert _ramp_check(ours)
    # the same check catches the (W - 1) / W shrink of flow_warp_feats
    assert not _ramp_check(_mmtrack_style_warp)
    shrunk = _mmtrack_style_warp(_ramp(3, 7), _constant_disp(1, 3, 7, 0., 0.))
    assert torch.allclose(shrunk, _ramp(3, 7) * 6 / 7, atol=1e-5)


@samplers
def test_fractional_flow_interpolates_bilinearly(sampler):
    h, w = 4, 6
    ramp = _ramp(h, w)
    out = warp_by_displacement(
        ramp,
        _constant_disp(1, h, w, 0.25, 0.),
        make_base_grid(h, w),
        sampler=sampler)
    assert torch.allclose(out[..., :-1], ramp[..., :-1] + 0.25)
    # the last column mixes the border value with the zero outside
    assert torch.allclose(out[..., -1], torch.full((1, 1, h), 0.75 * 5))


@samplers
@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_matches_correctly_normalised_grid_sample(interpolation, sampler):
    """Border cells included: taps outside the map read zeros in both."""
    h, w = 5, 8
    feat = torch.randn(2, 3, h, w, dtype=torch.float64)
    disp = torch.randn(2, 2, h, w, dtype=torch.float64) * 2
    base = make_base_grid(h, w, dtype=torch.float64)
    out = warp_by_displacement(feat, disp, base, interpolation, sampler)
    grid = base + disp
    norm = torch.stack(
        (grid[:, 0] * 2 / (w - 1) - 1, grid[:, 1] * 2 / (h - 1) - 1), dim=-1)
    expected = F.grid_sample(
        feat,
        norm,
        mode=interpolation,
        padding_mode='zeros',
        align_corners=True)
    assert torch.allclose(out, expected, atol=1e-10)


@samplers
@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_far_outside_reads_zeros(interpolation, sampler):
    feat = torch.randn(1, 2, 4, 5)
    for dx, dy in ((1e9, -1e9), (-1e9, 1e9)):
        out = warp_by_displacement(feat, _constant_disp(1, 4, 5, dx, dy),
                                   make_base_grid(4, 5), interpolation,
                                   sampler)
        assert torch.equal(out, torch.zeros_like(feat))


@samplers
@pytest.mark.parametrize('interpolation', WARP_INTERPOLATIONS)
def test_a_tall_map_warps_as_its_transpose(interpolation, sampler):
    """Rows and columns are treated alike on a map taller than wide.

    Warping a (9 x 3) map is warping its (3 x 9) transpose with dx and dy
    swapped, transposed back; and a zero flow keeps every row, also those
    below row ``w - 1``. The other tests use wide maps only, on which a row
    coordinate bounded by the width instead of the height goes unseen.
    """
    torch.manual_seed(0)
    h, w = 9, 3
    feat = torch.randn(1, 2, h, w)
    disp = torch.randn(1, 2, h, w) * 2
    tall = warp_by_displacement(feat, disp, make_base_grid(h, w),
                                interpolation, sampler)
    wide = warp_by_displacement(
        feat.transpose(2, 3).contiguous(),
        disp.flip(1).transpose(2, 3).contiguous(), make_base_grid(w, h),
        interpolation, sampler)
    assert torch.allclose(tall, wide.transpose(2, 3), atol=1e-6)
    still = warp_by_displacement(feat, torch.zeros_like(disp),
                                 make_base_grid(h, w), interpolation, sampler)
    assert torch.equal(still, feat)


def test_flow_to_feature_displacement_rescales_to_cells():
    flow = _constant_disp(2, 32, 64, 3., -8.)
    disp = flow_to_feature_displacement(flow, (8, 16))
    assert disp.shape == (2, 2, 8, 16)
    assert torch.allclose(disp[:, 0], torch.full((2, 8, 16), 0.75))
    assert torch.allclose(disp[:, 1], torch.full((2, 8, 16), -2.0))
    # anisotropic strides are rescaled per axis
    disp = flow_to_feature_displacement(flow, (16, 8))
    assert torch.allclose(disp[:, 0], torch.full((2, 16, 8), 3. / 8))
    assert torch.allclose(disp[:, 1], torch.full((2, 16, 8), -4.0))
    assert torch.equal(flow_to_feature_displacement(flow, (32, 64)), flow)
    with pytest.raises(
            ValueError,
            match=r'flow must have shape \(N, 2, '
            r'H, W\), got \(1, 3, 4, 4\)'):
        flow_to_feature_displacement(torch.zeros(1, 3, 4, 4), (2, 2))


@pytest.mark.parametrize('image_hw,feat_hw', [((97, 160), (13, 20)),
                                              ((96, 161), (12, 21)),
                                              ((8, 8), (3, 3))])
def test_flow_to_feature_displacement_refuses_a_map_not_covering_the_image(
        image_hw, feat_hw):
    # A stride-8 map of 97 rows has 13 cells covering 104 pixels: a scale
    # of 13 / 97 would make every displacement 7% too long.
    flow = torch.zeros(1, 2, *image_hw)
    with pytest.raises(ValueError, match='pad_size_divisor'):
        flow_to_feature_displacement(flow, feat_hw)
    with pytest.raises(ValueError, match='pad_size_divisor'):
        flow_warp(torch.zeros(1, 4, *feat_hw), flow)
    # a map finer than the flow is rescaled up when the sides divide
    assert flow_to_feature_displacement(
        _constant_disp(1, 4, 8, 1., 2.),
        (8, 16)).unique().tolist() == [2., 4.]


def test_flow_warp_shifts_by_flow_over_stride():
    """An 8-pixel image flow is a 2-cell shift on a stride-4 map."""
    feat = torch.randn(1, 3, 6, 10)
    out = flow_warp(feat, _constant_disp(1, 24, 40, 8., 4.))
    rolled = torch.roll(feat, shifts=(-1, -2), dims=(2, 3))
    assert torch.allclose(out[..., :-1, :-2], rolled[..., :-1, :-2])
    assert torch.allclose(out[..., -1, :], torch.zeros(1, 3, 10), atol=1e-5)


@samplers
@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_gradcheck_features_and_displacement(interpolation, sampler):
    h, w = 4, 5
    feat = torch.randn(1, 2, h, w, dtype=torch.float64, requires_grad=True)
    # fractional displacements (bilinear sampling is not differentiable
    # at integer positions), some pointing outside the map
    disp = (torch.rand(1, 2, h, w, dtype=torch.float64) * 4 - 2).add_(0.37)
    disp.requires_grad_(True)
    base = make_base_grid(h, w, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda f, d: warp_by_displacement(f, d, base, interpolation, sampler),
        (feat, disp))


@samplers
@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_gradcheck_flow_warp_through_flow_resize(interpolation, sampler):
    feat = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    flow = (torch.rand(1, 2, 6, 8, dtype=torch.float64) * 3 - 1.5).add_(0.13)
    flow.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda f, fl: flow_warp(f, fl, interpolation, sampler), (feat, flow))


def test_bad_shapes_raise_value_error():
    base = make_base_grid(4, 5)
    with pytest.raises(ValueError, match='disp'):
        warp_by_displacement(
            torch.zeros(1, 2, 4, 5), torch.zeros(1, 2, 4, 4), base)
    with pytest.raises(ValueError, match='base_grid'):
        warp_by_displacement(
            torch.zeros(1, 2, 4, 5), torch.zeros(1, 2, 4, 5),
            make_base_grid(4, 4))
    with pytest.raises(ValueError, match='feat'):
        warp_by_displacement(
            torch.zeros(2, 4, 5), torch.zeros(1, 2, 4, 5), base)


def test_an_integer_flow_is_refused():
    with pytest.raises(
            ValueError,
            match='flow must be a floating-point '
            'displacement, got torch.int64'):
        flow_warp(
            torch.zeros(1, 4, 6, 10),
            torch.zeros(1, 2, 48, 80, dtype=torch.long))


def test_flow_warp_names_flow_and_feat_on_a_batch_mismatch():
    # the error names the caller's tensors, not the resized displacement
    with pytest.raises(
            ValueError,
            match=r'flow \(2, 2, 96, 160\) and feat '
            r'\(1, 4, 6, 10\) must have the same batch size'):
        flow_warp(torch.zeros(1, 4, 6, 10), torch.zeros(2, 2, 96, 160))
    with pytest.raises(ValueError, match=r'flow must have shape'):
        flow_warp(torch.zeros(1, 4, 6, 10), torch.zeros(1, 3, 96, 160))
    with pytest.raises(ValueError, match=r'feat must have shape'):
        flow_warp(torch.zeros(4, 6, 10), torch.zeros(1, 2, 96, 160))


@samplers
def test_bicubic_zero_and_integer_flows_are_exact(sampler):
    assert _ramp_check(lambda feat, disp: warp_by_displacement(
        feat, disp, make_base_grid(*feat.shape[-2:]), 'bicubic', sampler))
    feat = torch.randn(2, 3, 5, 6)
    out = warp_by_displacement(feat, _constant_disp(2, 5, 6, -2., 1.),
                               make_base_grid(5, 6), 'bicubic', sampler)
    rolled = torch.roll(feat, shifts=(-1, 2), dims=(2, 3))
    assert torch.equal(out[..., :-1, 2:], rolled[..., :-1, 2:])
    assert torch.equal(out[..., -1, :], torch.zeros(2, 3, 6))


def test_cubic_weights_interpolate_and_sum_to_one():
    frac = torch.tensor([0., 0.25, 0.5, 0.9], dtype=torch.float64)
    weights = torch.stack(cubic_weights(frac))  # [4 taps, 4 positions]
    assert torch.allclose(weights.sum(0), torch.ones(4, dtype=torch.float64))
    assert torch.equal(weights[:, 0],
                       torch.tensor([0., 1., 0., 0.], dtype=torch.float64))
    # symmetric kernel: t and 1 - t mirror the taps
    mirrored = torch.stack(
        cubic_weights(torch.tensor([0.75], dtype=torch.float64))).flip(0)
    assert torch.allclose(weights[:, 1:2], mirrored)


@samplers
def test_repeated_subcell_warps_blur_less_with_bicubic(sampler):
    """Four warps by 1/4 cell move a blob one cell; bilinear smears it.

    A blob of std 1 cell (an object 2-3 cells wide): bilinear keeps 0.75 of
    its peak (relative error 0.23), bicubic 0.98 (0.10).
    """
    h, w = 1, 24
    xs = torch.arange(w, dtype=torch.float64)

    def blob(centre):
        return torch.exp(-(xs - centre)**2 / 2).view(1, 1, h, w)

    base = make_base_grid(h, w, dtype=torch.float64)
    step = _constant_disp(1, h, w, -0.25, 0., dtype=torch.float64)
    exact = blob(11.)
    peaks, errors = {}, {}
    for interpolation in ('bilinear', 'bicubic'):
        warped = blob(10.)
        for _ in range(4):
            warped = warp_by_displacement(warped, step, base, interpolation,
                                          sampler)
        assert warped.argmax() == 11  # both arrive where the blob went
        peaks[interpolation] = warped.max().item()
        errors[interpolation] = ((warped - exact).norm() / exact.norm()).item()
    assert peaks['bilinear'] < 0.8 < 0.95 < peaks['bicubic']
    assert errors['bicubic'] < 0.5 * errors['bilinear']


def test_unknown_interpolation_is_refused():
    feat = torch.zeros(1, 2, 4, 5)
    with pytest.raises(ValueError, match='interpolation'):
        warp_by_displacement(feat, torch.zeros(1, 2, 4, 5),
                             make_base_grid(4, 5), 'nearest')


@samplers
@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_cuda_matches_cpu(interpolation, sampler, cuda_device):
    """Values and gradients, with many taps outside the map."""
    gen = torch.Generator().manual_seed(5)
    feat = torch.randn(2, 5, 9, 13, generator=gen)
    disp = torch.randn(2, 2, 9, 13, generator=gen) * 3
    results = []
    for device in (torch.device('cpu'), cuda_device):
        feat_d = feat.to(device).clone().requires_grad_()
        disp_d = disp.to(device).clone().requires_grad_()
        out = warp_by_displacement(feat_d, disp_d,
                                   make_base_grid(9, 13, device=device),
                                   interpolation, sampler)
        assert out.device.type == device.type
        out.square().sum().backward()
        results.append([t.cpu() for t in (out, feat_d.grad, disp_d.grad)])
    for cpu, cuda in zip(*results):
        assert torch.allclose(cuda, cpu, atol=1e-5, rtol=1e-5)


def test_padded_grid_size_is_the_next_power_of_two_plus_one():
    sizes = {
        1: 3,
        2: 3,
        3: 3,
        4: 5,
        5: 5,
        6: 9,
        38: 65,
        63: 65,
        65: 65,
        66: 129
    }
    assert {s: padded_grid_size(s) for s in sizes} == sizes
    with pytest.raises(ValueError, match='size >= 1'):
        padded_grid_size(0)


@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('hw', [(1, 1), (2, 3), (5, 5), (17, 33), (38, 63),
                                (70, 130)])
def test_grid_sample_sampler_is_exact_at_integer_positions(
        hw, dtype, interpolation):
    """Whatever the padding, integer flows give the gather sampler's bits."""
    h, w = hw
    gen = torch.Generator().manual_seed(h * w)
    feat = torch.randn(2, 3, h, w, generator=gen, dtype=dtype)
    disp = torch.randint(-6, 7, (2, 2, h, w), generator=gen).to(dtype)
    base = make_base_grid(h, w, dtype=dtype)
    out = warp_by_displacement(feat, disp, base, interpolation, 'grid_sample')
    assert torch.equal(
        out, warp_by_displacement(feat, disp, base, interpolation, 'gather'))
    # every output cell is one input cell or zero
    idx_x = base[0, 0].long() + disp[:, 0].long()
    idx_y = base[0, 1].long() + disp[:, 1].long()
    inside = (idx_x >= 0) & (idx_x < w) & (idx_y >= 0) & (idx_y < h)
    batch = torch.arange(2).view(2, 1, 1).expand(2, h, w)
    expected = feat.permute(0, 2, 3, 1)[batch,
                                        idx_y.clamp(0, h - 1),
                                        idx_x.clamp(0, w - 1)]
    expected = expected * inside.unsqueeze(-1)
    assert torch.equal(out.permute(0, 2, 3, 1), expected)


@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-5),
                                       (torch.float64, 1e-12)])
def test_samplers_agree_on_fractional_flows(interpolation, dtype, tol):
    """Values and gradients, on a map the size of R-101's at 600x1000.

    They differ by the rounding of the coordinates, relative to the largest
    value of each tensor.
    """
    h, w = 38, 63
    gen = torch.Generator().manual_seed(3)
    feat = torch.randn(1, 4, h, w, generator=gen, dtype=dtype)
    disp = torch.randn(1, 2, h, w, generator=gen, dtype=dtype) * 5
    base = make_base_grid(h, w, dtype=dtype)
    results = {}
    for sampler in WARP_SAMPLERS:
        feat_s = feat.clone().requires_grad_()
        disp_s = disp.clone().requires_grad_()
        out = warp_by_displacement(feat_s, disp_s, base, interpolation,
                                   sampler)
        out.square().sum().backward()
        results[sampler] = (out, feat_s.grad, disp_s.grad)
    for by_grid, by_gather in zip(results['grid_sample'], results['gather']):
        error = (by_grid - by_gather).abs().max()
        assert error <= tol * by_gather.abs().max()


@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-5),
                                       (torch.float64, 1e-12)])
def test_folding_the_channels_into_the_batch_changes_no_output(
        interpolation, dtype, tol):
    """The grid_sample sampler's two layouts: on the CPU the same outputs,
    bit for bit in float32 (float64's bicubic kernel may round the last bit
    otherwise), gradients within rounding (the coordinates' gradient is
    summed over the channels in another order)."""
    gen = torch.Generator().manual_seed(5)
    feat = torch.randn(2, 6, 9, 14, generator=gen, dtype=dtype)
    coords = make_base_grid(
        9, 14, dtype=dtype) + torch.randn(
            2, 2, 9, 14, generator=gen, dtype=dtype) * 3
    results = []
    for fold_channels in (False, True):
        feat_s = feat.clone().requires_grad_()
        coords_s = coords.clone().requires_grad_()
        out = sample_by_grid_sample(feat_s, coords_s, interpolation,
                                    fold_channels)
        out.square().sum().backward()
        results.append((out, feat_s.grad, coords_s.grad))
    (out, *grads), (folded_out, *folded_grads) = results
    assert out.shape == folded_out.shape == feat.shape
    assert torch.equal(folded_out, out) or dtype == torch.float64
    for grad, folded_grad in zip([out] + grads, [folded_out] + folded_grads):
        assert (folded_grad - grad).abs().max() <= tol * grad.abs().max()


def test_grid_sample_folds_the_channels_but_for_bilinear_on_cuda():
    cuda, cpu = torch.device('cuda'), torch.device('cpu')  # no GPU needed
    assert not grid_sample_folds_channels(cuda, 'bilinear')
    assert grid_sample_folds_channels(cuda, 'bicubic')
    for interpolation in WARP_INTERPOLATIONS:
        assert grid_sample_folds_channels(cpu, interpolation)


@samplers
@pytest.mark.parametrize('half', [torch.float16, torch.bfloat16])
def test_half_precision_features_keep_their_dtype(half, sampler):
    feat = torch.randn(1, 3, 6, 9)
    disp = torch.rand(1, 2, 6, 9) * 4 - 2
    base = make_base_grid(6, 9)
    out = warp_by_displacement(feat.to(half), disp, base, sampler=sampler)
    assert out.dtype == half
    reference = warp_by_displacement(feat, disp, base, sampler='gather')
    assert torch.allclose(out.float(), reference, atol=0.05)


def test_auto_sampler_is_grid_sample_on_cuda_and_gather_elsewhere():
    cuda, cpu = torch.device('cuda'), torch.device('cpu')  # no GPU needed
    assert resolve_sampler('auto', cuda, needs_grad=True) == 'grid_sample'
    assert resolve_sampler('auto', cpu, needs_grad=False) == 'gather'
    for sampler in WARP_SAMPLERS:
        assert resolve_sampler(sampler, cpu, needs_grad=True) == sampler
    with pytest.raises(ValueError, match='sampler'):
        resolve_sampler('nearest', cpu, needs_grad=False)
    # on the CPU 'auto' is the gather sampler, bit for bit
    feat, disp = torch.randn(1, 3, 6, 9), torch.randn(1, 2, 6, 9) * 2
    base = make_base_grid(6, 9)
    assert torch.equal(
        warp_by_displacement(feat, disp, base),
        warp_by_displacement(feat, disp, base, sampler='gather'))


def test_auto_sampler_gathers_in_deterministic_cuda_training(
        deterministic_algorithms):
    cuda = torch.device('cuda')
    assert resolve_sampler('auto', cuda, needs_grad=True) == 'gather'
    assert resolve_sampler('auto', cuda, needs_grad=False) == 'grid_sample'


def test_grid_sample_refuses_deterministic_cuda_training(
        deterministic_algorithms):
    cuda = torch.device('cuda')  # the check needs no GPU
    with pytest.raises(RuntimeError, match="sampler='gather'"):
        check_deterministic_backward(cuda, needs_grad=True)
    check_deterministic_backward(cuda, needs_grad=False)
    check_deterministic_backward(torch.device('cpu'), needs_grad=True)
    torch.use_deterministic_algorithms(True, warn_only=True)
    check_deterministic_backward(cuda, needs_grad=True)


def test_grid_sample_check_is_off_without_deterministic_algorithms():
    if torch.are_deterministic_algorithms_enabled():
        pytest.fail('deterministic algorithms left on by another test')
    check_deterministic_backward(torch.device('cuda'), needs_grad=True)


def test_unknown_sampler_is_refused():
    with pytest.raises(ValueError, match='sampler'):
        warp_by_displacement(
            torch.zeros(1, 2, 4, 5),
            torch.zeros(1, 2, 4, 5),
            make_base_grid(4, 5),
            sampler='nearest')


@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_cuda_grid_sample_is_exact_at_integer_positions(
        interpolation, cuda_device):
    """CUDA's grid_sample unnormalises with its own formula: still exact."""
    gen = torch.Generator().manual_seed(7)
    feat = torch.randn(2, 5, 38, 63, generator=gen)
    disp = torch.randint(-6, 7, (2, 2, 38, 63), generator=gen).float()
    expected = warp_by_displacement(feat, disp, make_base_grid(38, 63),
                                    interpolation, 'gather')
    out = warp_by_displacement(
        feat.to(cuda_device), disp.to(cuda_device),
        make_base_grid(38, 63, device=cuda_device), interpolation,
        'grid_sample')
    assert torch.equal(out.cpu(), expected)


def test_memory_format_of_tells_nhwc_from_nchw():
    feat = torch.randn(2, 5, 4, 6)
    assert memory_format_of(feat) == torch.contiguous_format
    nhwc = feat.contiguous(memory_format=torch.channels_last)
    assert memory_format_of(nhwc) == torch.channels_last
    # one channel: both layouts at once, taken as the plain one
    one_channel = torch.randn(2, 1, 4, 6)
    assert one_channel.is_contiguous(memory_format=torch.channels_last)
    assert memory_format_of(one_channel) == torch.contiguous_format


@pytest.mark.parametrize('interpolation', WARP_INTERPOLATIONS)
@samplers
def test_warp_keeps_the_memory_format(sampler, interpolation):
    """A channels-last map (after channels-last convolutions) comes out
    channels-last, with the values and gradients of the plain map."""
    gen = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 6, 7, 9, generator=gen)
    disp = torch.randn(2, 2, 7, 9, generator=gen) * 2
    base = make_base_grid(7, 9)
    nhwc = feat.contiguous(memory_format=torch.channels_last)
    feat.requires_grad_(True)
    nhwc.requires_grad_(True)
    out = warp_by_displacement(feat, disp, base, interpolation, sampler)
    out_nhwc = warp_by_displacement(nhwc, disp, base, interpolation, sampler)
    assert out.is_contiguous()
    assert out_nhwc.is_contiguous(memory_format=torch.channels_last)
    assert not out_nhwc.is_contiguous()
    assert torch.equal(out_nhwc, out)
    weight = torch.randn(out.shape, generator=gen)
    (out * weight).sum().backward()
    (out_nhwc * weight).sum().backward()
    assert torch.allclose(nhwc.grad, feat.grad, rtol=1e-6, atol=1e-6)


def test_scale_flow_matches_a_scale_tensor_bit_for_bit():
    """Python factors give the products of a (1, 2, 1, 1) float32 tensor
    (which a CUDA device would receive by a synchronous copy)."""
    flow = torch.randn(2, 2, 5, 7, requires_grad=True)
    x_scale, y_scale = 63 / 1000, 38 / 600
    expected = flow * flow.new_tensor([x_scale, y_scale]).view(1, 2, 1, 1)
    scaled = scale_flow_(flow * 1, x_scale, y_scale)
    assert torch.equal(scaled, expected)
    grad = torch.randn_like(expected)
    expected_grad, = torch.autograd.grad(expected, flow, grad)
    scaled_grad, = torch.autograd.grad(scaled, flow, grad)
    assert torch.equal(scaled_grad, expected_grad)
    channels_last = flow.detach().to(memory_format=torch.channels_last)
    assert scale_flow_(channels_last, 2.0,
                       3.0).is_contiguous(memory_format=torch.channels_last)
