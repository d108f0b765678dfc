# Copyright (c) memvid_mm contributors. All rights reserved.
"""ClockNet: K MemNet memories on time axes of different strides.

Semantics (Memory Warps, Sec. 3.2; the paper's k = [1, 3, 4] means strides
``2^(k-1)`` = 1, 4, 8). ``frame_index`` counts frames since the memories
were reset (0 = first frame). For every frame t with features ``F_t`` and
image ``I_t``:

* ``frame_index == 0``: every memory is ``F_t`` and its anchor is t.
* otherwise, for every memory k:

  1. warp it from its anchor frame a_k (the last frame at which it took
     image evidence; memory k is stored aligned to a_k) to t:
     ``M_hat^k = warp(M^k, flow(I_t, I_{a_k}))``;
  2. if it takes evidence at t (``frame_index % strides[k] == 0``):
     ``M^k = psi_k(M_hat^k, F_t)`` and its anchor becomes t; otherwise
     ``M^k`` and its anchor are kept unchanged.

* the output at t combines the K warped/updated memories (``M^k`` for
  memories that took evidence, ``M_hat^k`` for the others): their mean, as
  in the paper (``combine='average'``), or a learned per-pixel weighting
  (``combine='weighting'``): ``sum_k alpha^k M^k`` with ``alpha`` the
  per-pixel softmax over k of logits ``g_k([M^k, M^r])``, where ``g_k`` is
  a small CNN and ``M^r`` the memory of the smallest stride (the one that
  took the most recent evidence), so each memory's weight can depend on
  how well it agrees with the freshest one, e.g. where a long-stride
  memory was warped over many frames with an imperfect flow. The ``g_k``
  start at zero, so training starts from the average. (The paper found no
  gain from a learned weighting on ImageNet VID; it is an option here.)

Every frame thus needs K warps and at most K flows (NF = NW = K, as in the
paper); memories whose anchors coincide share one flow, so
:func:`clocknet_reference` computes the flow once per distinct anchor.
With ``strides=(1,)`` this is exactly MemNet.

Shape shorthand: N batch, C channels, h/w feature size, H/W image size,
K number of memories, T number of frames.
"""
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from torch import Tensor

from ..layers.flow_warp import flow_warp
from .base import BaseMemoryAggregator
from .memnet import MemNetAggregator, weight_logit_cnn

FlowFn = Callable[[Tensor, Tensor], Tensor]
WarpFn = Callable[[Tensor, Tensor], Tensor]
UpdateFn = Callable[[int, Tensor, Tensor], Tensor]
CombineFn = Callable[[Sequence[Tensor]], Tensor]
CLOCKNET_COMBINES = ('average', 'weighting')


def check_strides(strides: Sequence[int]) -> tuple:
    """Validate ClockNet strides and return them as a tuple of ints.

    Args:
        strides (Sequence[int]): One positive stride per memory, no two
            alike (two memories of one stride would hold the same features
            at twice the cost).

    Returns:
        tuple[int]: The strides.
    """
    if isinstance(strides, int) or len(strides) == 0:
        raise ValueError('strides must be a non-empty sequence of positive '
                         f'ints, got {strides!r}')
    if any(isinstance(s, bool) for s in strides):
        raise ValueError(f'strides must be positive ints, got {strides!r}')
    out = tuple(int(s) for s in strides)
    if any(s < 1 or s != s0 for s, s0 in zip(out, strides)):
        raise ValueError(f'strides must be positive ints, got {strides!r}')
    if len(set(out)) != len(out):
        raise ValueError(f'strides must differ from each other (memories of '
                         f'one stride hold the same features), got '
                         f'{strides!r}')
    return out


def takes_evidence(frame_index: int, strides: Sequence[int]) -> List[bool]:
    """Which memories take image evidence at ``frame_index``.

    Args:
        frame_index (int): Frames since the memories were reset (0 = first
            frame).
        strides (Sequence[int]): Stride of each memory.

    Returns:
        list[bool]: K flags, ``frame_index % strides[k] == 0``.
    """
    if frame_index < 0:
        raise ValueError(f'frame_index must be >= 0, got {frame_index}')
    return [frame_index % int(s) == 0 for s in strides]


def memories_without_clip_updates(strides: Sequence[int], num_frames: int,
                                  clip_stride: int) -> List[int]:
    """Memories that take no evidence after the first frame of a clip.

    A training clip of T positions ``clip_stride`` frames apart starts every
    memory at position 0; position t is frame ``t * clip_stride`` of the
    schedule (:func:`takes_evidence`).

    Args:
        strides (Sequence[int]): Stride of each memory.
        num_frames (int): Clip positions T.
        clip_stride (int): Frames between clip positions.

    Returns:
        list[int]: The indices k of the memories that are never updated
        (their psi is not applied) after position 0.
    """
    ticks = [
        takes_evidence(t * clip_stride, strides) for t in range(1, num_frames)
    ]
    return [k for k in range(len(strides)) if not any(t[k] for t in ticks)]


