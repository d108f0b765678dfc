# Copyright (c) memvid_mm contributors. All rights reserved.
"""What ``MemoryRFCN`` asks of its aggregator, with the defaults of a
recurrent memory (MemNet / ClockNet).

Shape shorthand: N batch, C channels, h/w feature size, K memories.
"""
from typing import List, Sequence

from mmengine.model import BaseModule
from torch import Tensor, nn


class BaseMemoryAggregator(BaseModule):
    """The K memories' schedule, update and combination.

    Subclasses define ``strides``, ``num_memories``, ``takes_evidence``,
    ``update``, ``combine``, ``check_channels`` and ``psi_modules``; the
    other methods here are the settings checks and hooks whose defaults
    suit a memory whose every update reads its warped memory
    (:class:`ClockNetAggregator`) and that :class:`CausalFGFAAggregator`
    overrides.

    Attributes:
        holds_frame_window (bool): True when the K memories are the last K
            frames' features, each kept unmixed (a sliding window), not
            recurrent memories. False here.
    """

    holds_frame_window = False

    def check_channels(self, channels: int) -> None:
        """Raise a ValueError unless the aggregator reads features of
        ``channels`` channels (the detector's ``feature_channels``).

        Args:
            channels (int): The detector features' channels C.
        """
        raise NotImplementedError

    def check_evidence_schedule(self, drop_prob: float,
                                evidence_interval: int) -> None:
        """Raise a ValueError for evidence settings the aggregator cannot
        follow. Any are fine by default.

        Args:
            drop_prob (float): ``train_cfg.evidence_drop_prob``.
            evidence_interval (int): ``test_cfg.evidence_interval``.
        """

    def check_training_clip(self, num_frames: int, clip_stride: int) -> None:
        """Raise a ValueError for training clips the aggregator cannot
        take. Any are fine by default.

        Args:
            num_frames (int): Clip positions T.
            clip_stride (int): Frames between clip positions.
        """

    def psi_modules(self) -> List[nn.Module]:
        """The modules whose ``forward`` is a memory update's psi, each
        call one update (the benchmark times them as aggregation).

        Returns:
            list[nn.Module]: Distinct modules, none if no update has a
            psi of its own.
        """
        raise NotImplementedError

    def psi_without_clip_updates(self, num_frames: int,
                                 clip_stride: int) -> List[int]:
        """Memories with learned updates of their own that a training clip
        never applies (they would get no gradient). None by default.

        Args:
            num_frames (int): Clip positions T.
            clip_stride (int): Frames between clip positions.

        Returns:
            list[int]: Memory indices k.
        """
        return []

    def overwritten_memories(self, frame_index: int) -> List[int]:
        """The memories whose old contents a frame's update discards
        unread, so that they need neither flow nor warp. None by default:
        every update reads its warped memory.

        Args:
            frame_index (int): Frames since the reset.

        Returns:
            list[int]: Memory indices k.
        """
        return []

    def combine_step(self, memories: Sequence[Tensor], ticks: Sequence[bool],
                     anchor_ids: Sequence[int]) -> Tensor:
        """M_t of a memory step: by default ``combine(memories)``.

        Args:
            memories (Sequence[Tensor]): K tensors ``(N, C, h, w)`` aligned
                to the frame.
            ticks (Sequence[bool]): Which memories took its evidence.
            anchor_ids (Sequence[int]): The frame each memory holds after
                the frame's update.

        Returns:
            Tensor: ``(N, C, h, w)``.
        """
        return self.combine(memories)
