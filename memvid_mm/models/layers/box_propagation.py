# Copyright (c) memvid_mm contributors. All rights reserved.
"""Box propagation, the paper's baseline for feature propagation (Sec. 5.2).

"We compare our model with a baseline that takes the detected bounding
boxes at frame t - delta and propagates them with the computed displacement
fields to frame t. The mean displacement inside a bounding box serves as the
translational vector."

Shape shorthand: n boxes, H/W image height and width. Boxes are
``(x1, y1, x2, y2)`` in the pixels of the image the flow was computed on;
pixel ``(x, y)`` covers ``[x, x + 1) x [y, y + 1)``.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def mean_flow_in_boxes(flow: Tensor, boxes: Tensor) -> Tensor:
    """The mean of a flow over the pixels each box covers.

    A pixel counts when its centre ``(x + 0.5, y + 0.5)`` lies in the box
    (clipped to the image); a box that covers no pixel centre takes the
    pixel nearest to its centre. Computed with a summed-area table, so the
    cost does not grow with the boxes' areas. A box with a NaN coordinate,
    or one that covers no pixel centre and has a NaN centre (a flat box
    from -inf to +inf), from a detector whose outputs are not finite, gets
    a NaN mean, without reading the table out of range (which on CUDA would
    stop the process with a device-side assert) and without a host read.
    Other infinite sides are clipped to the image.

    Args:
        flow (Tensor): (2, H, W) displacement field (dx, dy) in pixels.
        boxes (Tensor): (n, 4) boxes ``(x1, y1, x2, y2)`` in pixels.

    Returns:
        Tensor: (n, 2) the mean (dx, dy) inside each box; NaN for a box
        with a NaN coordinate, or without a pixel and with a NaN centre.
    """
    if flow.dim() != 3 or flow.shape[0] != 2:
        raise ValueError(f'flow must be (2, H, W), got {tuple(flow.shape)}')
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f'boxes must be (n, 4), got {tuple(boxes.shape)}')
    height, width = flow.shape[-2:]
    # summed-area table with a zero first row and column: [2, H+1, W+1]
    table = F.pad(flow.double().cumsum(1).cumsum(2), (1, 0, 1, 0))
    # NaN would index out of range once cast to an integer
    finite = ~torch.isnan(boxes).any(dim=1)  # [n]
    boxes = boxes.double().where(finite[:, None], 0.0)
    # pixels whose centres are inside: x1 <= x + 0.5 < x2
    x1 = (boxes[:, 0] - 0.5).ceil().clamp(0, width)
    x2 = (boxes[:, 2] - 0.5).ceil().clamp(0, width)
    y1 = (boxes[:, 1] - 0.5).ceil().clamp(0, height)
    y2 = (boxes[:, 3] - 0.5).ceil().clamp(0, height)
    empty = (x2 <= x1) | (y2 <= y1)
    centre_x = ((boxes[:, 0] + boxes[:, 2]) / 2).floor().clamp(0, width - 1)
    centre_y = ((boxes[:, 1] + boxes[:, 3]) / 2).floor().clamp(0, height - 1)
    # -inf + inf: an empty box whose centre is NaN has no pixel to read
    no_centre = centre_x.isnan() | centre_y.isnan()
    finite &= ~(empty & no_centre)
    centre_x, centre_y = centre_x.nan_to_num(0.0), centre_y.nan_to_num(0.0)
    x1, x2 = x1.where(~empty, centre_x), x2.where(~empty, centre_x + 1)
    y1, y2 = y1.where(~empty, centre_y), y2.where(~empty, centre_y + 1)
    x1, x2, y1, y2 = (v.long() for v in (x1, x2, y1, y2))
    sums = (table[:, y2, x2] - table[:, y1, x2] - table[:, y2, x1] +
            table[:, y1, x1])  # [2, n]
    area = ((x2 - x1) * (y2 - y1)).double()
    means = (sums / area).t().where(finite[:, None], float('nan'))
    return means.to(flow.dtype)  # [n, 2]


def propagate_boxes(boxes: Tensor, flow: Tensor) -> Tensor:
    """Move boxes of frame e to frame t with the backward flow ``D_{t,e}``.

    The content at pixel ``p`` of frame t is at ``p + D_{t,e}(p)`` in frame
    e, so a box moves by minus the mean flow inside it (taken where the box
    is in frame e: the flow of frame t's pixels there, the paper's
    translational approximation).

    Args:
        boxes (Tensor): (n, 4) boxes of frame e, in the flow's pixels.
        flow (Tensor): (2, H, W) flow ``D_{t,e}``.

    Returns:
        Tensor: (n, 4) the boxes translated, not clipped.
    """
    shift = mean_flow_in_boxes(flow, boxes)
    return boxes - shift.repeat(1, 2)