def check_same_memory_shapes(memories: Sequence[Tensor]) -> None:
    """Raise unless the memories are ``(N, C, h, w)`` maps of one shape.

    Combining them would otherwise broadcast, e.g. a ``(1, C, h, w)``
    memory over a batch of two, into a plausible but wrong map.

    Args:
        memories (Sequence[Tensor]): K tensors to be combined.
    """
    shapes = [tuple(memory.shape) for memory in memories]
    if any(len(shape) != 4 for shape in shapes) or len(set(shapes)) > 1:
        raise ValueError(f'the memories to combine must be (N, C, h, w) '
                         f'maps of one shape, got {shapes}')


def combine_memories(memories: Sequence[Tensor]) -> Tensor:
    """Average the K memories of a frame: ``(1/K) sum_k M^k``.

    Args:
        memories (Sequence[Tensor]): K tensors ``(N, C, h, w)`` aligned to
            the same frame.

    Returns:
        Tensor: ``(N, C, h, w)`` their mean.
    """
    if len(memories) == 0:
        raise ValueError('combine_memories needs at least one memory')
    check_same_memory_shapes(memories)
    return _mean(memories)


def _mean(memories: Sequence[Tensor]) -> Tensor:
    """The mean of memories already checked to be of one shape.

    Args:
        memories (Sequence[Tensor]): K tensors ``(N, C, h, w)``.

    Returns:
        Tensor: ``(N, C, h, w)`` their mean.
    """
    total = memories[0]
    for memory in memories[1:]:
        total = total + memory
    return total / len(memories)


def weighted_combine_memories(memories: Sequence[Tensor],
                              logits: Sequence[Tensor]) -> Tensor:
    """Per-pixel softmax weighting of K memories: ``sum_k alpha^k M^k``.

    Args:
        memories (Sequence[Tensor]): K tensors ``(N, C, h, w)`` aligned to
            the same frame.
        logits (Sequence[Tensor]): K weight logits ``(N, 1, h, w)``; the
            weights ``alpha`` are their softmax over k at every pixel.

    Returns:
        Tensor: ``(N, C, h, w)``; equal logits give the mean.
    """
    if len(memories) == 0 or len(memories) != len(logits):
        raise ValueError(f'need one logit map per memory, got '
                         f'{len(memories)} memories and {len(logits)} '
                         'logit maps')
    check_same_memory_shapes(memories)
    for memory, logit in zip(memories, logits):
        if logit.dim() != 4 or logit.size(1) != 1 or \
                logit.shape[2:] != memory.shape[2:] or \
                logit.size(0) != memory.size(0):
            raise ValueError(
                'each logit map must be (N, 1, h, w) of its memory '
                f'{tuple(memory.shape)}, got {tuple(logit.shape)}')
    alphas = torch.softmax(torch.cat(list(logits), dim=1), dim=1)
    total = alphas[:, 0:1] * memories[0]
    for k in range(1, len(memories)):
        total = total + alphas[:, k:k + 1] * memories[k]
    return total


