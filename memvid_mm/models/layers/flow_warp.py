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
  a bilinear (the paper's Eq. 1, the default) or bicubic interpolation,
  by one of two samplers that compute the same warp:

  - ``'grid_sample'``: one ``torch.nn.functional.grid_sample`` call, a
    single fused kernel (on the channels folded into the batch where that
    is faster, :func:`grid_sample_folds_channels`). Its normalised
    ``[-1, 1]`` grid is made exact:
    the map is zero-padded at the bottom and right to a square of
    ``2**k + 1`` cells a side (:func:`padded_grid_size`), so that with
    ``align_corners=True`` the normalisation is a multiplication by a
    power of two, which round-trips integer positions without rounding.
    Its CUDA backward accumulates with atomics, so it is not
    deterministic.
  - ``'gather'``: explicit taps, one ``gather`` per tap (4 or 16), about
    40 (bilinear) or 130 (bicubic) operations that compute, against 9 for
    ``'grid_sample'`` (``tools/analysis_tools/benchmark_warp.py``).
    Deterministic on CUDA too (``torch.use_deterministic_algorithms``),
    and on the CPU faster than PyTorch's ``grid_sample`` for maps of many
    channels.

  ``sampler='auto'`` (the default, :func:`resolve_sampler`) takes
  ``'grid_sample'`` for CUDA tensors, where the gather sampler's many
  small operations cost a kernel launch each, unless deterministic
  algorithms are on and the warp is differentiated; ``'gather'``
  otherwise.

  With either, a zero displacement reproduces the input exactly (bit for
  bit) and an integer displacement is an exact integer shift. At
  fractional positions the two differ by float rounding of the
  coordinates (float32: about 1e-6 of the feature range).
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
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ...ops.deterministic import deterministic_cuda_required, resize_bilinear

WARP_INTERPOLATIONS = ('bilinear', 'bicubic')
# the two samplers; a warp's ``sampler`` may also be 'auto' (resolve_sampler)
WARP_SAMPLERS = ('grid_sample', 'gather')
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
                   device: Optional[torch.device] = None,
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


def scale_flow_(flow: Tensor, x_scale: float, y_scale: float) -> Tensor:
    """Scale the x and y displacements of ``flow`` in place.

    The factors stay Python numbers: a ``(1, 2, 1, 1)`` scale tensor made
    from them would be copied from the host to a CUDA device with a
    synchronisation, on every call. The products are those of such a
    tensor, bit for bit (float32 factors).

    Args:
        flow (Tensor): ``(N, 2, H, W)`` flow, channel 0 = dx, 1 = dy; not
            a leaf that requires grad.
        x_scale (float): Factor of dx.
        y_scale (float): Factor of dy.

    Returns:
        Tensor: ``flow``, scaled.
    """
    flow[:, 0].mul_(x_scale)
    flow[:, 1].mul_(y_scale)
    return flow


def _check_flow_shape(flow: Tensor) -> None:
    """Raise a ValueError unless ``flow`` is a floating-point ``(N, 2, H,
    W)`` field."""
    if flow.dim() != 4 or flow.size(1) != 2:
        raise ValueError('flow must have shape (N, 2, H, W), got '
                         f'{tuple(flow.shape)}')
    if not flow.is_floating_point():
        raise ValueError('flow must be a floating-point displacement, got '
                         f'{flow.dtype}')


def _check_feat_shape(feat: Tensor) -> None:
    """Raise a ValueError unless ``feat`` is ``(N, C, h, w)``."""
    if feat.dim() != 4:
        raise ValueError('feat must have shape (N, C, h, w), got '
                         f'{tuple(feat.shape)}')


def flow_to_feature_displacement(flow: Tensor,
                                 feat_hw: Sequence[int]) -> Tensor:
    """Resize an image-resolution flow to a feature map and rescale it.

    The flow is resized with bilinear interpolation (``align_corners=
    False``, i.e. pixel centres are aligned, as between an image and its
    stride-``s`` feature map; :func:`~memvid_mm.ops.resize_bilinear`, so
    also in deterministic CUDA training) and its values are converted from
    image pixels to feature cells: ``dx * w / W`` and ``dy * h / H``.

    That is exact only where the map covers the image exactly, i.e. where
    each side of one is a whole multiple of the other's (``H = s * h`` for
    a stride-``s`` map). A stride-8 map of a 97-pixel side has 13 cells
    covering 104 pixels: ``h / H`` would be 13 / 97 instead of 1 / 8, and
    the displacement 7% too long. Such sizes are refused; pad the images
    to a multiple of the backbone's stride (the data preprocessor's
    ``pad_size_divisor``). Not knowing the stride, this check cannot tell
    a stride-15 map from a stride-16 one (a 105-pixel side has 7 cells at
    stride 16, and 105 = 15 x 7); ``MemoryRFCN``, which knows its
    features' stride, requires the padded frame to be exactly stride x
    map (``check_frame_covers_map``).

    Args:
        flow (Tensor): ``(N, 2, H, W)`` displacement in image pixels
            (channel 0 = dx, 1 = dy).
        feat_hw (Sequence[int]): ``(h, w)`` of the feature map.

    Returns:
        Tensor: ``(N, 2, h, w)`` displacement in feature cells. When
        ``(h, w) == (H, W)`` the input values are returned unchanged.

    Raises:
        ValueError: When a side of the flow and of the feature map is not a
            whole multiple of the other.
    """
    _check_flow_shape(flow)
    h, w = int(feat_hw[0]), int(feat_hw[1])
    H, W = flow.shape[-2:]
    if (h, w) == (H, W):
        return flow
    if max(h, H) % min(h, H) or max(w, W) % min(w, W):
        raise ValueError(
            f'flow of {H}x{W} pixels cannot be rescaled exactly to a '
            f'{h}x{w} feature map: each side of one must be a whole '
            'multiple of the other\'s; pad the images to a multiple of '
            "the backbone's stride (the data preprocessor's "
            'pad_size_divisor)')
    disp = resize_bilinear(flow, (h, w))
    return scale_flow_(disp, w / W, h / H)  # [N, 2, h, w]


def check_flow_matches_feat(feat: Tensor, flow: Tensor) -> None:
    """Raise a ValueError when ``flow`` cannot warp ``feat``.

    Checks the caller's arguments before the flow is resized, so that the
    error names ``flow`` and ``feat``, not the resized displacement.

    Args:
        feat (Tensor): ``(N, C, h, w)`` features of the reference frame.
        flow (Tensor): ``(N, 2, H, W)`` flow in image pixels.
    """
    _check_feat_shape(feat)
    _check_flow_shape(flow)
    if flow.size(0) != feat.size(0):
        raise ValueError(f'flow {tuple(flow.shape)} and feat '
                         f'{tuple(feat.shape)} must have the same batch '
                         'size N')


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


def check_sampler(sampler: str) -> str:
    """Validate a warp sampler name.

    Args:
        sampler (str): ``'auto'``, ``'grid_sample'`` or ``'gather'``.

    Returns:
        str: ``sampler``.
    """
    if sampler != 'auto' and sampler not in WARP_SAMPLERS:
        raise ValueError(f"sampler must be 'auto' or one of "
                         f'{WARP_SAMPLERS}, got {sampler!r}')
    return sampler


def padded_grid_size(size: int) -> int:
    """The smallest ``2**k + 1`` (``k >= 1``) that holds ``size`` cells.

    With ``align_corners=True``, ``grid_sample`` maps a normalised
    coordinate ``u`` to the cell ``(u + 1) / 2 * (padded - 1)``; on a map of
    ``2**k + 1`` cells that is a multiplication by ``2**(k - 1)``, exact in
    floating point, and so is its inverse ``x * 2**(1 - k) - 1`` for cell
    indices ``x`` (integers, or any float with a few bits to spare).

    Args:
        size (int): Cells along one axis of the map, ``>= 1``.

    Returns:
        int: ``2**k + 1 >= size`` with the smallest ``k >= 1``.
    """
    if size < 1:
        raise ValueError(f'padded_grid_size needs size >= 1, got {size}')
    return 2**max(1, math.ceil(math.log2(max(size - 1, 1)))) + 1


def check_deterministic_backward(device: torch.device,
                                 needs_grad: bool) -> None:
    """Refuse the ``grid_sample`` sampler where its backward would fail.

    PyTorch's CUDA backward of ``grid_sample`` accumulates with atomics
    and raises, at the *backward* pass, when deterministic algorithms are
    on (not in warn-only mode), e.g. under mmengine's
    ``randomness=dict(deterministic=True)``
    (:func:`~memvid_mm.ops.deterministic.deterministic_cuda_required`).
    This check raises at the forward pass instead, and says which sampler
    to use.

    Args:
        device (torch.device): Device of the features.
        needs_grad (bool): Whether the warp will be differentiated.
    """
    if deterministic_cuda_required(device, needs_grad):
        raise RuntimeError(
            "The warp's 'grid_sample' sampler has no deterministic CUDA "
            'backward, and deterministic algorithms are on (e.g. '
            "randomness=dict(deterministic=True)). Set sampler='gather' "
            "or 'auto' (in a config: model.warp.sampler='gather'); it "
            'computes the same warp deterministically.')


def resolve_sampler(sampler: str, device: torch.device,
                    needs_grad: bool) -> str:
    """The sampler a warp uses: ``'auto'`` resolved for the device.

    Args:
        sampler (str): ``'auto'``, ``'grid_sample'`` or ``'gather'``.
        device (torch.device): Device of the features.
        needs_grad (bool): Whether the warp will be differentiated.

    Returns:
        str: ``sampler`` itself unless it is ``'auto'``, which becomes
        ``'grid_sample'`` on CUDA (one kernel launch instead of about 40)
        and ``'gather'`` on other devices (faster on the CPU) and under
        deterministic CUDA training
        (:func:`check_deterministic_backward`). An explicit
        ``'grid_sample'`` there raises.
    """
    check_sampler(sampler)
    if sampler == 'grid_sample':
        check_deterministic_backward(device, needs_grad)
    if sampler != 'auto':
        return sampler
    if (torch.device(device).type == 'cuda'
            and not deterministic_cuda_required(device, needs_grad)):
        return 'grid_sample'
    return 'gather'


def _check_warp_inputs(feat: Tensor, disp: Tensor, base_grid: Tensor,
                       interpolation: str) -> None:
    """Raise a ValueError naming the argument of the warp at fault."""
    check_interpolation(interpolation)
    _check_feat_shape(feat)
    n, _, h, w = feat.shape
    if disp.shape != (n, 2, h, w):
        raise ValueError(f'disp must have shape {(n, 2, h, w)} to warp '
                         f'feat {tuple(feat.shape)}, got {tuple(disp.shape)}')
    if base_grid.shape != (1, 2, h, w):
        raise ValueError(f'base_grid must have shape {(1, 2, h, w)}, got '
                         f'{tuple(base_grid.shape)}')


def _kernel_reach(interpolation: str) -> int:
    """Cells beyond the map that the kernel's support still reaches."""
    return 1 if interpolation == 'bilinear' else 2


def memory_format_of(feat: Tensor) -> torch.memory_format:
    """The memory format a 4-d map is laid out in.

    Args:
        feat (Tensor): ``(N, C, h, w)`` map.

    Returns:
        torch.memory_format: ``torch.channels_last`` for a channels-last
        (NHWC) map that is not also contiguous (a map of one channel, or
        of one cell, is both), else ``torch.contiguous_format``.
    """
    if feat.is_contiguous(memory_format=torch.channels_last) and \
            not feat.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


def sample_by_gather(feat: Tensor, coords: Tensor,
                     interpolation: str) -> Tensor:
    """Sample ``feat`` at ``coords`` with one ``gather`` per kernel tap.

    Args:
        feat (Tensor): ``(N, C, h, w)`` map.
        coords (Tensor): ``(N, 2, h, w)`` sampling positions in cells
            (channel 0 = x, 1 = y), dtype of the coordinates.
        interpolation (str): ``'bilinear'`` or ``'bicubic'``.

    Returns:
        Tensor: ``(N, C, h, w)``, dtype and memory format of ``feat``: a
        channels-last map is read and written in place as ``(N, h * w, C)``,
        with the same products and sums as a contiguous one (the same
        values bit for bit).
    """
    n, c, h, w = feat.shape
    # Clamping to the kernel's reach outside the map ([-1, size] for
    # bilinear, [-2, size + 1] for bicubic) keeps every position whose
    # support touches the map; anything further out reads zeros either way,
    # and the clamp keeps the integer conversion in range for huge flows.
    reach = _kernel_reach(interpolation)
    x = coords[:, 0].clamp(-reach, w - 1 + reach)
    y = coords[:, 1].clamp(-reach, h - 1 + reach)
    rows, row_weights = _axis_taps(y, h, interpolation)  # [k, N, h, w]
    cols, col_weights = _axis_taps(x, w, interpolation)
    # every (row, col) tap at once: [k, k, N, h, w] indices and weights
    # (the weights of taps outside the map are zero)
    tap_cells = rows.unsqueeze(1) * w + cols.unsqueeze(0)
    weights = (row_weights.unsqueeze(1) * col_weights.unsqueeze(0)).to(
        feat.dtype)
    channels_last = memory_format_of(feat) == torch.channels_last
    if channels_last:
        flat = feat.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view
        cell_dim, per_cell = 1, (n, h * w, 1)
    else:
        flat = feat.reshape(n, c, h * w)
        cell_dim, per_cell = 2, (n, 1, h * w)
    out = None
    # one gather per tap, accumulated tap by tap: a (N, C, h, w) map of
    # memory at a time, and few operations (kernel launches on a GPU)
    for index, weight in zip(tap_cells.flatten(0, 1), weights.flatten(0, 1)):
        values = flat.gather(cell_dim, index.view(per_cell).expand(flat.shape))
        term = values * weight.view(per_cell)
        out = term if out is None else out + term
    if channels_last:
        return out.view(n, h, w, c).permute(0, 3, 1, 2)
    return out.view(n, c, h, w)


def grid_sample_folds_channels(device: torch.device,
                               interpolation: str) -> bool:
    """Whether the grid_sample sampler folds the channels into the batch.

    PyTorch's own CUDA ``grid_sample`` kernel gives each thread one output
    cell of one map and loops over the channels there: for a
    ``(1, 1024, 38, 63)`` memory a few thousand threads run 1024 channels
    each. Viewing the map as ``N * C`` maps of one channel (the grid
    repeated per channel) spreads the channels over threads: on an NVIDIA
    H200 a bicubic warp of that memory took 0.14 ms instead of 2.8 ms
    (forward and backward 1.1 ms instead of 13.5 ms). On a 2-core CPU the
    folded layout was faster too for that memory (bilinear 5.3 ms instead
    of 24.9 ms, bicubic 15.6 ms instead of 42.8 ms) and about the same for
    a 64-channel one (``tools/analysis_tools/benchmark_grid_sample.py``).
    Bilinear sampling on CUDA goes to cuDNN's sampler, which already
    spreads the channels (0.11 ms either way; its backward was slower
    folded), so it is not folded there. The folded grid is ``C`` times
    larger (20 MB for that memory, and as much for its gradient). Folding
    computes every output with the same arithmetic: in float32 the outputs
    are the same bit for bit either way (on the CPU, and bicubic on the
    H200), the coordinates' gradient differs by rounding (summed over the
    channels in another order).

    Args:
        device (torch.device): Device of the map.
        interpolation (str): ``'bilinear'`` or ``'bicubic'``.

    Returns:
        bool: False for bilinear sampling on CUDA, True otherwise.
    """
    return not (torch.device(device).type == 'cuda'
                and interpolation == 'bilinear')


def sample_by_grid_sample(feat: Tensor, coords: Tensor, interpolation: str,
                          fold_channels: bool) -> Tensor:
    """Sample ``feat`` at ``coords`` with one exact ``grid_sample`` call.

    The map is zero-padded at the bottom and right to a ``P x P`` square,
    ``P = padded_grid_size(max(h, w))``, so that one power-of-two scale
    normalises both axes exactly: four small operations make the grid. The
    padded map holds ``P**2`` cells, under 4 ``max(h, w)**2``: about 1.8x
    the cells of a 38x63 map, but many times those of a map far from
    square (the gather sampler pads nothing).

    Args:
        feat (Tensor): ``(N, C, h, w)`` map.
        coords (Tensor): ``(N, 2, h, w)`` sampling positions in cells
            (channel 0 = x, 1 = y), dtype of the coordinates.
        interpolation (str): ``'bilinear'`` or ``'bicubic'``.
        fold_channels (bool): Sample ``N * C`` one-channel maps with the
            grid repeated per channel instead of ``N`` maps of ``C``
            channels (:func:`grid_sample_folds_channels` says which is
            faster where).

    Returns:
        Tensor: ``(N, C, h, w)``, dtype of ``feat`` (sampled in the dtype
        of the coordinates: ``grid_sample`` wants one dtype for both).
    """
    n, c, h, w = feat.shape
    size = padded_grid_size(max(h, w))
    scale = 2 / (size - 1)  # a power of two: exact (see padded_grid_size)
    # Clamped to the kernel's reach outside the padded square (cells
    # -reach and size - 1 + reach): the same outputs and gradients as the
    # gather sampler's clamp, as every tap beyond the map reads a zero.
    bound = 1 + _kernel_reach(interpolation) * scale
    grid = (coords * scale - 1).clamp(-bound, bound).permute(0, 2, 3, 1)
    padded = F.pad(feat.to(coords.dtype), (0, size - w, 0, size - h))
    if fold_channels:
        padded = padded.reshape(n * c, 1, size, size)
        grid = grid.unsqueeze(1).expand(n, c, h, w, 2).reshape(n * c, h, w, 2)
    out = F.grid_sample(
        padded,
        grid,  # [N, h, w, 2], or [N * C, h, w, 2] folded
        mode=interpolation,
        padding_mode='zeros',
        align_corners=True)
    return out.view(n, c, h, w).to(feat.dtype)


def warp_by_displacement(feat: Tensor,
                         disp: Tensor,
                         base_grid: Tensor,
                         interpolation: str = 'bilinear',
                         sampler: str = 'auto') -> Tensor:
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
        sampler (str): ``'grid_sample'`` (one fused kernel; its CUDA
            backward is not deterministic), ``'gather'`` (one gather per
            tap; deterministic) or ``'auto'`` (:func:`resolve_sampler`:
            ``'grid_sample'`` on CUDA, else ``'gather'``). The same warp up
            to float rounding at fractional positions, exact at integer
            ones with both. See the module docstring. Defaults to
            ``'auto'``.

    Returns:
        Tensor: ``(N, C, h, w)`` warped features, dtype and memory format
        (:func:`memory_format_of`) of ``feat``, so a channels-last memory
        stays channels-last, as after a convolution. The sampling
        coordinates are computed in ``coordinate_dtype(disp.dtype)``, at
        least float32; the ``'gather'`` sampler weights the taps in the
        dtype of ``feat``, the ``'grid_sample'`` one samples in the
        coordinate dtype.
    """
    _check_warp_inputs(feat, disp, base_grid, interpolation)
    coord_dtype = coordinate_dtype(disp.dtype)
    coords = base_grid.to(coord_dtype) + disp.to(coord_dtype)  # [N, 2, h, w]
    needs_grad = torch.is_grad_enabled() and (feat.requires_grad
                                              or disp.requires_grad)
    if resolve_sampler(sampler, feat.device, needs_grad) == 'gather':
        out = sample_by_gather(feat, coords, interpolation)
    else:
        out = sample_by_grid_sample(
            feat, coords, interpolation,
            grid_sample_folds_channels(feat.device, interpolation))
    # a no-op but for the grid_sample sampler on an NHWC map
    return out.contiguous(memory_format=memory_format_of(feat))


def flow_warp(feat: Tensor,
              flow: Tensor,
              interpolation: str = 'bilinear',
              sampler: str = 'auto',
              base_grid: Optional[Tensor] = None) -> Tensor:
    """Warp a feature map with an image-resolution flow.

    Resizes ``flow`` to the feature map, rescales it to feature cells
    (:func:`flow_to_feature_displacement`) and samples ``feat`` at
    ``p + disp(p)`` (:func:`warp_by_displacement`). Builds the base grid
    when it is not given; the :class:`~memvid_mm.models.necks.FlowWarp`
    neck caches it (``FlowWarp.base_grid``).

    Args:
        feat (Tensor): ``(N, C, h, w)`` features of the reference frame.
        flow (Tensor): ``(N, 2, H, W)`` backward flow in image pixels from
            the target frame to the reference frame.
        interpolation (str): ``'bilinear'`` or ``'bicubic'``, see
            :func:`warp_by_displacement`. Defaults to ``'bilinear'``.
        sampler (str): ``'auto'``, ``'grid_sample'`` or ``'gather'``,
            see :func:`warp_by_displacement`. Defaults to ``'auto'``.
        base_grid (Tensor, optional): ``(1, 2, h, w)`` identity grid of the
            feature map (:func:`make_base_grid`). Defaults to None (built
            for this call).

    Returns:
        Tensor: ``(N, C, h, w)`` features aligned to the target frame.
    """
    check_flow_matches_feat(feat, flow)
    h, w = feat.shape[-2:]
    disp = flow_to_feature_displacement(flow, (h, w))
    if base_grid is None:
        base_grid = make_base_grid(
            h, w, device=disp.device, dtype=coordinate_dtype(disp.dtype))
    return warp_by_displacement(feat, disp, base_grid, interpolation, sampler)
