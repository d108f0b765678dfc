# Copyright (c) memvid_mm contributors. All rights reserved.
"""Argument checks and box conversion shared by the PS RoI ops.

Shape shorthand: B images, C input channels, K RoIs, L boxes of one image,
kh/kw the number of bins along y/x.
"""
from typing import List, Sequence, Tuple, Union

import torch
from torch import Tensor

from ..utils.argument_checks import is_int

BoxesType = Union[Tensor, Sequence[Tensor]]

# Upper bound on the number of elements of the gathered sample tensor of one
# chunk of RoIs. Memory of a chunk is a few times this (values, products),
# about 200 MB for float32; autograd keeps only small broadcast index and
# weight tensors, so chunking bounds the peak memory of forward and backward.
MAX_GATHER_ELEMENTS = 2**24


def pair_output_size(output_size: Union[int, Sequence[int]],
                     name: str = 'output_size') -> Tuple[int, int]:
    """Turn ``output_size`` into a ``(kh, kw)`` pair of positive ints.

    Args:
        output_size (int | Sequence[int]): Number of bins, ``k`` or
            ``(kh, kw)``.
        name (str): Argument name used in error messages. Defaults to
            ``'output_size'``.

    Returns:
        tuple[int, int]: ``(kh, kw)``.
    """
    if is_int(output_size):
        size = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        size = tuple(output_size)
    else:
        raise ValueError(f'`{name}` must be an int or a pair of ints, '
                         f'got {output_size!r}')
    if not all(is_int(s) and s > 0 for s in size):
        raise ValueError(
            f'`{name}` must hold positive ints, got {output_size!r}')
    return tuple(int(s) for s in size)


def convert_boxes_to_rois(boxes: BoxesType, input: Tensor) -> Tensor:
    """Bring ``boxes`` into the ``(K, 5)`` RoI format and check it.

    Args:
        boxes (Tensor | Sequence[Tensor]): ``(K, 5)`` rows
            ``[batch_idx, x1, y1, x2, y2]``, or one ``(L, 4)`` tensor of
            ``[x1, y1, x2, y2]`` per image.
        input (Tensor): The ``(B, C, H, W)`` feature map, used for device
            and error messages.

    Returns:
        Tensor: ``(K, 5)`` RoIs on ``input``'s device, detached (the ops
        give no gradient to box coordinates).
    """
    if isinstance(boxes, Tensor):
        if boxes.dim() != 2 or boxes.size(1) != 5:
            raise ValueError('`boxes` as a tensor must have shape (K, 5) '
                             '[batch_idx, x1, y1, x2, y2], got '
                             f'{tuple(boxes.shape)}')
        rois = boxes
    elif isinstance(boxes, (list, tuple)):
        rows: List[Tensor] = []
        for img_idx, img_boxes in enumerate(boxes):
            if (not isinstance(img_boxes, Tensor) or img_boxes.dim() != 2
                    or img_boxes.size(1) != 4):
                shape = tuple(img_boxes.shape) if isinstance(
                    img_boxes, Tensor) else type(img_boxes).__name__
                raise ValueError(f'`boxes[{img_idx}]` must be a (L, 4) '
                                 f'tensor [x1, y1, x2, y2], got {shape}')
            idx = img_boxes.new_full((img_boxes.size(0), 1), img_idx)
            rows.append(torch.cat([idx, img_boxes], dim=1))  # [L, 5]
        # [K, 5]
        rois = torch.cat(rows, 0) if rows else input.new_zeros((0, 5))
    else:
        raise ValueError('`boxes` must be a (K, 5) tensor or a list of '
                         f'(L, 4) tensors, got {type(boxes).__name__}')
    return rois.detach().to(input.device)


def check_input(input: Tensor, kh: int, kw: int) -> int:
    """Check the score map and return the number of output channels.

    Args:
        input (Tensor): ``(B, C_out * kh * kw, H, W)`` score maps.
        kh (int): Bins along y.
        kw (int): Bins along x.

    Returns:
        int: ``C_out``.
    """
    if not isinstance(input, Tensor) or input.dim() != 4:
        shape = tuple(input.shape) if isinstance(
            input, Tensor) else type(input).__name__
        raise ValueError(f'`input` must be a (B, C, H, W) tensor, got {shape}')
    if not input.is_floating_point():
        raise TypeError(
            f'`input` must be a floating point tensor, got {input.dtype}')
    channels = input.size(1)
    if channels % (kh * kw) != 0:
        raise ValueError(f'`input` has {channels} channels, which is not '
                         f'divisible by output_size {kh}x{kw} = {kh * kw}')
    return channels // (kh * kw)


def coord_dtype(input: Tensor) -> torch.dtype:
    """Dtype used for box coordinates and interpolation weights.

    float32 for half precision inputs (float16 has a 0.5 pixel resolution
    at 600 pixels), the input dtype otherwise.

    Args:
        input (Tensor): The floating-point feature map.

    Returns:
        torch.dtype: ``torch.float32`` for a float16 or bfloat16 input,
        else ``input.dtype``.
    """
    if input.dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return input.dtype


