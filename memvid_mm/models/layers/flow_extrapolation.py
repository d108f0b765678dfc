# Copyright (c) memvid_mm contributors. All rights reserved.
"""Flow composition and extrapolation for anticipating features (Sec. 4.3).

Shape shorthand: N batch, H/W image height and width, K memories.

All flows are *backward* image-resolution displacement fields in pixels, as
:func:`~memvid_mm.models.layers.flow_warp` takes them: ``D_{t,s}(p)`` is
the displacement from pixel ``p`` of frame t to where its content is in
frame s (the output of ``FlowNetSimple(img_t, img_s)``); channel 0 is dx,
channel 1 dy.

The paper anticipates frames after the last image (Sec. 4.3): "Given the
two previous displacement fields D_{t-1,t-2} and D_{t,t-1}, we compute the
difference of aligned displacement vectors (with bilinear sampling), which
gives us the acceleration of pixels. We then employ a simple constant
acceleration motion model to each displacement vector and extrapolate for
one or multiple frames." Here, with ``v = D_{t,t-1}`` and the acceleration
``b(p) = v(p) - D_{t-1,t-2}(p + v(p))`` (the earlier field sampled where
``p`` was in frame t-1), the displacement j frames ahead is the sum of the
j steps ``v + b, v + 2b, ..., v + jb``:

    D_{t+j,t} = j * v + j * (j + 1) / 2 * b

Each vector stays at its pixel of frame t (this module's reading of a
model applied "to each displacement vector"), so the extrapolated field
keeps frame t's layout: exact for motion that is uniform over the image
(a panning camera), while an object that moves further than its own size
leaves the region where its displacement is written. The paper calls the
technique simple and limited; so is this one.
"""
from typing import Dict, Hashable, Iterable, Optional

from torch import Tensor

from ...utils.argument_checks import is_int
from .flow_warp import flow_warp


def _check_same_flow_shapes(**flows: Tensor) -> None:
    """Raise a ValueError unless every flow is (N, 2, H, W) of one shape."""
    shapes = {name: tuple(flow.shape) for name, flow in flows.items()}
    for name, shape in shapes.items():
        if len(shape) != 4 or shape[1] != 2:
            raise ValueError(f'{name} must be a flow (N, 2, H, W), got '
                             f'{shape}')
    if len(set(shapes.values())) > 1:
        raise ValueError(f'the flows must have one shape, got {shapes}')


def compose_flows(flow_ab: Tensor,
                  flow_bc: Tensor,
                  base_grid: Optional[Tensor] = None) -> Tensor:
    """The backward flow from frame a to frame c through frame b.

    ``D_ac(p) = D_ab(p) + D_bc(p + D_ab(p))``: follow ``p`` to frame b,
    then on to frame c from there (bilinear sampling of ``D_bc``; zeros
    outside the image, so a pixel that leaves the image through frame b
    keeps only ``D_ab``).

    Args:
        flow_ab (Tensor): (N, 2, H, W) flow from frame a to frame b.
        flow_bc (Tensor): (N, 2, H, W) flow from frame b to frame c.
        base_grid (Tensor, optional): (1, 2, H, W) identity grid of the
            image (``FlowWarp.base_grid`` keeps one per shape). Defaults
            to None (built for this call).

    Returns:
        Tensor: (N, 2, H, W) flow from frame a to frame c.
    """
    _check_same_flow_shapes(flow_ab=flow_ab, flow_bc=flow_bc)
    return flow_ab + flow_warp(flow_bc, flow_ab, base_grid=base_grid)


def flow_acceleration(flow: Tensor,
                      previous_flow: Tensor,
                      base_grid: Optional[Tensor] = None) -> Tensor:
    """Per-pixel acceleration of the backward displacement (Sec. 4.3).

    Args:
        flow (Tensor): (N, 2, H, W) ``D_{t,t-1}``.
        previous_flow (Tensor): (N, 2, H, W) ``D_{t-1,t-2}``.
        base_grid (Tensor, optional): (1, 2, H, W) identity grid of the
            image. Defaults to None (built for this call).

    Returns:
        Tensor: (N, 2, H, W) ``b(p) = D_{t,t-1}(p) - D_{t-1,t-2}(p +
        D_{t,t-1}(p))``, the change of the one-frame displacement at
        frame t's pixel ``p``: zero for a constant velocity, except where
        ``p + D_{t,t-1}(p)`` lies outside the image, where the earlier
        field reads as zeros and ``b = v`` (such a pixel's extrapolated
        position is outside the image either way).
    """
    _check_same_flow_shapes(flow=flow, previous_flow=previous_flow)
    return flow - flow_warp(previous_flow, flow, base_grid=base_grid)


def extrapolate_flow(velocity: Tensor, acceleration: Tensor,
                     steps: int) -> Tensor:
    """Backward flow from ``steps`` frames ahead to frame t, extrapolated.

    Args:
        velocity (Tensor): (N, 2, H, W) ``D_{t,t-1}``.
        acceleration (Tensor): (N, 2, H, W) :func:`flow_acceleration` at
            frame t.
        steps (int): j >= 1, how many frames after frame t.

    Returns:
        Tensor: (N, 2, H, W) ``D_{t+j,t} = j * v + j * (j + 1) / 2 * b``,
        on frame t's pixels (see the module docstring).
    """
    if not is_int(steps) or steps < 1:
        raise ValueError(f'steps must be an int >= 1, got {steps!r}')
    _check_same_flow_shapes(velocity=velocity, acceleration=acceleration)
    return steps * velocity + (steps * (steps + 1) / 2) * acceleration


def extrapolated_anchor_flows(
        flow_to_evidence: Tensor,
        evidence_frame_id: int,
        anchor_flows: Dict[Hashable, Tensor],
        anchor_frame_ids: Iterable[int],
        base_grid: Optional[Tensor] = None) -> Dict[Hashable, Tensor]:
    """Flows from an anticipated frame to every memory's anchor frame.

    A memory anchored at the last evidence frame e is warped with the
    extrapolated flow ``D_{t,e}``; one anchored at an earlier frame a (a
    ClockNet memory of a longer stride) with ``D_{t,e}`` composed with the
    flow ``D_{e,a}`` that FlowNet gave at frame e.

    Args:
        flow_to_evidence (Tensor): (N, 2, H, W) extrapolated ``D_{t,e}``.
        evidence_frame_id (int): e.
        anchor_flows (dict): ``{a: D_{e,a}}`` for every anchor a != e.
        anchor_frame_ids (Iterable[int]): The K memories' anchor frames.
        base_grid (Tensor, optional): (1, 2, H, W) identity grid of the
            image, for :func:`compose_flows`. Defaults to None (built per
            composition).

    Returns:
        dict: One (N, 2, H, W) flow per distinct anchor frame.

    Raises:
        ValueError: When an anchor other than e has no flow from frame e.
    """
    flows = {}
    for anchor_id in anchor_frame_ids:
        if anchor_id in flows:
            continue
        if anchor_id == evidence_frame_id:
            flows[anchor_id] = flow_to_evidence
        elif anchor_id in anchor_flows:
            flows[anchor_id] = compose_flows(flow_to_evidence,
                                             anchor_flows[anchor_id],
                                             base_grid)
        else:
            raise ValueError(
                f'no flow from the last evidence frame {evidence_frame_id} '
                f'to anchor frame {anchor_id}; the flows known are to '
                f'{sorted(anchor_flows)}')
    return flows
