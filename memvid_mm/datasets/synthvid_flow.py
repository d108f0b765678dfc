# Copyright (c) memvid_mm contributors. All rights reserved.
"""SynthVID frame pairs with their exact flow, to pre-train a FlowNet.

The paper's FlowNet is pre-trained on Flying Chairs before the detector
sees it; SynthVID has no such data to download, but its generator knows the
motion of every pixel (camera pan, object translation and zoom), so it can
serve the ground-truth flow of any two frames of a video
(:meth:`SceneMotion.backward_flow`).
``tools/misc/pretrain_flownet_synthvid.py`` trains the SynthVID configs'
light FlowNet on these pairs.
"""
from typing import Any, Dict, List, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..utils.argument_checks import is_int
from .synthvid import DEGRADATIONS, SceneMotion, render_split


class SynthVIDFlowPairs(Dataset):
    """Every pair (frame t, frame t - gap) of a rendered SynthVID split.

    The videos are rendered in memory with the same seeds as the written
    split (:func:`render_split`), and each frame goes through the JPEG
    round trip the written frames get, so the images are those a detector
    reads from disk. Pairs are all ``(video, t, gap)`` with
    ``1 <= gap <= min(t, max_gap)``, in that order.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'flow'`` (extra videos
            for pre-training, see ``synthvid.SPLIT_STREAMS``).
        num_videos (int): Videos in the split.
        num_frames (int): Frames per video.
        width (int): Frame width W.
        height (int): Frame height H.
        seed (int): Data set seed.
        max_gap (int): Largest frame distance of a pair. Defaults to 1.
        jpeg_quality (int): JPEG quality of the round trip; 0 keeps the
            rendered pixels. Defaults to 90 (that of the written split).
        blur (str): How the split's ``blur`` frames are smeared, one of
            ``synthvid.BLUR_MODES``. Defaults to ``'frame'``.
        degradations (Sequence[str]): The kinds the split's degraded runs
            draw from. Defaults to ``synthvid.DEGRADATIONS``.
    """

    def __init__(self,
                 split: str,
                 num_videos: int,
                 num_frames: int,
                 width: int,
                 height: int,
                 seed: int,
                 max_gap: int = 1,
                 jpeg_quality: int = 90,
                 blur: str = 'frame',
                 degradations: Sequence[str] = DEGRADATIONS) -> None:
        if not (is_int(max_gap) and is_int(num_frames)) or max_gap < 1 \
                or num_frames <= 1:
            raise ValueError('need ints max_gap >= 1 and num_frames > 1, '
                             f'got max_gap={max_gap!r}, '
                             f'num_frames={num_frames!r}')
        if not is_int(num_videos) or num_videos < 1:
            raise ValueError(
                f'need an int num_videos >= 1, got num_videos={num_videos!r}')
        if not (is_int(width) and is_int(height)) or min(width, height) < 16:
            raise ValueError('need int frame sizes of at least 16x16, got '
                             f'width={width!r}, height={height!r}')
        if not is_int(jpeg_quality) or not 0 <= jpeg_quality <= 100:
            raise ValueError('need an int jpeg_quality in [0, 100] (0: no '
                             f'JPEG), got jpeg_quality={jpeg_quality!r}')
        self.width, self.height = width, height
        self.frames: List[List[np.ndarray]] = []
        self.degradations: List[List[str]] = []
        self.motions: List[SceneMotion] = []
        for frames, _, schedule, motion in render_split(
                split, num_videos, num_frames, width, height, seed, blur,
                degradations):
            if jpeg_quality:
                frames = [_jpeg_round_trip(f, jpeg_quality) for f in frames]
            self.frames.append(frames)
            self.degradations.append(list(schedule))
            self.motions.append(motion)
        self.pairs: List[Tuple[int, int, int]] = [
            (v, t, gap) for v in range(num_videos)
            for t in range(1, num_frames)
            for gap in range(1,
                             min(t, max_gap) + 1)
        ]

    @classmethod
    def from_settings(cls,
                      split: str,
                      num_videos: int,
                      settings: Dict[str, Any],
                      max_gap: int = 1) -> 'SynthVIDFlowPairs':
        """The pairs of a split rendered with a SynthVID root's generator
        settings.

        Args:
            split (str): As in the constructor.
            num_videos (int): Videos in the split.
            settings (dict): ``load_synthvid_settings(data_root)``: frame
                count and size, seed, blur mode and degradation kinds of
                the written data.
            max_gap (int): Largest frame distance of a pair. Defaults to 1.

        Returns:
            SynthVIDFlowPairs: The pairs, frames as the generator wrote
            them.
        """
        return cls(
            split,
            num_videos,
            num_frames=settings['num_frames'],
            width=settings['width'],
            height=settings['height'],
            seed=settings['seed'],
            max_gap=max_gap,
            blur=settings['blur'],
            degradations=settings['degradations'])

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Dict[str, Tensor]:
        """One pair.

        Returns:
            dict[str, Tensor]: ``img_cur`` and ``img_prev``, ``(3, H, W)``
            float32 RGB in [0, 255]; ``flow``, ``(2, H, W)`` float32
            backward flow from ``img_cur`` to ``img_prev`` in pixels
            (channel 0 = dx); ``object_mask``, ``(H, W)`` bool, the
            pixels of ``img_cur`` on an object; ``gap``, the frame distance
            (int64 scalar); ``degradation`` (str), that of ``img_cur``
            (``'none'`` when clean, else one of ``synthvid.DEGRADATIONS``).
        """
        video, t, gap = self.pairs[index]
        frames = self.frames[video]
        flow = self.motions[video].backward_flow(t, t - gap, self.width,
                                                 self.height)
        return dict(
            img_cur=_to_rgb_tensor(frames[t]),
            img_prev=_to_rgb_tensor(frames[t - gap]),
            flow=torch.from_numpy(flow),
            object_mask=torch.from_numpy(self.motions[video].object_mask(
                t, self.width, self.height)),
            gap=torch.tensor(gap),
            degradation=self.degradations[video][t])


def _jpeg_round_trip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode a BGR uint8 image as JPEG and decode it again."""
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError('cannot JPEG-encode a SynthVID frame')
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _to_rgb_tensor(img: np.ndarray) -> Tensor:
    """``(H, W, 3)`` uint8 BGR -> ``(3, H, W)`` float32 RGB."""
    return torch.from_numpy(
        np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1))).float()
