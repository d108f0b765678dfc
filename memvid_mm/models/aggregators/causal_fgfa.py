# Copyright (c) memvid_mm contributors. All rights reserved.
"""Causal FGFA: flow-guided aggregation of the frames in a past window.

The paper's online baseline of Table 1 ("Cau. FGFA", Sec. 5.1): FGFA
(Zhu et al., 2017) aggregates the features of nearby frames, each warped
to the current frame along FlowNet's flow and weighted per pixel by how
well its embedding agrees with the current frame's; the causal variant
"aggregates information only from nearby features in the past but not
from future frames".

It runs on the memory detector's machinery (``MemoryRFCN``) as K
memories that are never mixed: memory k holds the features ``F_a`` of one
past frame a, stored aligned to a (its anchor), and at frame t

* memory ``t mod K`` is overwritten by ``F_t`` (its own frame, the oldest
  of the window, t - K, leaves it; it is not read, so it needs no flow);
* every other memory is warped from its anchor to t,
  ``warp(F_a, flow(I_t, I_a))``;
* the output is ``sum_a w_a * warp(F_a)`` over the K frames ``t - K + 1
  .. t``, with ``w_a`` at every pixel the softmax over a of the cosine
  similarity between the embeddings ``e(warp(F_a))`` and ``e(F_t)``
  (``e``: a few convs, FGFA's embedding network).

So NF = NW = K - 1 per frame, the number of past frames, as the paper
counts for Cau. FGFA (10). At the start of a video all memories hold
``F_0`` (as FGFA's test-time window repeats the first frame of a video
where it reaches before it), so frame 0 weighs more there until the
window has filled. Every frame must take image evidence: with frames
without it, a memory would keep its features past the window.

Shape shorthand: N batch, C channels, h/w feature size, K memories.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from .clocknet import check_same_memory_shapes


def cosine_weights(embeddings: Sequence[Tensor], reference: Tensor) -> Tensor:
    """FGFA's adaptive weights: per-pixel softmax of cosine similarities.

    Args:
        embeddings (Sequence[Tensor]): K embeddings ``(N, E, h, w)`` of the
            warped features.
        reference (Tensor): ``(N, E, h, w)`` embedding of the current
            frame's features.

    Returns:
        Tensor: ``(N, K, h, w)``, positive and summing to 1 over K at every
        pixel; equal embeddings give equal weights.
    """
    reference = nn.functional.normalize(reference, dim=1)
    similarities = [
        (nn.functional.normalize(embedding, dim=1) * reference).sum(
            dim=1, keepdim=True) for embedding in embeddings
    ]
    return torch.softmax(torch.cat(similarities, dim=1), dim=1)


@MODELS.register_module()
class CausalFGFAAggregator(BaseModule):
    """The causal FGFA baseline: K past frames' features, flow-warped and
    weighted by embedding similarity (see this module's docstring).

    ``MemoryRFCN`` runs it as it runs ClockNet's memories
    (:meth:`takes_evidence`, :meth:`update`, :meth:`combine`), and warps
    and computes flows only for the memories :meth:`overwritten_memories`
    does not name.

    Args:
        in_channels (int): Channels C of the features.
        num_frames (int): K, the frames aggregated: the current one and
            the K - 1 before it. The paper's Cau. FGFA aggregates 10 past
            frames, K = 11. Defaults to 11.
        num_convs (int): Convs of the embedding network, each C to C
            channels, a ReLU between two (mmtrack's ``EmbedAggregator``;
            its parameter names, so its weights load). Defaults to 1.
        kernel_size (int): Their kernel size. Defaults to 3.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 num_frames: int = 11,
                 num_convs: int = 1,
                 kernel_size: int = 3,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value, least in (('in_channels', in_channels, 1),
                                   ('num_frames', num_frames, 2),
                                   ('num_convs', num_convs, 1),
                                   ('kernel_size', kernel_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < least:
                raise ValueError(f'{name} must be an int >= {least}, got '
                                 f'{value!r}')
        if kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be odd (the embedding keeps '
                             f'the map size), got {kernel_size}')
        self.in_channels = in_channels
        self.num_frames = num_frames
        self.embed_convs = nn.ModuleList([
            ConvModule(
                in_channels,
                in_channels,
                kernel_size,
                padding=kernel_size // 2,
                act_cfg=None if i == num_convs - 1 else dict(type='ReLU'))
            for i in range(num_convs)
        ])

    @property
    def num_memories(self) -> int:
        """int: Number K of memories, one per frame of the window."""
        return self.num_frames

    @property
    def strides(self) -> tuple:
        """tuple[int]: K strides of K: memory k takes image evidence every
        K frames (at the frames ``t mod K == k``)."""
        return (self.num_frames, ) * self.num_frames

    def takes_evidence(self, frame_index: int) -> List[bool]:
        """Which memory takes the frame's features.

        Args:
            frame_index (int): Frames since the reset (0 = first frame).

        Returns:
            list[bool]: K flags, True for memory ``frame_index mod K`` only
            (all at ``frame_index == 0``, where every memory is ``F_0``).
        """
        if frame_index < 0:
            raise ValueError(f'frame_index must be >= 0, got {frame_index}')
        if frame_index == 0:
            return [True] * self.num_frames
        return [k == frame_index % self.num_frames
                for k in range(self.num_frames)]

    def overwritten_memories(self, frame_index: int) -> List[int]:
        """The memories whose old features the frame's update discards
        unread, so that they need neither flow nor warp.

        Args:
            frame_index (int): Frames since the reset.

        Returns:
            list[int]: The memories that take evidence at the frame.
        """
        return [k for k, take in enumerate(self.takes_evidence(frame_index))
                if take]

    def psi_without_clip_updates(self, num_frames: int,
                                 clip_stride: int) -> List[int]:
        """None: no memory has parameters of its own (see
        ``ClockNetAggregator.psi_without_clip_updates``)."""
        return []

    def update(self, k: int, warped_memory: Tensor, feature: Tensor) -> Tensor:
        """Memory k takes the current frame's features, its old ones left.

        Args:
            k (int): Memory index in ``[0, K)``.
            warped_memory (Tensor, optional): ``(N, C, h, w)``, not read
                (None where it was not warped).
            feature (Tensor): ``(N, C, h, w)`` features ``F_t``.

        Returns:
            Tensor: ``feature``.
        """
        if not 0 <= k < self.num_frames:
            raise ValueError(f'memory index k must be in [0, '
                             f'{self.num_frames}), got {k}')
        if feature.dim() != 4 or feature.size(1) != self.in_channels:
            raise ValueError(f'CausalFGFAAggregator takes features of (N, '
                             f'{self.in_channels}, h, w), got '
                             f'{tuple(feature.shape)}')
        return feature

    def embed(self, feature: Tensor) -> Tensor:
        """The embedding network ``e``: ``(N, C, h, w)`` to the same."""
        for conv in self.embed_convs:
            feature = conv(feature)
        return feature

    def combine(self, memories: Sequence[Tensor], newest: int) -> Tensor:
        """Weight the K memories aligned to the current frame.

        Args:
            memories (Sequence[Tensor]): K tensors ``(N, C, h, w)``.
            newest (int): Index of the memory that holds the current
                frame's features ``F_t``, whose embedding the others are
                compared with.

        Returns:
            Tensor: ``(N, C, h, w)``, ``sum_k w_k * memories[k]``
            (:func:`cosine_weights`).
        """
        if len(memories) != self.num_frames:
            raise ValueError(f'expected {self.num_frames} memories, got '
                             f'{len(memories)}')
        if not 0 <= newest < self.num_frames:
            raise ValueError(f'newest must be in [0, {self.num_frames}), '
                             f'got {newest}')
        check_same_memory_shapes(memories)
        if memories[0].size(1) != self.in_channels:
            raise ValueError(f'CausalFGFAAggregator combines memories of '
                             f'(N, {self.in_channels}, h, w), got '
                             f'{tuple(memories[0].shape)}')
        stacked = torch.stack(list(memories), dim=1)  # [N, K, C, h, w]
        embeddings = self.embed(stacked.flatten(0, 1)).unflatten(
            0, stacked.shape[:2])
        weights = cosine_weights(embeddings.unbind(1),
                                 embeddings[:, newest])
        return (weights.unsqueeze(2) * stacked).sum(dim=1)
