# Copyright (c) memvid_mm contributors. All rights reserved.
"""Position-sensitive RoI Align in pure PyTorch (torchvision compatible).

Shape shorthand: B images, C = C_out * kh * kw input channels, H/W map
size, K RoIs, kh/kw bins along y/x, Gh/Gw the largest sampling grid of a
bin over all RoIs along y/x.

Rules (those of torchvision's ``ps_roi_align`` CPU and CUDA kernels, which
always use the half-pixel offset, i.e. ``aligned=True`` of ``roi_align``):

* RoI in map coordinates: ``start = box * spatial_scale - 0.5`` and
  ``end = box * spatial_scale - 0.5`` for ``(x1, y1)`` and ``(x2, y2)``;
  ``roi_h = end_y - start_y`` with *no* minimum size;
  ``bin_h = roi_h / kh`` (likewise for x).
* Sampling grid of every bin of a RoI:
  ``grid_h = sampling_ratio if sampling_ratio > 0 else ceil(roi_h / kh)``.
* Bin ``(i, j)``, sample ``(iy, ix)`` lies at
  ``y = start_y + i * bin_h + (iy + 0.5) * bin_h / grid_h`` and likewise
  for x.
* Bilinear interpolation: a sample with ``y < -1`` or ``y > H`` (or the
  same for x) is 0; otherwise ``y`` is clamped to ``>= 0``; if
  ``floor(y) >= H - 1`` both neighbours are row ``H - 1`` (the value is
  the border row), else rows ``floor(y)`` and ``floor(y) + 1`` with
  weights ``1 - frac(y)`` and ``frac(y)``.
* Output channel ``c`` of bin ``(i, j)`` reads input channel
  ``c * kh * kw + i * kw + j``; the bin value is the sum of its samples
  divided by ``grid_h * grid_w``.

Deviations from torchvision, only in corner cases: a RoI with an empty
adaptive grid (``ceil(roi_h / kh) == 0``, i.e. ``-kh < roi_h <= 0``, with
``sampling_ratio <= 0``) gives 0 where torchvision divides 0 by 0 (NaN);
float16/bfloat16 inputs get their sample coordinates and bilinear weights
computed in float32 (torchvision's CUDA kernel computes them in half
precision); the weights are then rounded to the input's dtype, and the
weighted sum runs in it. Box coordinates receive no gradient.

Implementation (no Python loop over RoIs, bins, channels or samples):
every bin uses the largest grid ``Gh x Gw`` of all RoIs and zero weights
mask the samples beyond a RoI's own grid; the 4 neighbours of every sample
are read with one flat ``index_select`` (``S = 4 * Gh * Gw`` values per
output element) and summed against their bilinear weights divided by
``grid_h * grid_w``. Autograd differentiates the gather (``index_add`` in
backward) and keeps the flat index, 4 bytes per gathered value. RoIs are
processed in chunks of at most ``MAX_GATHER_ELEMENTS`` gathered values, so
the transient memory of a call is bounded whatever the number of RoIs.
"""
from typing import Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .roi_utils import (BoxesType, check_input, check_roi_values,
                        chunked_ps_gather_sum, convert_boxes_to_rois,
                        coord_dtype, host_ints, pair_output_size)


def bilinear_axis_weights(start: Tensor, bin_size: Tensor, grid: Tensor,
                          num_bins: int, max_grid: int,
                          size: int) -> Tuple[Tensor, Tensor]:
    """Neighbour indices and weights of the samples along one axis.

    Args:
        start (Tensor): ``(K,)`` RoI start in map coordinates.
        bin_size (Tensor): ``(K,)`` bin size.
        grid (Tensor): ``(K,)`` long, samples per bin (may be <= 0).
        num_bins (int): Bins along this axis (kh or kw).
        max_grid (int): ``G``, samples per bin materialised (>= 1).
        size (int): Map size along this axis (H or W).

    Returns:
        tuple[Tensor, Tensor]: ``index (K, num_bins, G, 2)`` long, the low
        and high neighbour, and ``weight (K, num_bins, G, 2)``, zero for
        samples beyond the RoI's grid or outside ``[-1, size]``.
    """
    dtype = start.dtype
    bins = torch.arange(num_bins, device=start.device, dtype=dtype)
    samples = torch.arange(max_grid, device=start.device, dtype=dtype)
    start, bin_size = start[:, None, None], bin_size[:, None, None]
    grid = grid[:, None, None]  # [K, 1, 1], as start and bin_size
    bin_start = bins[None, :, None] * bin_size + start  # [K, nb, 1]
    pos = bin_start + (samples[None, None, :] + 0.5) * bin_size / \
        grid.clamp(min=1).to(dtype)  # [K, nb, G]
    valid = (samples[None, None, :] < grid) & (pos >= -1) & (pos <= size)
    pos = pos.clamp(min=0, max=size)
    low = pos.floor().long()
    at_end = low >= size - 1
    low = torch.where(at_end, torch.full_like(low, size - 1), low)
    high = torch.where(at_end, low, low + 1)
    pos = torch.where(at_end, low.to(dtype), pos)
    frac = pos - low.to(dtype)
    weight = torch.stack([1 - frac, frac], dim=-1)  # [K, nb, G, 2]
    weight = torch.where(valid[..., None], weight, torch.zeros_like(weight))
    return torch.stack([low, high], dim=-1), weight


