# Copyright (c) memvid_mm contributors. All rights reserved.
"""MemNet's memory update psi (Memory Warps, Eq. 2-4).

One MemNet step at frame t is ``M_t = psi(warp(M_{t-1}, D(t, t-1)), F_t)``;
this module provides psi. The first frame is not psi's business: the
caller (the detector / :class:`~memvid_mm.models.layers.MemoryState`) sets
``M_1 = F_1``.

Shape shorthand: N batch, C channels, h/w feature map height/width.
"""
from typing import Tuple

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

MEMNET_MODES = ('average', 'weighting')


def average_memory_update(memory: Tensor, feature: Tensor) -> Tensor:
    """Parameter-free update, Eq. 3: ``(M + F) / 2``.

    Args:
        memory (Tensor): ``(N, C, h, w)`` warped memory ``M_hat_t``.
        feature (Tensor): ``(N, C, h, w)`` image features ``F_t``.

    Returns:
        Tensor: ``(N, C, h, w)`` new memory ``M_t``.
    """
    return (memory + feature) / 2


def memory_update_weights(logit_memory: Tensor,
                          logit_feature: Tensor) -> Tuple[Tensor, Tensor]:
    """Per-pixel softmax over the two weight logits (Eq. 4).

    Args:
        logit_memory (Tensor): ``(N, 1, h, w)`` logits of the memory.
        logit_feature (Tensor): ``(N, 1, h, w)`` logits of the features.

    Returns:
        tuple[Tensor, Tensor]: ``alpha_m, alpha_f``, each ``(N, 1, h, w)``,
        positive and summing to 1 at every pixel.
    """
    if logit_memory.shape != logit_feature.shape or \
            logit_memory.dim() != 4 or logit_memory.size(1) != 1:
        raise ValueError(
            'logit_memory and logit_feature must both be (N, 1, h, w), got '
            f'{tuple(logit_memory.shape)} and {tuple(logit_feature.shape)}')
    alphas = torch.softmax(
        torch.cat((logit_memory, logit_feature), dim=1), dim=1)  # [N,2,h,w]
    return alphas[:, 0:1], alphas[:, 1:2]


def weighted_memory_update(memory: Tensor, feature: Tensor,
                           logit_memory: Tensor,
                           logit_feature: Tensor) -> Tensor:
    """Adaptive update, Eq. 4: ``alpha_m * M + alpha_f * F``.

    Args:
        memory (Tensor): ``(N, C, h, w)`` warped memory ``M_hat_t``.
        feature (Tensor): ``(N, C, h, w)`` image features ``F_t``.
        logit_memory (Tensor): ``(N, 1, h, w)`` weight logits computed from
            the memory.
        logit_feature (Tensor): ``(N, 1, h, w)`` weight logits computed from
            the features.

    Returns:
        Tensor: ``(N, C, h, w)`` new memory ``M_t``; ``(alpha_m, alpha_f)`` is
        the per-pixel softmax of the two logits.
    """
    alpha_m, alpha_f = memory_update_weights(logit_memory, logit_feature)
    return alpha_m * memory + alpha_f * feature


def weight_logit_cnn(in_channels: int, hidden_channels: int) -> nn.Sequential:
    """3x3 conv -> ReLU -> 1x1 conv to one logit channel.

    The last conv starts at zero, so fresh weight CNNs give equal logits:
    a per-pixel softmax over them starts as a plain mean (Eq. 3 for MemNet,
    the paper's average for ClockNet's memories).

    Args:
        in_channels (int): Input channels.
        hidden_channels (int): Channels after the 3x3 conv.

    Returns:
        nn.Sequential: Maps ``(N, in_channels, h, w)`` to ``(N, 1, h, w)``.
    """
    cnn = nn.Sequential(
        nn.Conv2d(in_channels, hidden_channels, 3, padding=1),
        nn.ReLU(inplace=True), nn.Conv2d(hidden_channels, 1, 1))
    nn.init.zeros_(cnn[2].weight)
    nn.init.zeros_(cnn[2].bias)
    return cnn


@MODELS.register_module()
class MemNetAggregator(BaseModule):
    """The MemNet memory update ``M_t = psi(M_hat_t, F_t)``.

    Args:
        in_channels (int): Channels C of memory and features.
        mode (str): ``'average'`` (Eq. 3, no parameters) or
            ``'weighting'`` (Eq. 4: two weight CNNs, one on the warped
            memory, one on the features, each 3x3 conv -> ReLU -> 1x1 conv
            to one channel; per-pixel softmax of the two outputs).
            Defaults to ``'average'``.
        hidden_channels (int): Hidden channels of each weight CNN (only used
            by ``'weighting'``). Defaults to 256.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (PyTorch default for the 3x3 convs, zeros for
            the final 1x1 convs so that training starts from Eq. 3).
    """

    def __init__(self,
                 in_channels: int,
                 mode: str = 'average',
                 hidden_channels: int = 256,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode not in MEMNET_MODES:
            raise ValueError(f'mode must be one of {MEMNET_MODES}, got '
                             f'{mode!r}')
        if in_channels < 1 or hidden_channels < 1:
            raise ValueError('in_channels and hidden_channels must be >= 1, '
                             f'got {in_channels} and {hidden_channels}')
        self.in_channels = in_channels
        self.mode = mode
        self.hidden_channels = hidden_channels
        if mode == 'weighting':
            self.memory_weight_cnn = weight_logit_cnn(in_channels,
                                                      hidden_channels)
            self.feature_weight_cnn = weight_logit_cnn(in_channels,
                                                       hidden_channels)

    def forward(self, warped_memory: Tensor, feature: Tensor) -> Tensor:
        """Aggregate new image evidence into the warped memory.

        Args:
            warped_memory (Tensor): ``(N, C, h, w)`` memory warped to the
                current frame.
            feature (Tensor): ``(N, C, h, w)`` features of the current frame.

        Returns:
            Tensor: ``(N, C, h, w)`` updated memory.
        """
        if warped_memory.shape != feature.shape or feature.dim() != 4 or \
                feature.size(1) != self.in_channels:
            raise ValueError(
                'warped_memory and feature must both be (N, '
                f'{self.in_channels}, h, w), got '
                f'{tuple(warped_memory.shape)} and {tuple(feature.shape)}')
        if self.mode == 'average':
            return average_memory_update(warped_memory, feature)
        return weighted_memory_update(warped_memory, feature,
                                      self.memory_weight_cnn(warped_memory),
                                      self.feature_weight_cnn(feature))
