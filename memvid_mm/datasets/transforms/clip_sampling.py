# Copyright (c) memvid_mm contributors. All rights reserved.
"""Causal clip sampling: the key frame and the frames before it."""
import copy
import random
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

from mmdet.datasets.transforms import BaseFrameSample
from mmdet.registry import TRANSFORMS

from ...utils.argument_checks import is_int


def causal_clip_indices(key_frame_id: int, num_frames: int,
                        stride: int) -> Tuple[List[int], List[int]]:
    """Frame indices ``[t-(T-1)s, ..., t-s, t]`` clamped at the video start.

    An index before the video start becomes the earliest frame of the
    clip's phase, ``t mod s``, so consecutive clip frames are always s or 0
    frames apart, never a shorter step that the memory models' clocks
    (which count ``position * s``) would misread: key frame 5, T = 6,
    s = 4 gives ``[1, 1, 1, 1, 1, 5]``. With s = 1 that is frame 0.

    Args:
        key_frame_id (int): Key frame index t (>= 0).
        num_frames (int): Clip length T.
        stride (int): Step s between clip frames.

    Returns:
        tuple[list[int], list[int]]: T indices in time order (key frame
        last) and their offsets ``index - t`` (0 for the key frame,
        negative or 0 before it).
    """
    indices = [
        max(key_frame_id % stride,
            key_frame_id - (num_frames - 1 - i) * stride)
        for i in range(num_frames)
    ]
    return indices, [i - key_frame_id for i in indices]


@TRANSFORMS.register_module()
class CausalClipSample(BaseFrameSample):
    """Sample an ordered causal clip ending at the key frame.

    From a video dict (``images``, ``video_length``, ``video_id``,
    optionally ``key_frame_id``) it picks frames
    ``[t-(T-1)s, ..., t-s, t]`` (indices before the video start clamped
    to frame ``t mod s``, :func:`causal_clip_indices`, so early key frames
    and one-frame videos such as DET images repeat frames) and returns the
    dict of lists consumed by ``TransformBroadcaster`` and
    ``PackTrackInputs``: one entry per clip frame for every frame key, with
    ``video_id``, ``ori_video_length`` (the video's length) and
    ``video_length`` (T) copied in, plus ``key_frame_flags`` (True only for
    the last frame), ``clip_frame_offsets`` (``index - t`` per frame) and
    ``clip_stride`` (s, per frame; the memory models' clocks need it). Pack
    the last two with ``PackTrackInputs(meta_keys=('clip_frame_offsets',
    'clip_stride'))``.
    Without ``key_frame_id`` the key frame is drawn uniformly.

    Args:
        num_frames (int): Clip length T >= 1. Defaults to 3.
        stride (int): Step s >= 1 between clip frames. Defaults to 1.
        collect_video_keys (Sequence[str]): Video-level keys copied into
            every frame. Defaults to ``('video_id', 'video_length')``.
    """

    def __init__(
        self,
        num_frames: int = 3,
        stride: int = 1,
        collect_video_keys: Sequence[str] = ('video_id', 'video_length')
    ) -> None:
        if not is_int(num_frames) or num_frames < 1:
            raise ValueError(
                f'num_frames must be an int >= 1, got {num_frames!r}')
        if not is_int(stride) or stride < 1:
            raise ValueError(f'stride must be an int >= 1, got {stride!r}')
        super().__init__(collect_video_keys=list(collect_video_keys))
        self.num_frames = int(num_frames)
        self.stride = int(stride)

    def transform(self, video_infos: dict) -> Dict[str, List]:
        """Sample the clip.

        Args:
            video_infos (dict): The whole video's information.

        Returns:
            dict: Per-frame lists (length T) and ``key_frame_flags``.
        """
        video_length = video_infos['video_length']
        if video_length < 1 or len(video_infos['images']) != video_length:
            raise ValueError(
                f"video {video_infos.get('video_id')} has video_length "
                f"{video_length} and {len(video_infos['images'])} images")
        key = video_infos.get('key_frame_id')
        if key is None:
            key = random.randrange(video_length)
        if not isinstance(key, int) or not 0 <= key < video_length:
            raise ValueError(f'key_frame_id must be an int in [0, '
                             f'{video_length}), got {key!r}')
        indices, offsets = causal_clip_indices(key, self.num_frames,
                                               self.stride)
        results = self._collate(video_infos, indices)
        results['clip_frame_offsets'] = offsets
        results['clip_stride'] = [self.stride] * self.num_frames
        results['key_frame_flags'] = [False] * (self.num_frames - 1) + [True]
        return results

    def _collate(self, video_infos: dict,
                 indices: List[int]) -> Dict[str, List]:
        """Frame dicts (copied, so repeats are independent) to lists."""
        out: Dict[str, List] = defaultdict(list)
        for index in indices:
            frame = copy.deepcopy(video_infos['images'][index])
            for key in self.collect_video_keys:
                if key == 'video_length':
                    frame['ori_video_length'] = video_infos['video_length']
                    frame['video_length'] = len(indices)
                else:
                    frame[key] = video_infos[key]
            for key, value in frame.items():
                out[key].append(value)
        return dict(out)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_frames={self.num_frames}, '
                f'stride={self.stride}, '
                f'collect_video_keys={self.collect_video_keys})')
