# Copyright (c) memvid_mm contributors. All rights reserved.
"""Position-sensitive RoI (average) pooling in pure PyTorch.

Shape shorthand: B images, C = C_out * kh * kw input channels, H/W map
size, K RoIs, kh/kw bins along y/x.

Rules (those of torchvision's ``ps_roi_pool`` CPU and CUDA kernels):

* RoI corners are rounded half away from zero (C ``round``):
  ``start = round(box_x1 * spatial_scale)``, ``end = round(box_x2 *
  spatial_scale)``; ``roi_w = max(end - start, 1)``; ``bin_w = roi_w /
  kw`` (float); likewise for y.
* Bin ``j`` covers cells ``[x0, x1)`` with ``x0 = floor(j * bin_w) +
  start`` and ``x1 = ceil((j + 1) * bin_w) + start``, each clipped to
  ``[0, W - 1]`` (sic: so the last column and row of the map are never
  covered, as in torchvision).
* Output channel ``c`` of bin ``(i, j)`` reads input channel
  ``c * kh * kw + i * kw + j`` and is the *mean* over the bin's cells;
  an empty bin gives 0.

Implementation (no Python loop over RoIs, bins, channels or cells): the
sum over a bin's integer rectangle is read from a summed-area table of the
input (float64 accumulation on CPU/CUDA, float32 for half inputs) as
``T[y1, x1] - T[y0, x1] - T[y1, x0] + T[y0, x0]``, i.e. 4 gathered values
per output element whatever the bin size, with one flat ``index_select``
(see :func:`~memvid_mm.ops.roi_utils.ps_gather_sum`). Autograd
differentiates the gather and the cumulative sums, which is the exact
gradient of the bin mean. RoIs are processed in chunks of at most
``MAX_GATHER_ELEMENTS`` gathered values. Box coordinates receive no
gradient.

The forward equals torchvision's (checked to 1e-15 in float64 on random
RoIs, many partly outside the map). torchvision's own backward of this op
disagrees with its forward for RoIs reaching past the bottom/right border
(its ``gradcheck`` fails there); the gradient here is that of the forward.
"""
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .deterministic import cumsum_last_two
from .roi_utils import (BoxesType, check_input, check_roi_values,
                        chunked_ps_gather_sum, convert_boxes_to_rois,
                        coord_dtype, host_ints, pair_output_size)


def round_half_away(x: Tensor) -> Tensor:
    """Round like C's ``round``: halves go away from zero.

    Args:
        x (Tensor): Floating-point values, any shape.

    Returns:
        Tensor: ``x`` rounded to whole numbers, same shape and dtype.
    """
    whole = x.trunc()
    frac = x - whole
    return whole + torch.where(frac.abs() >= 0.5, x.sign(),
                               torch.zeros_like(x))


def pool_bin_edges(start: Tensor, bin_size: Tensor, num_bins: int,
                   size: int) -> Tuple[Tensor, Tensor]:
    """First and one-past-last cell of every bin along one axis.

    Args:
        start (Tensor): ``(K,)`` long, rounded RoI start.
        bin_size (Tensor): ``(K,)`` float bin size.
        num_bins (int): Bins along this axis (kh or kw).
        size (int): Map size along this axis (H or W).

    Returns:
        tuple[Tensor, Tensor]: ``bin_start (K, num_bins)`` and ``bin_end
        (K, num_bins)`` long, clipped to ``[0, size - 1]``.
    """
    bins = torch.arange(num_bins, device=start.device, dtype=bin_size.dtype)
    # [K, num_bins]
    lo = (bins[None] * bin_size[:, None]).floor().long() + start[:, None]
    hi = ((bins[None] + 1) * bin_size[:, None]).ceil().long() + \
        start[:, None]  # [K, num_bins]
    return lo.clamp(0, size - 1), hi.clamp(0, size - 1)


def summed_area_table(input: Tensor) -> Tensor:
    """Integral image with a leading zero row and column.

    Accumulates in float64 where the device has it (float32 for half
    inputs and on devices without float64), so box sums taken as
    differences of table entries keep float32 accuracy.

    Args:
        input (Tensor): ``(B, C, H, W)``.

    Returns:
        Tensor: ``(B, C, H + 1, W + 1)``, entry ``[y, x]`` is the sum of
        ``input[..., :y, :x]``.
    """
    wide = input.dtype in (torch.float32, torch.float64) and \
        input.device.type in ('cpu', 'cuda')
    table = input.to(torch.float64 if wide else torch.float32)
    table = cumsum_last_two(table)  # deterministic on CUDA if it must be
    return F.pad(table, (1, 0, 1, 0))  # [B, C, H + 1, W + 1]


