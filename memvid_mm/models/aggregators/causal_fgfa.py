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
* the output is ``sum_a w_a * warp(F_a)`` over the distinct frames a of
  the window ``t - K + 1 .. t``, each once, with ``w_a`` at every pixel
  the softmax over a of the cosine similarity between the embeddings
  ``e(warp(F_a))`` and ``e(F_t)`` (``e``: a few convs, FGFA's embedding
  network: 1x1 to 512, 3x3 to 512, 1x1 to 2048 channels for 1024-channel
  features).

So NF = NW = K - 1 per frame, the number of past frames, as the paper
counts for Cau. FGFA (10). At the start of a video all memories hold
``F_0``; the window then weights the frames it has, each once (FGFA's
test-time window repeats a video's first frame instead, which gives it
the weight of every frame it stands for; in training on short clips, all
in that state, the clip's first frame would outweigh the others). Every
frame must take image evidence: with frames without it, a memory would
keep its features past the window.

Shape shorthand: N batch, C channels, h/w feature size, K memories.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from torch import Tensor

from ...utils.argument_checks import is_int
from .base import BaseMemoryAggregator
from .clocknet import check_same_memory_shapes


def check_int(name: str, value: int, least: int) -> None:
    """Raise a ValueError unless ``value`` is an int (not a bool) >= least.

    Args:
        name (str): The argument, for the message.
        value (int): Its value.
        least (int): The smallest value allowed.
    """
    if not is_int(value) or value < least:
        raise ValueError(f'{name} must be ints >= {least}, got {value!r}')


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
    similarities = [(nn.functional.normalize(embedding, dim=1) *
                     reference).sum(dim=1, keepdim=True)
                    for embedding in embeddings]
    return torch.softmax(torch.cat(similarities, dim=1), dim=1)


@MODELS.register_module()
class CausalFGFAAggregator(BaseMemoryAggregator):
    """The causal FGFA baseline: K past frames' features, flow-warped and
    weighted by embedding similarity (see this module's docstring).

    ``MemoryRFCN`` runs it as it runs ClockNet's memories
    (:meth:`takes_evidence`, :meth:`update`, :meth:`combine_step`), and
    warps and computes flows only for the memories
    :meth:`overwritten_memories` does not name.

    Args:
        in_channels (int): Channels C of the features.
        num_frames (int): K, the frames aggregated: the current one and
            the K - 1 before it. The paper's Cau. FGFA aggregates 10 past
            frames, K = 11. Defaults to 11.
        embed_channels (Sequence[int]): Output channels of each conv of
            the embedding network, a ReLU between two. Defaults to
            ``(512, 512, 2048)``, FGFA's.
        embed_kernel_sizes (Sequence[int]): Their (odd) kernel sizes.
            Defaults to ``(1, 3, 1)``, FGFA's. (mmtrack's
            ``EmbedAggregator(num_convs=1, channels=C, kernel_size=3)`` is
            ``embed_channels=(C,)``, ``embed_kernel_sizes=(3,)``, with its
            parameter names.)
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.
    """

    holds_frame_window = True

    def __init__(self,
                 in_channels: int,
                 num_frames: int = 11,
                 embed_channels: Sequence[int] = (512, 512, 2048),
                 embed_kernel_sizes: Sequence[int] = (1, 3, 1),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value, least in (('in_channels', in_channels, 1),
                                   ('num_frames', num_frames, 2)):
            check_int(name, value, least)
        embed_channels, embed_kernel_sizes = tuple(embed_channels), tuple(
            embed_kernel_sizes)
        if not embed_channels or \
                len(embed_channels) != len(embed_kernel_sizes):
            raise ValueError(
                f'embed_channels and embed_kernel_sizes must be non-empty '
                f'and of one length, got {embed_channels} and '
                f'{embed_kernel_sizes}')
        for channels, kernel_size in zip(embed_channels, embed_kernel_sizes):
            check_int('embed_channels', channels, 1)
            check_int('embed_kernel_sizes', kernel_size, 1)
            if kernel_size % 2 == 0:
                raise ValueError(f'embed_kernel_sizes must be odd (the '
                                 f'embedding keeps the map size), got '
                                 f'{embed_kernel_sizes}')
        self.in_channels = in_channels
        self.num_frames = num_frames
        inputs = (in_channels, ) + embed_channels[:-1]
        last = len(embed_channels) - 1
        self.embed_convs = nn.ModuleList([
            ConvModule(
                c_in,
                c_out,
                kernel_size,
                padding=kernel_size // 2,
                act_cfg=None if i == last else dict(type='ReLU'))
            for i, (c_in, c_out, kernel_size) in enumerate(
                zip(inputs, embed_channels, embed_kernel_sizes))
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
        return [
            k == frame_index % self.num_frames for k in range(self.num_frames)
        ]

    def psi_modules(self) -> List[nn.Module]:
        """None: an update only stores the frame's features.

        Returns:
            list[nn.Module]: Empty.
        """
        return []

    def overwritten_memories(self, frame_index: int) -> List[int]:
        """The memories whose old features the frame's update discards
        unread, so that they need neither flow nor warp.

        Args:
            frame_index (int): Frames since the reset.

        Returns:
            list[int]: The memories that take evidence at the frame.
        """
        return [
            k for k, take in enumerate(self.takes_evidence(frame_index))
            if take
        ]

    def check_channels(self, channels: int) -> None:
        """Refuse features of other channels than ``in_channels``.

        Args:
            channels (int): The detector features' channels C.
        """
        if self.in_channels != channels:
            raise ValueError(
                f'aggregator has in_channels={self.in_channels}, but the '
                f'detector features have {channels} channels (detector.'
                f'feature_channels): set the aggregator\'s '
                f'in_channels to {channels}')

    def check_evidence_schedule(self, drop_prob: float,
                                evidence_interval: int) -> None:
        """Refuse frames without image evidence: the memories hold the
        window's frames only while every frame overwrites the oldest, so
        neither evidence dropout in training nor an evidence interval
        (propagation, anticipation, moved boxes) in testing.

        Args:
            drop_prob (float): ``train_cfg.evidence_drop_prob``.
            evidence_interval (int): ``test_cfg.evidence_interval``.
        """
        if drop_prob != 0:
            raise ValueError(f'CausalFGFAAggregator needs image evidence at '
                             f'every frame: set train_cfg.evidence_drop_prob'
                             f'=0.0, got {drop_prob}')
        if evidence_interval != 1:
            raise ValueError(f'CausalFGFAAggregator needs image evidence at '
                             f'every frame: test_cfg.evidence_interval must '
                             f'be 1, got {evidence_interval}')

    def check_training_clip(self, num_frames: int, clip_stride: int) -> None:
        """Refuse training clips longer than the window: the clip's first
        frame would be out of the last position's window
        (``(T - 1) * stride >= K``).

        Args:
            num_frames (int): Clip positions T.
            clip_stride (int): Frames between clip positions.
        """
        span = (num_frames - 1) * clip_stride
        if span >= self.num_frames:
            raise ValueError(
                f'{num_frames}-frame clips of stride {clip_stride} span '
                f'{span + 1} frames, more than the {self.num_frames}-frame '
                f'window of CausalFGFAAggregator(num_frames='
                f'{self.num_frames}): shorten the clips (CausalClipSample) '
                f'or widen the window')

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
        """The embedding network ``e``, applied to features.

        Args:
            feature (Tensor): ``(N, C, h, w)`` features, C =
                ``in_channels``.

        Returns:
            Tensor: ``(N, E, h, w)`` embedding, E = ``embed_channels[-1]``
            (the convs are padded, so h and w are kept).
        """
        for conv in self.embed_convs:
            feature = conv(feature)
        return feature

    def combine_step(self, memories: Sequence[Tensor], ticks: Sequence[bool],
                     anchor_ids: Sequence[int]) -> Tensor:
        """M_t of a memory step: :meth:`combine` of one memory per distinct
        frame (memories that hold one frame, as at a video's start, count
        once), F_t's the newest.

        Args:
            memories (Sequence[Tensor]): K tensors ``(N, C, h, w)`` aligned
                to the frame.
            ticks (Sequence[bool]): Which memory took the frame's features.
            anchor_ids (Sequence[int]): The frame each memory holds after
                the frame's update.

        Returns:
            Tensor: ``(N, C, h, w)``.
        """
        first_of_frame = {}
        for k, anchor_id in enumerate(anchor_ids):
            first_of_frame.setdefault(anchor_id, k)
        distinct = list(first_of_frame.values())
        newest = distinct.index(
            first_of_frame[anchor_ids[list(ticks).index(True)]])
        return self.combine([memories[k] for k in distinct], newest=newest)

    def combine(self, memories: Sequence[Tensor], newest: int) -> Tensor:
        """Weight the window's frames aligned to the current frame.

        Args:
            memories (Sequence[Tensor]): One ``(N, C, h, w)`` map per
                distinct frame of the window (1 to K), warped to the
                current frame.
            newest (int): Index in ``memories`` of the current frame's
                features ``F_t``, whose embedding the others are compared
                with.

        Returns:
            Tensor: ``(N, C, h, w)``, ``sum_k w_k * memories[k]``
            (:func:`cosine_weights`).
        """
        if not 1 <= len(memories) <= self.num_frames:
            raise ValueError(f'expected 1 to {self.num_frames} memories, '
                             f'got {len(memories)}')
        if not 0 <= newest < len(memories):
            raise ValueError(f'newest must be in [0, {len(memories)}), '
                             f'got {newest}')
        check_same_memory_shapes(memories)
        if memories[0].size(1) != self.in_channels:
            raise ValueError(f'CausalFGFAAggregator combines memories of '
                             f'(N, {self.in_channels}, h, w), got '
                             f'{tuple(memories[0].shape)}')
        stacked = torch.stack(list(memories), dim=1)  # [N, L, C, h, w]
        embeddings = self.embed(stacked.flatten(0, 1)).unflatten(
            0, stacked.shape[:2])  # [N, L, E, h, w]
        weights = cosine_weights(embeddings.unbind(1), embeddings[:, newest])
        return (weights.unsqueeze(2) * stacked).sum(dim=1)
