# Copyright (c) memvid_mm contributors. All rights reserved.
"""Pure functions that warp feature maps with a displacement (flow) field.

Shape shorthand in this module:

    N: batch size
    C: feature channels
    H, W: height and width of the image the flow was estimated on
    h, w: height and width of the feature map being warped

Conventions:

* A flow / displacement field has 2 channels: channel 0 is the horizontal
  displacement ``dx`` (columns, towards larger x), channel 1 the vertical
  displacement ``dy`` (rows, towards larger y).
* *Backward* warping: ``out[p] = feat[p + disp(p)]``, i.e. the content at
  pixel ``p`` of the target frame is found at ``p + disp(p)`` in the frame
  the features were computed on. Locations outside the map read zeros.
* Sampling is done in *pixel coordinates* (cell indices of the map), with
  an explicit bilinear (the paper's Eq. 1, the default) or bicubic
  interpolation, never through a normalised ``[-1, 1]`` grid. Hence a zero
  displacement reproduces the input exactly (bit for bit) and an integer
  displacement is an exact integer shift, with either kernel.
* Bilinear sampling at a fractional position averages two neighbouring
  cells, so a memory that is warped again every frame by a sub-cell
  displacement is blurred a little more each time: an object moving 0.25
  cells per frame is smeared over about a cell after four frames, a
  still one not at all. The bicubic kernel (Keys' cubic convolution with
  ``a = -0.75``, as ``torch.nn.functional.grid_sample``) interpolates
  with much less smoothing, at 16 reads per output cell instead of 4.
* Sampling coordinates and interpolation weights are computed in at least
  float32 (:func:`coordinate_dtype`), also for a half-precision flow
  (``--amp``): in float16 a cell index in [32, 64) would round to 1/32
  cell, in bfloat16 to 1/4 cell.
  (mmtrack's ``flow_warp_feats`` normalises pixel coordinates by ``W`` but
  samples with ``align_corners=True``, which maps pixel ``x`` to
  ``x * (W - 1) / W`` and so shrinks the map towards the top left corner
  even for a zero flow; this module does not have that bug.)
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

WARP_INTERPOLATIONS = ('bilinear', 'bicubic')
# Keys' cubic convolution parameter, the one grid_sample's bicubic uses.
CUBIC_A = -0.75


def coordinate_dtype(disp_dtype: torch.dtype) -> torch.dtype:
    """Dtype of the sampling coordinates for a displacement dtype.

    Args:
        disp_dtype (torch.dtype): Dtype of the flow / displacement.

    Returns:
        torch.dtype: float32 for float16, bfloat16 and float32 (so a
        half-precision flow is sampled at full precision), float64 for
        float64.
    """
    return torch.promote_types(disp_dtype, torch.float32)


def make_base_grid(h: int,
                   w: int,
                   device: torch.device = None,
                   dtype: torch.dtype = torch.float32) -> Tensor:
    """Build the identity sampling grid in pixel coordinates.

    Args:
        h (int): Height of the feature map.
        w (int): Width of the feature map.
        device (torch.device, optional): Device of the grid.
            Defaults to None (the default device).
        dtype (torch.dtype): Floating dtype of the grid.
            Defaults to torch.float32.

    Returns:
        Tensor: ``(1, 2, h, w)`` grid whose channel 0 holds the column
        index ``x`` and channel 1 the row index ``y`` of each cell (exact
        integers).
    """
    if h <= 0 or w <= 0:
        raise ValueError(f'make_base_grid needs h > 0 and w > 0, got '
                         f'h={h}, w={w}')
    ys = torch.arange(h, device=device, dtype=dtype)
    xs = torch.arange(w, device=device, dtype=dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack((grid_x, grid_y))[None]  # [1, 2, h, w]


def flow_to_feature_displacement(flow: Tensor,
                                 feat_hw: Sequence[int]) -> Tensor:
    """Resize an image-resolution flow to a feature map and rescale it.

    The flow is resized with bilinear interpolation (``align_corners=
    False``, i.e. pixel centres are aligned, as between an image and its
    stride-``s`` feature map) and its values are converted from image
    pixels to feature cells: ``dx * w / W`` and ``dy * h / H``.

    Args:
        flow (Tensor): ``(N, 2, H, W)`` displacement in image pixels
            (channel 0 = dx, 1 = dy).
        feat_hw (Sequence[int]): ``(h, w)`` of the feature map.

    Returns:
        Tensor: ``(N, 2, h, w)`` displacement in feature cells. When
        ``(h, w) == (H, W)`` the input values are returned unchanged.
    """
    if flow.dim() != 4 or flow.size(1) != 2:
        raise ValueError('flow must have shape (N, 2, H, W), got '
                         f'{tuple(flow.shape)}')
    h, w = int(feat_hw[0]), int(feat_hw[1])
    H, W = flow.shape[-2:]
    if (h, w) == (H, W):
        return flow
    disp = F.interpolate(
        flow, size=(h, w), mode='bilinear', align_corners=False)
    scale = disp.new_tensor([w / W, h / H]).view(1, 2, 1, 1)
    return disp * scale  # [N, 2, h, w]


def check_interpolation(interpolation: str) -> str:
    """Validate a warp interpolation name.

    Args:
        interpolation (str): ``'bilinear'`` or ``'bicubic'``.

    Returns:
        str: ``interpolation``.
    """
    if interpolation not in WARP_INTERPOLATIONS:
        raise ValueError(f'interpolation must be one of '
                         f'{WARP_INTERPOLATIONS}, got {interpolation!r}')
    return interpolation


def cubic_weights(frac: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Keys' cubic convolution weights of the four taps around a position.

    Args:
        frac (Tensor): Fractional part ``t`` in ``[0, 1)`` of the sampling
            coordinate, any shape.

    Returns:
        tuple[Tensor]: Weights of the cells at offsets -1, 0, 1 and 2 from
        ``floor(x)``, each the shape of ``frac``. They sum to 1, and at
        ``t = 0`` they are ``(0, 1, 0, 0)``.
    """
    a = CUBIC_A

    def near(d: Tensor) -> Tensor:  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: Tensor) -> Tensor:  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return far(frac + 1), near(frac), near(1 - frac), far(2 - frac)


