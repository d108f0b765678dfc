# Copyright (c) memvid_mm contributors. All rights reserved.
"""Explicit per-video state of a memory detector that detects each frame's
two halves apart (``test_cfg.split_halves``)."""
from dataclasses import dataclass, field
from typing import Union

import torch

from .memory_state import MemoryState


@dataclass
class SplitHalvesState:
    """One memory per half of the frame, for one video stream, owned by
    the caller.

    Attributes:
        left (MemoryState): The memory of the frames' left halves.
        right (MemoryState): The memory of their right halves. Each resets
            on its own rules (a new video, frame 0, a gap in
            ``frame_id``), which the two halves of a frame share.
    """

    left: MemoryState = field(default_factory=MemoryState)
    right: MemoryState = field(default_factory=MemoryState)

    def reset(self) -> None:
        """Forget both halves' memories (in place)."""
        self.left.reset()
        self.right.reset()

    def to(self, device: Union[str, torch.device]) -> 'SplitHalvesState':
        """Return a copy whose tensors live on ``device``.

        Args:
            device (str | torch.device): Target device.

        Returns:
            SplitHalvesState: The moved copy.
        """
        return SplitHalvesState(
            left=self.left.to(device), right=self.right.to(device))