def clocknet_reference(
        features: Sequence[Tensor],
        imgs: Sequence[Tensor],
        strides: Sequence[int],
        flow_fn: FlowFn,
        update_fn: UpdateFn,
        warp_fn: WarpFn = flow_warp,
        combine_fn: CombineFn = combine_memories) -> List[Tensor]:
    """Run the whole ClockNet recurrence over a sequence (reference).

    A plain, readable implementation of the semantics in this module's
    docstring, used by the tests and as the specification of the online
    loop the detector implements frame by frame.

    Args:
        features (Sequence[Tensor]): T tensors ``(N, C, h, w)``, ``F_t``.
        imgs (Sequence[Tensor]): T tensors ``(N, 3, H, W)``, ``I_t``.
        strides (Sequence[int]): Stride of each of the K memories.
        flow_fn (Callable): ``flow_fn(img_cur, img_anchor) -> (N, 2, H, W)``
            backward flow from frame t to the anchor frame (e.g. a
            :class:`~memvid_mm.models.motion.FlowNetSimple`).
        update_fn (Callable): ``update_fn(k, warped_memory, feature) ->
            memory``, psi of memory k (e.g.
            :meth:`ClockNetAggregator.update`).
        warp_fn (Callable): ``warp_fn(memory, flow) -> warped``. Defaults to
            :func:`~memvid_mm.models.layers.flow_warp`.
        combine_fn (Callable): ``combine_fn(memories) -> output`` over the K
            memories of a frame. Defaults to :func:`combine_memories` (the
            mean).

    Returns:
        list[Tensor]: T tensors ``(N, C, h, w)``, the output (combined
        memories) at every frame.
    """
    strides = check_strides(strides)
    if len(features) != len(imgs):
        raise ValueError(f'got {len(features)} features but {len(imgs)} '
                         'images')
    memories: List[Tensor] = []
    anchors: List[int] = []
    outputs = []
    for t, (feature, img) in enumerate(zip(features, imgs)):
        if t == 0:
            memories = [feature] * len(strides)
            anchors = [0] * len(strides)
            outputs.append(combine_fn(memories))
            continue
        flows: Dict[int, Tensor] = {}  # one flow per distinct anchor
        for a in anchors:
            if a not in flows:
                flows[a] = flow_fn(img, imgs[a])
        current = [warp_fn(m, flows[a]) for m, a in zip(memories, anchors)]
        for k, take in enumerate(takes_evidence(t, strides)):
            if take:
                current[k] = update_fn(k, current[k], feature)
                memories[k], anchors[k] = current[k], t
        outputs.append(combine_fn(current))
    return outputs