def align_sample_grid(y_index: Tensor, y_weight: Tensor, x_index: Tensor,
                      x_weight: Tensor, width: int) -> Tuple[Tensor, Tensor]:
    """Combine per-axis neighbours into flat cell offsets and weights.

    Args:
        y_index (Tensor): ``(K, kh, Gh, 2)`` rows; ``y_weight`` likewise.
        x_index (Tensor): ``(K, kw, Gw, 2)`` columns; ``x_weight`` likewise.
        width (int): ``W``.

    Returns:
        tuple[Tensor, Tensor]: ``offsets (K, kh, kw, S)`` (``y * W + x``)
        and ``weights (K, kh, kw, S)`` with ``S = Gh * 2 * Gw * 2``.
    """
    num_rois, kh, max_gh, _ = y_index.shape
    kw, max_gw = x_index.shape[1:3]
    # [K, kh, kw, Gh, 2, Gw, 2]
    offsets = y_index.view(num_rois, kh, 1, max_gh, 2, 1, 1) * width + \
        x_index.view(num_rois, 1, kw, 1, 1, max_gw, 2)
    weights = y_weight.view(num_rois, kh, 1, max_gh, 2, 1, 1) * \
        x_weight.view(num_rois, 1, kw, 1, 1, max_gw, 2)
    num_samples = max_gh * 2 * max_gw * 2
    # both [K, kh, kw, S]
    return (offsets.reshape(num_rois, kh, kw, num_samples),
            weights.reshape(num_rois, kh, kw, num_samples))


def ps_roi_align(input: Tensor,
                 boxes: BoxesType,
                 output_size: Union[int, Sequence[int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = -1) -> Tensor:
    """Position-sensitive RoI Align (R-FCN), torchvision's semantics.

    Args:
        input (Tensor): ``(B, C_out * kh * kw, H, W)`` score maps, any
            floating dtype and device.
        boxes (Tensor | list[Tensor]): ``(K, 5)`` rows
            ``[batch_idx, x1, y1, x2, y2]`` or a list with one ``(L, 4)``
            tensor per image, in input image coordinates.
        output_size (int | tuple[int, int]): ``k`` or ``(kh, kw)`` bins.
        spatial_scale (float): Map size / image size, e.g. 1/16.
            Defaults to 1.0.
        sampling_ratio (int): Samples per bin along each axis; <= 0 picks
            ``ceil(roi_size / bins)`` per RoI. Defaults to -1.

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
    start = rois[:, 1:3] * spatial_scale - 0.5  # [K, 2] (x, y)
    roi_size = rois[:, 3:5] * spatial_scale - 0.5 - start  # [K, 2]
    bin_size = roi_size / roi_size.new_tensor([kw, kh])  # [K, 2] (x, y)
    if sampling_ratio > 0:
        grid = batch_inds.new_full((rois.size(0), 2), sampling_ratio)  # [K, 2]
    else:
        grid = bin_size.ceil().long()  # [K, 2] (grid_w, grid_h)
    grid = grid.clamp(min=0)
    max_gw = max_gh = 1
    if rois.size(0) > 0:
        top = grid.amax(dim=0)
        finite, low, high, max_gw, max_gh = host_ints(
            torch.isfinite(rois).all().long(), batch_inds.min(),
            batch_inds.max(), top[0], top[1])
        check_roi_values(finite, low, high, num_images)
    max_gw, max_gh = max(max_gw, 1), max(max_gh, 1)
    x_index, x_weight = bilinear_axis_weights(start[:, 0], bin_size[:, 0],
                                              grid[:, 0], kw, max_gw, width)
    y_index, y_weight = bilinear_axis_weights(start[:, 1], bin_size[:, 1],
                                              grid[:, 1], kh, max_gh, height)
    count = (grid[:, 0] * grid[:, 1]).clamp(min=1).to(dtype)  # [K]
    offsets, weights = align_sample_grid(y_index, y_weight, x_index, x_weight,
                                         width)
    weights = (weights / count[:, None, None, None]).to(
        input.dtype)  # [K, kh, kw, S]
    return chunked_ps_gather_sum(input, batch_inds, offsets, weights)


class PSRoIAlign(nn.Module):
    """Module form of :func:`ps_roi_align` (torchvision's signature).

    Args:
        output_size (int | tuple[int, int]): ``k`` or ``(kh, kw)`` bins.
        spatial_scale (float): Map size / image size.
        sampling_ratio (int): Samples per bin along each axis; <= 0 is
            adaptive.
    """

    def __init__(self,
                 output_size: Union[int, Sequence[int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = -1) -> None:
        super().__init__()
        self.output_size = pair_output_size(output_size)
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio

    def forward(self, input: Tensor, rois: BoxesType) -> Tensor:
        """Pool position-sensitive score maps over RoIs, bilinearly.

        Args:
            input (Tensor): ``(B, C_out * kh * kw, H, W)`` score maps.
            rois (Tensor | list[Tensor]): ``(K, 5)`` rows
                ``[batch_idx, x1, y1, x2, y2]`` or a list with one
                ``(L, 4)`` tensor per image, in input image coordinates.

        Returns:
            Tensor: ``(K, C_out, kh, kw)`` bin averages of the samples.
        """
        return ps_roi_align(input, rois, self.output_size, self.spatial_scale,
                            self.sampling_ratio)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(output_size={self.output_size}, '
                f'spatial_scale={self.spatial_scale}, '
                f'sampling_ratio={self.sampling_ratio})')
