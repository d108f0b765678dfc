# Copyright (c) memvid_mm contributors. All rights reserved.
"""End-point error (EPE) of a motion network on SynthVID frame pairs."""
from collections import defaultdict
from typing import Dict, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

MIN_OBJECT_MOTION = 0.5
"""An object pixel is *moving* when its flow differs from the camera's by
more than this many pixels."""


def moving_object_mask(flow: Tensor, object_mask: Tensor) -> Tensor:
    """The object pixels that move against the background.

    Args:
        flow (Tensor): ``(2, H, W)`` true backward flow in pixels.
        object_mask (Tensor): ``(H, W)`` bool, the pixels on an object.

    Returns:
        Tensor: ``(H, W)`` bool, object pixels whose flow differs from the
        camera's (the flow of the background, which SynthVID moves as one)
        by more than :data:`MIN_OBJECT_MOTION`.
    """
    background = flow[:, ~object_mask]  # [2, num_background_pixels]
    camera = (
        background[:, :1] if background.numel() else flow.new_zeros(2, 1)
    )  # [2, 1]
    relative = (flow - camera[:, :, None]).norm(dim=0)  # [H, W]
    return object_mask & (relative > MIN_OBJECT_MOTION)


def _check_flow_shapes(index: int, flow: Tensor, target: Tensor,
                       object_mask: Tensor) -> None:
    """Error unless the flows are ``(1, 2, H, W)`` / ``(2, H, W)`` and the
    mask ``(H, W)``, all of the same H and W (no broadcasting).

    Args:
        index (int): Index of the pair, for the message.
        flow (Tensor): The motion network's output.
        target (Tensor): The pair's true flow.
        object_mask (Tensor): The pair's object mask.
    """
    if (target.dim() != 3 or target.shape[0] != 2 or tuple(flow.shape) !=
        (1, *target.shape)
            or tuple(object_mask.shape) != tuple(target.shape[1:])):
        raise ValueError(
            f'pair {index}: the predicted flow must be (1, 2, H, W) and the '
            'true flow (2, H, W) and the object mask (H, W) of the same H '
            f'and W, got {tuple(flow.shape)}, {tuple(target.shape)} and '
            f'{tuple(object_mask.shape)}')


def _mean(total: float, count: int) -> float:
    """``total / count``; ``nan`` when there is nothing to average."""
    return total / count if count else float('nan')


@torch.no_grad()
def flow_epe_report(motion: nn.Module, pairs: Dataset,
                    img_norm_mean: Sequence[float],
                    img_norm_std: Sequence[float],
                    num_pairs: int) -> Dict[str, object]:
    """Mean EPE of ``motion`` and of a zero flow on evenly spaced pairs.

    Args:
        motion (nn.Module): Called as ``motion(img_cur, img_prev)`` on
            detector-normalised ``(1, 3, H, W)`` images, returning the
            ``(1, 2, H, W)`` backward flow in pixels (``FlowNetSimple``).
        pairs (Dataset): Items as :class:`SynthVIDFlowPairs` gives them:
            ``img_cur``, ``img_prev`` ``(3, H, W)`` RGB in [0, 255],
            ``flow`` ``(2, H, W)``, ``object_mask`` ``(H, W)`` and
            ``degradation`` (of the current frame, ``'none'`` if clean).
        img_norm_mean (Sequence[float]): RGB mean of the detector's data
            preprocessor.
        img_norm_std (Sequence[float]): RGB std of the detector's data
            preprocessor.
        num_pairs (int): Pairs to score, evenly spaced over ``pairs``.

    Returns:
        dict: ``epe`` and ``zero_flow_epe`` over all pixels,
        ``moving_epe`` and ``moving_zero_flow_epe`` over the pixels of
        moving objects (:func:`moving_object_mask`; ``nan`` when no scored
        pair has such a pixel), ``pairs`` (scored)
        and ``moving_epe_by_degradation``: per degradation of the current
        frame (``'none'``, ``'blur'``, ...), ``epe``, ``zero_flow_epe``
        and ``pixels`` over the moving-object pixels of those pairs (a kind
        without such pixels is left out).

    Raises:
        ValueError: If a prediction, true flow or object mask does not
            have the shape of the others, naming the pair and the shapes.
    """
    if num_pairs < 1 or len(pairs) == 0:
        raise ValueError(f'need at least one pair to score, got num_pairs='
                         f'{num_pairs} of {len(pairs)}')
    mean = torch.tensor(img_norm_mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(img_norm_std, dtype=torch.float32).view(1, 3, 1, 1)
    indices = range(0, len(pairs), max(1, len(pairs) // num_pairs))
    indices = indices[:num_pairs]
    was_training = motion.training
    motion.eval()
    try:  # the caller's mode back also when a pair is refused
        sums, by_kind = _sum_epe(motion, pairs, indices, mean, std)
    finally:
        motion.train(was_training)
    moving_pixels = sum(k['pixels'] for k in by_kind.values())
    report = dict(
        epe=sums['epe'] / sums['pixels'],
        zero_flow_epe=sums['zero_epe'] / sums['pixels'],
        moving_epe=_mean(
            sum(k['epe'] for k in by_kind.values()), moving_pixels),
        moving_zero_flow_epe=_mean(
            sum(k['zero_flow_epe'] for k in by_kind.values()), moving_pixels),
        pairs=len(indices))
    report['moving_epe_by_degradation'] = {
        name: dict(
            epe=kind['epe'] / kind['pixels'],
            zero_flow_epe=kind['zero_flow_epe'] / kind['pixels'],
            pixels=kind['pixels'])
        for name, kind in sorted(by_kind.items()) if kind['pixels']
    }
    return report


def _sum_epe(motion: nn.Module, pairs: Dataset, indices: Sequence[int],
             mean: Tensor, std: Tensor) -> Tuple[dict, Dict[str, dict]]:
    """Summed EPEs of :func:`flow_epe_report` over the pairs ``indices``.

    Returns:
        tuple[dict, dict]: ``epe``, ``zero_epe`` and ``pixels`` over all
        pixels; per degradation kind, ``epe``, ``zero_flow_epe`` and
        ``pixels`` over the moving-object pixels.
    """
    sums = dict(epe=0.0, zero_epe=0.0, pixels=0)
    by_kind = defaultdict(lambda: dict(epe=0.0, zero_flow_epe=0.0, pixels=0))
    for index in indices:
        pair = pairs[index]
        target = pair['flow']  # [2, H, W]
        flow = motion((pair['img_cur'][None] - mean) / std,
                      (pair['img_prev'][None] - mean) / std)
        _check_flow_shapes(index, flow, target, pair['object_mask'])
        epe = (flow[0] - target).norm(dim=0)  # [H, W]
        zero_epe = target.norm(dim=0)  # [H, W]
        moving = moving_object_mask(target, pair['object_mask'])
        sums['epe'] += epe.sum().item()
        sums['zero_epe'] += zero_epe.sum().item()
        sums['pixels'] += epe.numel()
        kind = by_kind[pair['degradation']]
        kind['epe'] += epe[moving].sum().item()
        kind['zero_flow_epe'] += zero_epe[moving].sum().item()
        kind['pixels'] += int(moving.sum())
    return sums, by_kind