def check_roi_values(all_finite: int, low: int, high: int,
                     num_images: int) -> None:
    """Raise ``ValueError`` if a RoI is not finite or its batch index is
    out of range.

    A NaN or infinite coordinate would otherwise pool zeros, or values of
    map cells the box does not cover, without an error.

    Args:
        all_finite (int): 1 when every value of the RoIs is finite, else 0.
        low (int): Smallest batch index of the RoIs.
        high (int): Largest batch index of the RoIs.
        num_images (int): ``B``.
    """
    if not all_finite:
        raise ValueError('`boxes` hold NaN or infinite values; RoIs must '
                         'be finite (non-finite proposals come from '
                         'non-finite weights or inputs)')
    if low < 0 or high >= num_images:
        raise ValueError(f'`boxes` batch indices must lie in [0, '
                         f'{num_images - 1}], got [{low}, {high}]')


def host_ints(*scalars: Tensor) -> List[int]:
    """Copy 0-dim tensors to the host with one device synchronisation.

    Args:
        *scalars (Tensor): 0-dim tensors on one device.

    Returns:
        list[int]: Their values as ints, in order.
    """
    return [int(v) for v in torch.stack(scalars).tolist()]


def roi_chunks(num_rois: int, elements_per_roi: int) -> List[slice]:
    """Split ``range(num_rois)`` so a chunk gathers a bounded tensor.

    Args:
        num_rois (int): ``K``.
        elements_per_roi (int): Elements gathered for one RoI.

    Returns:
        list[slice]: Consecutive RoI slices; one slice when all fit.
    """
    per_chunk = max(1, MAX_GATHER_ELEMENTS // max(1, elements_per_roi))
    if num_rois <= per_chunk:
        return [slice(0, num_rois)]
    return [
        slice(start, min(start + per_chunk, num_rois))
        for start in range(0, num_rois, per_chunk)
    ]


def ps_gather_sum(input: Tensor, batch_inds: Tensor, offsets: Tensor,
                  weights: Tensor) -> Tensor:
    """Position-sensitive weighted sum of gathered map cells.

    Output channel ``c`` of bin ``(i, j)`` of RoI ``k`` is
    ``sum_s weights[k, i, j, s] * input[b_k, c*kh*kw + i*kw + j].flat[
    offsets[k, i, j, s]]``. The gather runs on the flattened input with one
    flat index per value (int32 when the input is small enough, which
    halves the index memory autograd keeps for the backward pass).

    Args:
        input (Tensor): ``(B, C_out * kh * kw, H, W)``.
        batch_inds (Tensor): ``(K,)`` long batch index of each RoI.
        offsets (Tensor): ``(K, kh, kw, S)`` long, cell ``y * W + x`` read
            by sample ``s`` of a bin; must lie in ``[0, H * W)``.
        weights (Tensor): ``(K, kh, kw, S)`` weight of each sample, in the
            input dtype (0 for padding samples).

    Returns:
        Tensor: ``(K, C_out, kh, kw)``.
    """
    num_rois, kh, kw, num_samples = offsets.shape
    channels, area = input.size(1), input.size(2) * input.size(3)
    index_dtype = torch.int32 if input.numel() < 2**31 else torch.long
    # input channel c * kh * kw + i * kw + j, as [1, C_out, kh, kw]
    channel = torch.arange(channels, device=input.device)
    channel = channel.view(1, -1, kh, kw)  # [1, C_out, kh, kw]
    # flat offset of the first cell of each read channel plane
    base = (batch_inds.view(-1, 1, 1, 1) * channels +
            channel) * area  # [K, C_out, kh, kw]
    index = base.to(index_dtype)[..., None] + offsets.to(
        index_dtype)[:, None]  # [K, C_out, kh, kw, S]
    # [B*C*H*W] gathered at [K*C_out*kh*kw*S] flat indices
    values = input.reshape(-1).index_select(0, index.view(-1))
    values = values.view(index.shape)  # [K, C_out, kh, kw, S]
    return (values * weights[:, None]).sum(-1)  # [K, C_out, kh, kw]


def chunked_ps_gather_sum(input: Tensor, batch_inds: Tensor, offsets: Tensor,
                          weights: Tensor) -> Tensor:
    """:func:`ps_gather_sum` over chunks of RoIs (bounded peak memory).

    The RoIs are split by :func:`roi_chunks` so that one chunk gathers at
    most about :data:`MAX_GATHER_ELEMENTS` values; the chunks' outputs are
    concatenated.

    Args:
        input (Tensor): As for :func:`ps_gather_sum`.
        batch_inds (Tensor): As for :func:`ps_gather_sum`.
        offsets (Tensor): As for :func:`ps_gather_sum`.
        weights (Tensor): As for :func:`ps_gather_sum`.

    Returns:
        Tensor: ``(K, C_out, kh, kw)``, as :func:`ps_gather_sum` gives.
    """
    num_rois, kh, kw, num_samples = offsets.shape
    per_roi = input.size(1) * num_samples
    outputs = [
        ps_gather_sum(input, batch_inds[s], offsets[s], weights[s])
        for s in roi_chunks(num_rois, per_roi)
    ]
    # [K, C_out, kh, kw]
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs, 0)