def _axis_taps(coord: Tensor, size: int,
               interpolation: str) -> Tuple[Tensor, Tensor]:
    """The cells the kernel reads along one axis, and their weights.

    Args:
        coord (Tensor): ``(N, h, w)`` sampling coordinates along the axis.
        size (int): Length of the map along the axis.
        interpolation (str): ``'bilinear'`` (k = 2 taps, offsets 0 and 1
            from ``floor(coord)``) or ``'bicubic'`` (k = 4, offsets -1 to
            2).

    Returns:
        tuple[Tensor, Tensor]: ``(k, N, h, w)`` cell indices clamped into
        the map (int64) and ``(k, N, h, w)`` weights, zero for the cells
        outside the map.
    """
    base = torch.floor(coord)
    frac = coord - base
    if interpolation == 'bilinear':
        cells = torch.stack((base, base + 1))
        weights = torch.stack((1 - frac, frac))
    else:
        cells = torch.stack((base - 1, base, base + 1, base + 2))
        weights = torch.stack(cubic_weights(frac))
    inside = (cells >= 0) & (cells <= size - 1)
    return cells.clamp(0, size - 1).long(), weights * inside


def warp_by_displacement(feat: Tensor,
                         disp: Tensor,
                         base_grid: Tensor,
                         interpolation: str = 'bilinear') -> Tensor:
    """Sample ``feat`` at ``base_grid + disp`` (zeros outside).

    Differentiable w.r.t. ``feat`` and ``disp`` (the interpolation weights
    carry the gradient of ``disp``; like any such sampler the gradient
    w.r.t. ``disp`` is discontinuous at integer positions for the bilinear
    kernel).

    Args:
        feat (Tensor): ``(N, C, h, w)`` feature map to warp.
        disp (Tensor): ``(N, 2, h, w)`` displacement in feature cells
            (channel 0 = dx, 1 = dy), backward convention:
            ``out[p] = feat[p + disp(p)]``.
        base_grid (Tensor): ``(1, 2, h, w)`` identity grid from
            :func:`make_base_grid`, of dtype ``coordinate_dtype(disp.dtype)``
            (another dtype is converted).
        interpolation (str): ``'bilinear'`` (2x2 cells, the paper's Eq. 1)
            or ``'bicubic'`` (4x4 cells, Keys' kernel with ``a = -0.75``;
            equal to ``grid_sample(mode='bicubic', padding_mode='zeros',
            align_corners=True)`` on the correctly normalised grid). Cells
            outside the map read zeros with either. Defaults to
            ``'bilinear'``.

    Returns:
        Tensor: ``(N, C, h, w)`` warped features, dtype of ``feat``. The
        sampling coordinates and weights are computed in
        ``coordinate_dtype(disp.dtype)``, at least float32.
    """
    check_interpolation(interpolation)
    if feat.dim() != 4:
        raise ValueError('feat must have shape (N, C, h, w), got '
                         f'{tuple(feat.shape)}')
    n, c, h, w = feat.shape
    if disp.shape != (n, 2, h, w):
        raise ValueError(f'disp must have shape {(n, 2, h, w)} to warp '
                         f'feat {tuple(feat.shape)}, got {tuple(disp.shape)}')
    if base_grid.shape != (1, 2, h, w):
        raise ValueError(f'base_grid must have shape {(1, 2, h, w)}, got '
                         f'{tuple(base_grid.shape)}')
    # Clamping to the kernel's reach outside the map ([-1, size] for
    # bilinear, [-2, size + 1] for bicubic) keeps every location whose
    # support touches the map; anything further out reads zeros either way,
    # and the clamp keeps the integer conversion below in range for huge
    # flows.
    reach = 1 if interpolation == 'bilinear' else 2
    coord_dtype = coordinate_dtype(disp.dtype)
    disp, base_grid = disp.to(coord_dtype), base_grid.to(coord_dtype)
    x = (base_grid[:, 0] + disp[:, 0]).clamp(-reach, w - 1 + reach)
    y = (base_grid[:, 1] + disp[:, 1]).clamp(-reach, h - 1 + reach)
    rows, row_weights = _axis_taps(y, h, interpolation)  # [k, N, h, w]
    cols, col_weights = _axis_taps(x, w, interpolation)
    # every (row, col) tap at once: [k, k, N, h, w] indices and weights
    # (the weights of taps outside the map are zero)
    tap_cells = rows.unsqueeze(1) * w + cols.unsqueeze(0)
    weights = (row_weights.unsqueeze(1) * col_weights.unsqueeze(0)).to(
        feat.dtype)
    flat = feat.reshape(n, c, h * w)
    out = None
    # one gather per tap, accumulated tap by tap: a (N, C, h, w) map of
    # memory at a time, and few operations (kernel launches on a GPU)
    for index, weight in zip(
            tap_cells.flatten(0, 1), weights.flatten(0, 1)):
        values = flat.gather(2, index.view(n, 1, -1).expand(n, c, -1))
        term = values * weight.view(n, 1, -1)
        out = term if out is None else out + term
    return out.view(n, c, h, w)


def flow_warp(feat: Tensor,
              flow: Tensor,
              interpolation: str = 'bilinear') -> Tensor:
    """Warp a feature map with an image-resolution flow.

    Resizes ``flow`` to the feature map, rescales it to feature cells
    (:func:`flow_to_feature_displacement`) and samples ``feat`` at
    ``p + disp(p)`` (:func:`warp_by_displacement`). Builds the base grid on
    every call; the :class:`~memvid_mm.models.necks.FlowWarp` neck caches it.

    Args:
        feat (Tensor): ``(N, C, h, w)`` features of the reference frame.
        flow (Tensor): ``(N, 2, H, W)`` backward flow in image pixels from
            the target frame to the reference frame.
        interpolation (str): ``'bilinear'`` or ``'bicubic'``, see
            :func:`warp_by_displacement`. Defaults to ``'bilinear'``.

    Returns:
        Tensor: ``(N, C, h, w)`` features aligned to the target frame.
    """
    h, w = feat.shape[-2:]
    disp = flow_to_feature_displacement(flow, (h, w))
    base_grid = make_base_grid(
        h, w, device=disp.device, dtype=coordinate_dtype(disp.dtype))
    return warp_by_displacement(feat, disp, base_grid, interpolation)
