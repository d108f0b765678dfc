# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from memvid_mm.models.layers.flow_warp import scale_flow_
from memvid_mm.models.motion import FlowNetSimple, multiscale_epe_loss


def test_hand_computed_two_levels_with_a_border_cell():
    """h=2, w=3, strides (2, 1), zero predictions.

    Target (2, 0) in columns 0-1 and (6, 8) in column 2. Stride 2: two
    cells, the second only half inside the image (cover 0.5, not > 0.5), so
    only the first counts: EPE 2. Stride 1: EPEs 2, 2, 10 per row, mean
    14 / 3. Loss = 1.0 * 2 + 0.5 * 14 / 3 = 13 / 3.
    """
    target = torch.zeros(1, 2, 2, 3)
    target[:, 0, :, :2] = 2.0
    target[:, 0, :, 2], target[:, 1, :, 2] = 6.0, 8.0
    raw_flows = [torch.zeros(1, 2, 1, 2), torch.zeros(1, 2, 2, 3)]
    loss = multiscale_epe_loss(raw_flows, target, torch.ones(1, 1, 2, 3),
                               (1.0, 0.5), (2, 1))
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(13 / 3, rel=1e-6)


def test_hand_computed_pixel_weights_and_level_weight():
    """One level of stride 1: EPEs (5, 0) weighted (1, 3) average to
    5 / 4, times the level weight 2."""
    target = torch.tensor([[[[3.0, 0.0]], [[4.0, 0.0]]]])  # [1, 2, 1, 2]
    pixel_weight = torch.tensor([[[[1.0, 3.0]]]])  # [1, 1, 1, 2]
    loss = multiscale_epe_loss([torch.zeros(1, 2, 1, 2)], target, pixel_weight,
                               (2.0, ), (1, ))
    assert loss.item() == pytest.approx(2.5, rel=1e-6)


def test_zero_for_the_true_flow_and_differentiable():
    target = torch.full((2, 2, 4, 4), 0.5)
    raw = [
        torch.full((2, 2, 1, 1), 0.5, requires_grad=True),
        torch.full((2, 2, 2, 2), 0.5, requires_grad=True)
    ]
    loss = multiscale_epe_loss(raw, target, torch.ones(2, 1, 4, 4), (1.0, 1.0),
                               (4, 2))
    assert loss.item() == pytest.approx(0.0, abs=1e-7)
    moved = [r.detach() + 1.0 for r in raw]
    for r in moved:
        r.requires_grad_(True)
    loss = multiscale_epe_loss(moved, target, torch.ones(2, 1, 4, 4),
                               (1.0, 1.0), (4, 2))
    loss.backward()
    assert all(r.grad is not None and r.grad.abs().sum() > 0 for r in moved)


def test_equals_the_loss_of_flownet_simple(monkeypatch):
    """FlowNetSimple.loss is this function on its raw predictions, times
    the raw-to-pixel unit, bit for bit (the same raw predictions are fed to
    both, so the check does not depend on the convolution backend)."""
    torch.manual_seed(0)
    model = FlowNetSimple(width_divisor=16, img_scale_factor=0.5)
    img_cur, img_prev = torch.randn(2, 2, 3, 70, 101)
    gt_flow = torch.randn(2, 2, 70, 101) * 5
    pixel_weight = torch.rand(2, 1, 70, 101)
    level_weights = (0.005, 0.01, 0.02, 0.08, 0.32)
    with torch.no_grad():
        x = model.network_input(img_cur, img_prev)
        raw_flows = model.predict_raw_flows(x)
    monkeypatch.setattr(model, 'predict_raw_flows', lambda _: raw_flows)
    losses = model.loss(img_cur, img_prev, gt_flow, pixel_weight,
                        level_weights)
    (h, w), (H, W) = x.shape[-2:], gt_flow.shape[-2:]
    target = F.interpolate(gt_flow, size=(h, w), mode='area')
    target = scale_flow_(target, w / W, h / H) / (model.flow_scale_factor * 4)
    weight = F.interpolate(pixel_weight, size=(h, w), mode='area')
    loss = multiscale_epe_loss(raw_flows, target, weight, level_weights,
                               model.prediction_strides)
    unit = model.flow_scale_factor * 4 / model.img_scale_factor
    assert loss.item() > 0
    assert torch.equal(losses['loss_flow'],
                       loss * unit), (losses['loss_flow'].item(),
                                      (loss * unit).item())
