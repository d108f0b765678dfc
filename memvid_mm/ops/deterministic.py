# Copyright (c) memvid_mm contributors. All rights reserved.
"""Deterministic forms of the PyTorch ops that refuse deterministic CUDA.

Under ``torch.use_deterministic_algorithms(True)`` (what mmengine's
``randomness=dict(deterministic=True)`` turns on) PyTorch raises a
``RuntimeError`` on CUDA for the backward of bilinear
``F.interpolate`` and for a floating-point ``cumsum``, even in the forward
pass. The flow's resizes (FlowNet's output, the flow to the feature map)
and the PS RoI pooling's summed-area table use them.

The functions here compute the same values from ops that are
deterministic on CUDA (``index_select`` and its ``index_add`` backward,
shifted additions), and call PyTorch's own op wherever it is allowed, so
nothing changes outside deterministic CUDA runs. Which form runs is
decided by :func:`deterministic_cuda_required`, or explicitly by the
``deterministic`` argument.

Shape shorthand: N batch, C channels, H/W input size, h/w output size.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def deterministic_cuda_required(device: torch.device,
                                needs_grad: bool = True) -> bool:
    """Whether an op on ``device`` must avoid PyTorch's nondeterministic
    CUDA kernels.

    Args:
        device (torch.device): Device of the op's input.
        needs_grad (bool): Whether the op will be differentiated (for ops
            whose forward is deterministic and whose backward is not).
            Defaults to True.

    Returns:
        bool: True on CUDA, with a gradient, while deterministic
        algorithms are on and not in warn-only mode.
    """
    return (torch.device(device).type == 'cuda' and needs_grad
            and torch.are_deterministic_algorithms_enabled()
            and not torch.is_deterministic_algorithms_warn_only_enabled())


def linear_resize_taps(
        in_size: int,
        out_size: int,
        device: torch.device,
        dtype: torch.dtype = torch.float32) -> Tuple[Tensor, Tensor, Tensor]:
    """The two input cells and weights of each output cell of a linear
    resize with ``align_corners=False``.

    The rule of ``F.interpolate(mode='bilinear', align_corners=False)``
    given an output size: output cell ``i`` reads the input at
    ``max((i + 0.5) * in_size / out_size - 0.5, 0)``, from the cell below
    and the next one (the same cell at the last one).

    Args:
        in_size (int): Input length along the axis.
        out_size (int): Output length along the axis.
        device (torch.device): Device of the returned tensors.
        dtype (torch.dtype): Floating type the positions are computed in
            (PyTorch's op computes them in float32 for float32 and half
            inputs, in float64 for float64 ones). Defaults to float32.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``(out_size,)`` int64 lower cells,
        ``(out_size,)`` int64 upper cells, and ``(out_size,)`` weights of
        the upper cells in ``dtype`` (the lower ones weigh
        ``1 - weight``).
    """
    out = torch.arange(out_size, device=device, dtype=dtype)
    source = ((out + 0.5) * (in_size / out_size) - 0.5).clamp(min=0)
    lower = source.floor().long().clamp(max=in_size - 1)
    upper = (lower + 1).clamp(max=in_size - 1)
    return lower, upper, source - lower


def _resize_axis(x: Tensor, dim: int, out_size: int) -> Tensor:
    """Linear resize along one axis with ``index_select`` (deterministic
    on CUDA, forward and backward)."""
    position_dtype = torch.float64 if x.dtype == torch.float64 else \
        torch.float32
    lower, upper, weight = linear_resize_taps(
        x.size(dim), out_size, x.device, position_dtype)
    shape = [1] * x.dim()
    shape[dim] = out_size
    weight = weight.to(x.dtype).view(shape)
    return (x.index_select(dim, lower) * (1 - weight) +
            x.index_select(dim, upper) * weight)


def resize_bilinear(x: Tensor,
                    size: Sequence[int],
                    deterministic: Optional[bool] = None) -> Tensor:
    """``F.interpolate(x, size, mode='bilinear', align_corners=False)``,
    deterministic on CUDA where it has to be.

    Args:
        x (Tensor): ``(N, C, H, W)`` input.
        size (Sequence[int]): Output ``(h, w)``.
        deterministic (bool, optional): True resizes with ``index_select``
            along each axis (separable, the same values up to float
            rounding), False with ``F.interpolate``. Defaults to None:
            :func:`deterministic_cuda_required` for ``x``.

    Returns:
        Tensor: ``(N, C, h, w)``.
    """
    if x.dim() != 4:
        raise ValueError(
            f'resize_bilinear needs (N, C, H, W), got {tuple(x.shape)}')
    h, w = int(size[0]), int(size[1])
    if deterministic is None:
        deterministic = deterministic_cuda_required(x.device, x.requires_grad)
    if not deterministic:
        return F.interpolate(
            x, size=(h, w), mode='bilinear', align_corners=False)
    return _resize_axis(_resize_axis(x, 2, h), 3, w)  # [N, C, h, w]


def _scan_sum(x: Tensor, dim: int) -> Tensor:
    """Inclusive prefix sum along ``dim`` by log2(n) shifted additions."""
    n, shift = x.size(dim), 1
    while shift < n:
        shape = list(x.shape)
        shape[dim] = shift
        x = x + torch.cat(
            (x.new_zeros(shape), x.narrow(dim, 0, n - shift)), dim)
        shift *= 2
    return x


def cumsum_last_two(x: Tensor, deterministic: Optional[bool] = None) -> Tensor:
    """Prefix sums along the last two axes: ``x.cumsum(-2).cumsum(-1)``,
    deterministic on CUDA where it has to be.

    Args:
        x (Tensor): ``(..., H, W)`` input.
        deterministic (bool, optional): True sums by shifted additions (a
            fixed order, the same values up to float rounding), False with
            ``torch.cumsum``. Defaults to None:
            :func:`deterministic_cuda_required` for ``x`` (the CUDA
            ``cumsum`` refuses even without a gradient).

    Returns:
        Tensor: ``(..., H, W)``; entry ``[..., y, x]`` is the sum of the
        input over ``[..., :y + 1, :x + 1]``.
    """
    if deterministic is None:
        deterministic = deterministic_cuda_required(x.device)
    if not deterministic:
        return x.cumsum(-2).cumsum(-1)
    return _scan_sum(_scan_sum(x, x.dim() - 2), x.dim() - 1)
