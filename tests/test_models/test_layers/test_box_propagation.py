# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch

from memvid_mm.models.layers import mean_flow_in_boxes, propagate_boxes


def ramp_flow(height=6, width=8):
    """dx = x (the column), dy = 10 * y (the row)."""
    flow = torch.zeros(2, height, width)
    flow[0] = torch.arange(float(width))
    flow[1] = 10 * torch.arange(float(height))[:, None]
    return flow


def test_mean_is_over_the_pixels_whose_centres_are_inside():
    flow = ramp_flow()
    boxes = torch.tensor([
        [0.0, 0.0, 8.0, 6.0],  # the whole image
        [2.0, 1.0, 4.0, 3.0],  # columns 2-3, rows 1-2
        [1.6, 0.4, 3.6, 1.6],  # columns 2-3 and rows 0-1 have centres in it
        [-5.0, -5.0, 1.0, 1.0],  # clipped: column 0, row 0
    ])
    out = mean_flow_in_boxes(flow, boxes)
    expected = torch.tensor([[3.5, 25.0], [2.5, 15.0], [2.5, 5.0], [0.0, 0.0]])
    assert torch.allclose(out, expected)


def test_a_box_between_pixel_centres_takes_the_nearest_pixel():
    flow = ramp_flow()
    out = mean_flow_in_boxes(
        flow, torch.tensor([[3.1, 2.1, 3.3, 2.2], [20.0, 20.0, 30.0, 30.0]]))
    # the centre (3.2, 2.15) is in pixel (3, 2); far outside: the corner
    assert torch.allclose(out, torch.tensor([[3.0, 20.0], [7.0, 50.0]]))


def test_boxes_move_against_the_backward_flow():
    """Content of frame t at p was at p - 2 in frame e: moved right by 2."""
    flow = torch.full((2, 6, 8), -2.0)
    flow[1] = 1.0
    boxes = torch.tensor([[1.0, 1.0, 3.0, 4.0]])
    assert torch.equal(
        propagate_boxes(boxes, flow), torch.tensor([[3.0, 0.0, 5.0, 3.0]]))
    assert propagate_boxes(boxes[:0], flow).shape == (0, 4)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r'flow must be \(2, H, W\)'):
        mean_flow_in_boxes(torch.zeros(1, 2, 6, 8), torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r'boxes must be \(n, 4\)'):
        mean_flow_in_boxes(torch.zeros(2, 6, 8), torch.zeros(4))


def test_a_nan_box_gets_a_nan_shift_and_leaves_the_others():
    """A NaN coordinate, cast to an index, read out of range (on CUDA a
    device-side assert that stops the process)."""
    flow = torch.ones(2, 6, 8)
    inf = float('inf')
    boxes = torch.tensor([[1., 1., 4., 4.], [float('nan'), 1., 4., 4.],
                          [0., 0., inf, 3.], [-inf, 3., inf, 3.],
                          [-inf, 0., inf, 3.]])
    means = mean_flow_in_boxes(flow, boxes)
    assert torch.equal(means[[0, 2, 4]], torch.ones(3, 2))
    # a flat box from -inf to inf: its centre, which it reads, is NaN
    assert torch.isnan(means[[1, 3]]).all()
    moved = propagate_boxes(boxes, flow)
    assert torch.isnan(moved[1]).all()
    assert torch.equal(moved[0], boxes[0] - 1)
