# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch

from memvid_mm.models.layers import (compose_flows, extrapolate_flow,
                                     extrapolated_anchor_flows,
                                     flow_acceleration, make_base_grid)


def uniform_flow(dx, dy=0.0, size=(6, 8)):
    flow = torch.zeros(1, 2, *size)
    flow[:, 0], flow[:, 1] = dx, dy
    return flow


def test_constant_velocity_extrapolates_linearly():
    velocity = uniform_flow(-2.0, 1.0)
    for steps in (1, 2, 5):
        out = extrapolate_flow(velocity, torch.zeros_like(velocity), steps)
        assert torch.equal(out, velocity * steps)


def test_constant_acceleration_sums_the_growing_steps():
    """Forward motion 1, 2 px per frame: the next ones are 3, 4, so the
    content of frame t+2 was 7 px back in frame t."""
    velocity, previous = uniform_flow(-2.0), uniform_flow(-1.0)
    acceleration = flow_acceleration(velocity, previous)
    # a uniform field: sampled at p - 2 it is -1 wherever that is inside
    assert torch.equal(acceleration[0, 0, :, 2:], torch.full((6, 6), -1.0))
    out = extrapolate_flow(velocity, acceleration, 2)
    assert torch.equal(out[0, 0, :, 2:], torch.full((6, 6), -7.0))
    assert torch.equal(out[0, 1], torch.zeros(6, 8))


def test_acceleration_aligns_the_earlier_flow_bilinearly():
    """b(p) = v(p) - D_prev(p + v(p)); outside the image D_prev reads 0."""
    velocity = uniform_flow(1.5)
    previous = torch.zeros(1, 2, 6, 8)
    previous[:, 0] = torch.arange(8.0)  # dx grows along x
    out = flow_acceleration(velocity, previous)
    x = torch.arange(8.0)
    sampled = torch.where(x + 1.5 <= 7, x + 1.5, torch.zeros(8))
    sampled[6] = 0.5 * 7  # x = 7.5: half of column 7, half outside
    expected = 1.5 - sampled
    assert torch.allclose(out[0, 0], expected.expand(6, 8))
    assert torch.equal(out[0, 1], torch.zeros(6, 8))


def test_compose_follows_the_first_flow_then_the_second():
    first = uniform_flow(2.0)
    second = torch.zeros(1, 2, 6, 8)
    second[:, 1] = torch.arange(8.0)  # dy depends on x
    out = compose_flows(first, second)
    assert torch.equal(out[0, 0], torch.full((6, 8), 2.0))
    x = torch.arange(8.0)
    expected_dy = torch.where(x + 2 <= 7, x + 2, torch.zeros(8))
    assert torch.equal(out[0, 1], expected_dy.expand(6, 8))


def test_a_given_image_grid_gives_the_flows_of_a_grid_built_per_call():
    torch.manual_seed(0)
    first, second = torch.randn(2, 1, 2, 6, 8) * 3
    grid = make_base_grid(6, 8)
    assert torch.equal(
        compose_flows(first, second, grid), compose_flows(first, second))
    assert torch.equal(
        flow_acceleration(first, second, grid),
        flow_acceleration(first, second))
    flows = extrapolated_anchor_flows(first, 8, {4: second}, [8, 4], grid)
    assert torch.equal(flows[4], compose_flows(first, second))
    with pytest.raises(ValueError, match='base_grid must have shape'):
        compose_flows(first, second, make_base_grid(8, 6))


def test_anchor_flows_compose_with_the_older_anchors():
    to_evidence = uniform_flow(-1.0)
    older = uniform_flow(-3.0)
    flows = extrapolated_anchor_flows(to_evidence, 8, {4: older}, [8, 8, 4])
    assert sorted(flows) == [4, 8]
    assert flows[8] is to_evidence
    assert torch.equal(flows[4][0, 0, :, 4:], torch.full((6, 4), -4.0))
    with pytest.raises(
            ValueError,
            match='to anchor frame 0; the flows known'
            r' are to \[4\]'):
        extrapolated_anchor_flows(to_evidence, 8, {4: older}, [8, 0])


@pytest.mark.parametrize('steps', [0, -1, 1.5, True])
def test_steps_must_be_a_positive_int(steps):
    flow = uniform_flow(1.0)
    with pytest.raises(ValueError, match='steps must be an int >= 1'):
        extrapolate_flow(flow, flow, steps)


def test_flows_of_other_shapes_are_refused():
    with pytest.raises(ValueError, match='the flows must have one shape'):
        flow_acceleration(uniform_flow(1.0), uniform_flow(1.0, size=(6, 9)))
    with pytest.raises(ValueError, match=r'velocity must be a flow'):
        extrapolate_flow(torch.zeros(1, 3, 6, 8), torch.zeros(1, 3, 6, 8), 1)
