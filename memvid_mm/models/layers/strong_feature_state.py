# Copyright (c) memvid_mm contributors. All rights reserved.
"""Explicit per-video state of :class:`StrongFeatureRFCN`.

Shape shorthand: C channels, h/w feature map size, H/W image size.
"""
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Union

import torch
from torch import Tensor

from .memory_state import EvidenceBoxes, MemoryState


@dataclass
class DelayedMemory:
    """A strong detector's output for a frame, not yet delivered.

    Attributes:
        frame_id (int): The frame s whose output it is.
        image (Tensor): ``(1, 3, H, W)`` frame s (normalised), to compute
            the flow from the frame it is delivered to.
        memory (Tensor | None): ``(1, C, h, w)`` the strong detector's
            M_s; None when its detections are propagated instead.
        boxes (EvidenceBoxes | None): The strong detector's detections of
            frame s (``test_cfg.propagate='boxes'``); None otherwise.
    """

    frame_id: int
    image: Tensor
    memory: Optional[Tensor] = None
    boxes: Optional[EvidenceBoxes] = None

    def map_tensors(self, fn: Callable[[Tensor], Tensor]) -> 'DelayedMemory':
        """Return a copy whose tensors are ``fn(tensor)``.

        Args:
            fn (Callable[[Tensor], Tensor]): Applied to ``image``,
                ``memory`` (when not None) and the tensors of ``boxes``
                (when not None).

        Returns:
            DelayedMemory: The copy, with the same ``frame_id``; ``self``
            is unchanged.
        """
        return DelayedMemory(
            frame_id=self.frame_id,
            image=fn(self.image),
            memory=None if self.memory is None else fn(self.memory),
            boxes=None if self.boxes is None else self.boxes.map_tensors(fn))


@dataclass
class StrongFeatureState:
    """The two detectors' state for one video stream, owned by the caller.

    Attributes:
        strong (MemoryState): The strong detector's memories, advanced
            every frame; it decides when the stream resets (a new video,
            frame 0, a gap in ``frame_id``).
        delayed (list[DelayedMemory]): The strong memories (or
            detections) of the last frames, oldest first, of which the
            fast detector at frame t reads only the one of frame t - delay
            (the strong detector's latency); at most ``delay`` are kept
            between frames. Emptied when ``strong`` resets.
    """

    strong: MemoryState = field(default_factory=MemoryState)
    delayed: List[DelayedMemory] = field(default_factory=list)

    def reset(self) -> None:
        """Forget everything (in place)."""
        self.strong.reset()
        self.delayed = []

    def to(self, device: Union[str, torch.device]) -> 'StrongFeatureState':
        """Return a copy whose tensors live on ``device``.

        Args:
            device (str | torch.device): Target device.

        Returns:
            StrongFeatureState: The moved copy.
        """
        return StrongFeatureState(
            strong=self.strong.to(device),
            delayed=[
                d.map_tensors(lambda t: t.to(device)) for d in self.delayed
            ])