def pool_corner_grid(y_start: Tensor, y_end: Tensor, x_start: Tensor,
                     x_end: Tensor, table_width: int,
                     dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    """Summed-area-table corners and weights giving each bin's mean.

    Args:
        y_start (Tensor): ``(K, kh)`` first row of each bin; ``y_end`` one
            past its last row (``>= y_start``). ``x_start``/``x_end``:
            ``(K, kw)``.
        table_width (int): ``W + 1``.
        dtype (torch.dtype): Dtype of the weights.

    Returns:
        tuple[Tensor, Tensor]: ``offsets (K, kh, kw, 4)`` into the
        flattened table and ``weights (K, kh, kw, 4)``,
        ``(+1, -1, -1, +1) / area`` (0 for an empty bin).
    """
    num_rois, kh = y_start.shape
    kw = x_start.size(1)
    ys = torch.stack([y_end, y_start, y_end, y_start], -1)  # [K, kh, 4]
    xs = torch.stack([x_end, x_end, x_start, x_start], -1)  # [K, kw, 4]
    offsets = ys.view(num_rois, kh, 1, 4) * table_width + xs.view(
        num_rois, 1, kw, 4)  # [K, kh, kw, 4]
    area = (y_end - y_start).view(num_rois, kh, 1) * (x_end - x_start).view(
        num_rois, 1, kw)  # [K, kh, kw]
    signs = torch.tensor([1., -1., -1., 1.],
                         device=y_start.device,
                         dtype=dtype)
    weights = torch.where(area[..., None] > 0,
                          signs / area.clamp(min=1).to(dtype)[..., None],
                          torch.zeros_like(signs))  # [K, kh, kw, 4]
    return offsets, weights


def ps_roi_pool(input: Tensor,
                boxes: BoxesType,
                output_size: Union[int, Sequence[int]],
                spatial_scale: float = 1.0) -> Tensor:
    """Position-sensitive RoI average pooling, torchvision's semantics.

    Args:
        input (Tensor): ``(B, C_out * kh * kw, H, W)`` score maps, any
            floating dtype and device.
        boxes (Tensor | list[Tensor]): ``(K, 5)`` rows
            ``[batch_idx, x1, y1, x2, y2]`` or a list with one ``(L, 4)``
            tensor per image, in input image coordinates.
        output_size (int | tuple[int, int]): ``k`` or ``(kh, kw)`` bins.
        spatial_scale (float): Map size / image size, e.g. 1/16.
            Defaults to 1.0.

    Returns:
        Tensor: ``(K, C_out, kh, kw)`` pooled values.
    """
    kh, kw = pair_output_size(output_size)
    check_input(input, kh, kw)
    rois = convert_boxes_to_rois(boxes, input)
    num_images, _, height, width = input.shape
    dtype = coord_dtype(input)
    rois = rois.to(dtype)
    batch_inds = rois[:, 0].long()  # [K]
    corners = round_half_away(rois[:, 1:] * spatial_scale).long()  # [K, 4]
    roi_size = (corners[:, 2:] - corners[:, :2]).clamp(min=1)  # [K, 2]
    # [K, 2] (x, y)
    bin_size = roi_size.to(dtype) / roi_size.new_tensor([kw, kh]).to(dtype)
    x_start, x_end = pool_bin_edges(corners[:, 0], bin_size[:, 0], kw, width)
    y_start, y_end = pool_bin_edges(corners[:, 1], bin_size[:, 1], kh, height)
    if rois.size(0) > 0:
        finite, low, high = host_ints(
            torch.isfinite(rois).all().long(), batch_inds.min(),
            batch_inds.max())
        check_roi_values(finite, low, high, num_images)
    table = summed_area_table(input)  # [B, C, H + 1, W + 1]
    offsets, weights = pool_corner_grid(y_start, y_end, x_start, x_end,
                                        width + 1, table.dtype)
    # [K, C_out, kh, kw]
    pooled = chunked_ps_gather_sum(table, batch_inds, offsets, weights)
    return pooled.to(input.dtype)


class PSRoIPool(nn.Module):
    """Module form of :func:`ps_roi_pool` (torchvision's signature).

    Args:
        output_size (int | tuple[int, int]): ``k`` or ``(kh, kw)`` bins.
        spatial_scale (float): Map size / image size.
    """

    def __init__(self,
                 output_size: Union[int, Sequence[int]],
                 spatial_scale: float = 1.0) -> None:
        super().__init__()
        self.output_size = pair_output_size(output_size)
        self.spatial_scale = spatial_scale

    def forward(self, input: Tensor, rois: BoxesType) -> Tensor:
        """Pool position-sensitive score maps over RoIs.

        Args:
            input (Tensor): ``(B, C_out * kh * kw, H, W)`` score maps.
            rois (Tensor | list[Tensor]): ``(K, 5)`` rows
                ``[batch_idx, x1, y1, x2, y2]`` or a list with one
                ``(L, 4)`` tensor per image, in input image coordinates.

        Returns:
            Tensor: ``(K, C_out, kh, kw)`` bin means.
        """
        return ps_roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(output_size={self.output_size}, '
                f'spatial_scale={self.spatial_scale})')
