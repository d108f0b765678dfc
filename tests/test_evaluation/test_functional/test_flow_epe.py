# Copyright (c) memvid_mm contributors. All rights reserved.
import math
import re

import pytest
import torch
from torch import nn

from memvid_mm.evaluation.functional import flow_epe_report, moving_object_mask


def _pair(object_flow, camera_flow, degradation):
    """A 4x6 pair: camera flow everywhere, ``object_flow`` on a 2x2
    object (pixels rows 1-2, columns 1-2)."""
    flow = torch.tensor(camera_flow, dtype=torch.float32).view(2, 1, 1)
    flow = flow.repeat(1, 4, 6)
    object_mask = torch.zeros(4, 6, dtype=torch.bool)
    object_mask[1:3, 1:3] = True
    flow[:, object_mask] = torch.tensor(object_flow).view(2, 1)
    img = torch.full((3, 4, 6), 100.0)
    return dict(
        img_cur=img,
        img_prev=img,
        flow=flow,
        object_mask=object_mask,
        degradation=degradation)


class ConstantFlow(nn.Module):

    def __init__(self, flow):
        super().__init__()
        self.flow = flow

    def forward(self, img_cur, img_prev):
        return self.flow[None]


def test_moving_object_mask_is_relative_to_the_camera():
    pair = _pair((3.0, 1.0), (3.0, 0.0), 'none')
    # The object moves 1 px against the camera: moving.
    assert torch.equal(
        moving_object_mask(pair['flow'], pair['object_mask']),
        pair['object_mask'])
    # Moving with the camera (0.4 px apart): not moving.
    pair = _pair((3.0, 0.4), (3.0, 0.0), 'none')
    assert not moving_object_mask(pair['flow'], pair['object_mask']).any()


def test_flow_epe_report_by_degradation():
    pairs = [
        _pair((2.0, 0.0), (0.0, 0.0), 'none'),
        _pair((0.0, 4.0), (1.0, 0.0), 'dim'),
    ]
    zero = ConstantFlow(torch.zeros(2, 4, 6))
    zero.train()
    report = flow_epe_report(zero, pairs, (0., 0., 0.), (1., 1., 1.), 2)
    assert zero.training  # the mode is restored
    assert report['pairs'] == 2
    # Zero flow: the network's EPE equals the zero flow's.
    assert report['epe'] == pytest.approx(report['zero_flow_epe'])
    assert report['moving_epe_by_degradation'] == {
        'dim': dict(epe=4.0, zero_flow_epe=4.0, pixels=4),
        'none': dict(epe=2.0, zero_flow_epe=2.0, pixels=4)
    }
    assert report['moving_epe'] == pytest.approx(3.0)
    # The exact flow of the first pair scores 0 there.
    exact = ConstantFlow(pairs[0]['flow'])
    report = flow_epe_report(exact, pairs[:1], (0., 0., 0.), (1., 1., 1.), 1)
    assert report['epe'] == 0 and report['moving_epe'] == 0
    assert report['zero_flow_epe'] == pytest.approx(2.0 * 4 / 24)
    with pytest.raises(ValueError, match='at least one pair'):
        flow_epe_report(exact, [], (0., 0., 0.), (1., 1., 1.), 1)


@pytest.mark.parametrize('shape', [(1, 2, 1, 1), (1, 2, 4, 1), (1, 1, 4, 6),
                                   (2, 4, 6), (1, 2, 6, 4)])
def test_wrong_shaped_flow_raises_naming_the_shapes(shape):
    # (1, 2, 1, 1) and the like used to broadcast into a plausible EPE
    pairs = [_pair((2.0, 0.0), (0.0, 0.0), 'none')]
    wrong = ConstantFlow(torch.zeros(shape))
    wrong.forward = lambda img_cur, img_prev: wrong.flow  # as it is
    wrong.train()
    shapes = re.escape(f'got {shape}, (2, 4, 6) and (4, 6)')
    with pytest.raises(ValueError, match=r'pair 0: .*' + shapes):
        flow_epe_report(wrong, pairs, (0., 0., 0.), (1., 1., 1.), 1)
    assert wrong.training  # the caller's mode is back after the error


def test_object_mask_of_another_size_raises():
    pair = _pair((2.0, 0.0), (0.0, 0.0), 'none')
    pair['object_mask'] = pair['object_mask'][:, :1]  # (4, 1) broadcasts
    zero = ConstantFlow(torch.zeros(2, 4, 6))
    with pytest.raises(ValueError, match=r'\(2, 4, 6\) and \(4, 1\)'):
        flow_epe_report(zero, [pair], (0., 0., 0.), (1., 1., 1.), 1)


def test_no_moving_pixels_gives_nan_moving_epe():
    # the object moves with the camera: nothing to average, which must not
    # read as a perfect 0.0
    pairs = [_pair((1.0, 0.0), (1.0, 0.0), 'none')]
    wrong = ConstantFlow(torch.full((2, 4, 6), 5.0))
    report = flow_epe_report(wrong, pairs, (0., 0., 0.), (1., 1., 1.), 1)
    assert math.isnan(report['moving_epe'])
    assert math.isnan(report['moving_zero_flow_epe'])
    assert report['moving_epe_by_degradation'] == {}
    assert report['epe'] > 0
