# Copyright (c) memvid_mm contributors. All rights reserved.
"""One side CUDA stream per device, for work beside the current stream."""
from typing import Dict, Union

import torch


class SideStreams:
    """Hold one side CUDA stream per device, made on first use.

    ``torch.cuda.Stream(device)`` hands out the streams of a pool in turn,
    and PyTorch's caching allocator reuses a freed block only for work on
    the stream that allocated it. Work given a new stream every frame (e.g.
    FlowNet beside the backbone, ``MemoryRFCN.flows_beside_features``)
    would leave its buffers cached once per pooled stream; one stream per
    device reuses them.

    A stream is a device resource, not model state: a copy of the holder
    (``copy.deepcopy``, pickling, which a model copy does) starts empty
    and makes its own streams.
    """

    def __init__(self) -> None:
        self.streams: Dict[torch.device, torch.cuda.Stream] = {}

    def get(self, device: Union[torch.device, str]) -> torch.cuda.Stream:
        """The side stream of ``device``.

        Args:
            device (torch.device | str): A CUDA device with an index
                (``cuda:0``).

        Returns:
            torch.cuda.Stream: The same stream on every call for the device.

        Raises:
            ValueError: For a device that is not CUDA, or has no index.
        """
        device = torch.device(device)
        if device.type != 'cuda' or device.index is None:
            raise ValueError(f'side streams are per CUDA device with an '
                             f'index (cuda:0), got {device}')
        if device not in self.streams:
            self.streams[device] = torch.cuda.Stream(device)
        return self.streams[device]

    def __deepcopy__(self, memo: dict) -> 'SideStreams':
        return SideStreams()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.streams = {}