@MODELS.register_module()
class ClockNetAggregator(BaseMemoryAggregator):
    """ClockNet's K memories: schedule, per-memory psi and combination.

    The detector runs the loop (see this module's docstring and
    :func:`clocknet_reference`) with :meth:`takes_evidence`,
    :meth:`update` and :meth:`combine`; the memories themselves live in a
    :class:`~memvid_mm.models.layers.MemoryState`.

    Args:
        strides (Sequence[int]): Time stride of each memory; memory k takes
            image evidence when ``frame_index % strides[k] == 0``. The
            paper's ClockNet uses ``(1, 4, 8)``; ``(1,)`` is MemNet.
            Defaults to ``(1, 4, 8)``.
        memnet (dict, optional): Config of the psi module, a
            ``MemNetAggregator``. Defaults to None, meaning
            ``dict(type='MemNetAggregator', in_channels=1024,
            mode='average')``.
        share_memnet (bool): If True one psi module (``self.memnets[0]``) is
            shared by all memories; if False memory k has its own copy
            ``self.memnets[k]`` built from the same config (only matters for
            ``mode='weighting'``). Defaults to True.
        combine (str): How the K memories of a frame make its output:
            ``'average'`` (the paper) or ``'weighting'`` (per-pixel softmax
            over k of ``combine_cnns[k]([M^k, M^r])``, ``M^r`` the memory of
            the smallest stride; see the module docstring). With K = 1 both
            return the memory itself and no CNN is built. Defaults to
            ``'average'``.
        combine_hidden_channels (int): Hidden channels of each combination
            weight CNN (``combine='weighting'`` only). Defaults to 256.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.
    """

    def __init__(self,
                 strides: Sequence[int] = (1, 4, 8),
                 memnet: OptConfigType = None,
                 share_memnet: bool = True,
                 combine: str = 'average',
                 combine_hidden_channels: int = 256,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.strides = check_strides(strides)
        if not isinstance(share_memnet, bool):
            raise TypeError(f'share_memnet must be a bool, got '
                            f'{share_memnet!r}')
        if memnet is None:
            # the class, not its name: found under any default scope
            memnet = dict(
                type=MemNetAggregator, in_channels=1024, mode='average')
        self.share_memnet = share_memnet
        num_modules = 1 if share_memnet else len(self.strides)
        self.memnets = nn.ModuleList(
            [MODELS.build(memnet) for _ in range(num_modules)])
        if combine not in CLOCKNET_COMBINES:
            raise ValueError(f'combine must be one of {CLOCKNET_COMBINES}, '
                             f'got {combine!r}')
        # The memory of the smallest stride takes evidence most often; it
        # holds the latest evidence whenever the other strides are its
        # multiples (as in the paper's 1, 4, 8), and is the reference of
        # the learned combination in any case.
        self.reference_index = self.strides.index(min(self.strides))
        if combine == 'weighting' and self.num_memories > 1:
            channels = self.memnets[0].in_channels
            self.combine_cnns = nn.ModuleList([
                weight_logit_cnn(2 * channels, combine_hidden_channels)
                for _ in self.strides
            ])
        else:
            self.combine_cnns = None

    @property
    def num_memories(self) -> int:
        """int: Number K of memories."""
        return len(self.strides)

    def takes_evidence(self, frame_index: int) -> List[bool]:
        """Flags of the memories that take image evidence at a frame.

        Args:
            frame_index (int): Frames since the reset (0 = first frame).

        Returns:
            list[bool]: K flags (all True at ``frame_index == 0``).
        """
        return takes_evidence(frame_index, self.strides)

    def check_channels(self, channels: int) -> None:
        """Refuse a psi built for other channels than the features'.

        Args:
            channels (int): The detector features' channels C.
        """
        for k, memnet in enumerate(self.memnets):
            if memnet.in_channels != channels:
                raise ValueError(
                    f'aggregator psi {k} has in_channels={memnet.in_channels}'
                    f', but the memory has the channels of the detector '
                    f'features, which have {channels} channels (detector.'
                    f'feature_channels): set the aggregator\'s in_channels '
                    f'to {channels}')

    def psi_modules(self) -> List[nn.Module]:
        """The psi modules, one shared by all memories or one each.

        Returns:
            list[nn.Module]: ``self.memnets``.
        """
        return list(self.memnets)

    def psi_without_clip_updates(self, num_frames: int,
                                 clip_stride: int) -> List[int]:
        """Memories whose own learned psi a training clip never applies.

        Only with ``share_memnet=False`` does a memory have a psi of its
        own; one that takes no evidence after the first clip frame
        (:func:`memories_without_clip_updates`) gets no gradient then.

        Args:
            num_frames (int): Clip positions T.
            clip_stride (int): Frames between clip positions.

        Returns:
            list[int]: Indices k of such memories (empty when psi is shared
            or has no parameters).
        """
        if self.share_memnet:
            return []
        return [
            k for k in memories_without_clip_updates(self.strides, num_frames,
                                                     clip_stride)
            if any(p.requires_grad for p in self.memnets[k].parameters())
        ]

    def update(self, k: int, warped_memory: Tensor, feature: Tensor) -> Tensor:
        """Apply memory k's psi.

        Args:
            k (int): Memory index in ``[0, K)``.
            warped_memory (Tensor): ``(N, C, h, w)`` memory k warped to the
                current frame.
            feature (Tensor): ``(N, C, h, w)`` current image features.

        Returns:
            Tensor: ``(N, C, h, w)`` the new memory k.
        """
        if not 0 <= k < self.num_memories:
            raise ValueError(f'memory index k must be in [0, '
                             f'{self.num_memories}), got {k}')
        memnet = self.memnets[0 if self.share_memnet else k]
        return memnet(warped_memory, feature)

    def combine(self, memories: Sequence[Tensor]) -> Tensor:
        """Combine the K memories aligned to the current frame.

        Args:
            memories (Sequence[Tensor]): K tensors ``(N, C, h, w)``.

        Returns:
            Tensor: ``(N, C, h, w)``, their mean (``combine='average'``) or
            learned per-pixel weighting (``combine='weighting'``).
        """
        if len(memories) != self.num_memories:
            raise ValueError(f'expected {self.num_memories} memories, got '
                             f'{len(memories)}')
        check_same_memory_shapes(memories)  # before the CNNs read them
        channels = self.memnets[0].in_channels
        if memories[0].size(1) != channels:
            raise ValueError(
                f'ClockNetAggregator combines memories of (N, {channels}, h, '
                f'w) (its memnet\'s in_channels), got '
                f'{[tuple(m.shape) for m in memories]}')
        if self.combine_cnns is None:
            return _mean(memories)
        reference = memories[self.reference_index]
        logits = [
            cnn(torch.cat((memory, reference), dim=1))
            for cnn, memory in zip(self.combine_cnns, memories)
        ]
        return weighted_combine_memories(memories, logits)

    def run_sequence(self,
                     features: Sequence[Tensor],
                     imgs: Sequence[Tensor],
                     flow_fn: FlowFn,
                     warp_fn: Optional[WarpFn] = None) -> List[Tensor]:
        """Run :func:`clocknet_reference` with this module's psi/combine.

        Args:
            features (Sequence[Tensor]): T tensors ``(N, C, h, w)``.
            imgs (Sequence[Tensor]): T tensors ``(N, 3, H, W)``.
            flow_fn (Callable): ``flow_fn(img_cur, img_anchor)``.
            warp_fn (Callable, optional): ``warp_fn(memory, flow)``.
                Defaults to None (:func:`flow_warp`).

        Returns:
            list[Tensor]: T outputs ``(N, C, h, w)``.
        """
        return clocknet_reference(features, imgs, self.strides, flow_fn,
                                  self.update, warp_fn or flow_warp,
                                  self.combine)
