# Copyright (c) memvid_mm contributors. All rights reserved.
"""Paired video bootstrap of the difference between two detectors.

The frames of a video are not independent samples (an object is seen in
many of them), so the unit of resampling is the video: a resample draws as
many videos as the set has, with replacement, and takes every frame of each
drawn video. Both detectors are scored on the same resample, so the spread
of their difference reflects which videos the set happens to hold, not the
two models' spreads added up.
"""
from collections import Counter
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

# Instance ids of the k-th copy of a video are offset by k * this, so the
# tracks of two copies never merge (motion IoU is per video and instance).
_INSTANCE_ID_STRIDE = 1 << 32


def group_by_video(frames: Sequence[dict]) -> List[List[dict]]:
    """Frame records grouped per ``video_id``, videos in first-seen order.

    Args:
        frames (Sequence[dict]): Frame records with ``video_id``.

    Returns:
        list[list[dict]]: The frames of each video, in input order.
    """
    videos: Dict[object, List[dict]] = {}
    for frame in frames:
        videos.setdefault(frame['video_id'], []).append(frame)
    return list(videos.values())


def resample_videos(videos: Sequence[Sequence[dict]],
                    picks: Sequence[int]) -> List[dict]:
    """The frames of the picked videos, each pick a distinct video.

    A video picked twice appears as two videos: the copies get new
    ``video_id`` and ``img_id`` values and offset ``gt_instance_ids``, so
    the motion IoU and the matching never mix two copies.

    Args:
        videos (Sequence[Sequence[dict]]): Frame records per video
            (:func:`group_by_video`).
        picks (Sequence[int]): Indices into ``videos``, repeats allowed.

    Returns:
        list[dict]: Frame records of the resample (shallow copies; arrays
        shared with the input except the offset instance ids).
    """
    frames = []
    for copy, video in enumerate(picks):
        for frame in videos[video]:
            record = dict(frame)
            record['video_id'] = copy
            record['img_id'] = len(frames)
            ids = np.asarray(frame['gt_instance_ids'], dtype=np.int64)
            record['gt_instance_ids'] = np.where(
                ids >= 0, ids + copy * _INSTANCE_ID_STRIDE, ids)
            frames.append(record)
    return frames


def resampled_scores(detector_frames: Sequence[Sequence[dict]],
                     score: Callable[[List[dict]], Dict[str, float]],
                     num_resamples: int = 200,
                     seed: int = 0) -> List[Dict[str, np.ndarray]]:
    """Scores of several detectors on the same resamples of the videos.

    Args:
        detector_frames (Sequence[Sequence[dict]]): Per detector its frame
            records (predictions + GT), all on the same frames (same
            ``img_id`` set and ``video_id`` values).
        score (Callable): Maps frame records to named metrics, e.g.
            ``evaluate_vid_frames(frames, ...)[0]``.
        num_resamples (int): Bootstrap resamples B. Defaults to 200.
        seed (int): Seed of the video draws. Defaults to 0.

    Returns:
        list[dict[str, np.ndarray]]: Per detector, per metric the (B,)
        resampled values; a metric that is ``nan`` in a resample (e.g. no
        degraded frame drawn) is ``nan`` there.

    Raises:
        ValueError: If the detectors were not run on the same frames.
    """
    first = detector_frames[0]
    # counted, not sorted: video ids may mix ints and strs
    first_ids = Counter((f['video_id'], f['img_id']) for f in first)
    for frames in detector_frames[1:]:
        if Counter((f['video_id'], f['img_id']) for f in frames) != first_ids:
            raise ValueError('the detectors must be scored on the same '
                             'frames (same img_id and video_id)')
    first_videos = group_by_video(sorted(first, key=lambda f: f['img_id']))
    per_detector_videos = []
    for frames in detector_frames:
        by_id = {f['img_id']: f for f in frames}
        per_detector_videos.append([[by_id[f['img_id']] for f in video]
                                    for video in first_videos])
    rng = np.random.default_rng(seed)
    values: List[Dict[str, List[float]]] = [{} for _ in detector_frames]
    for _ in range(num_resamples):
        picks = rng.integers(len(first_videos), size=len(first_videos))
        for videos, detector_values in zip(per_detector_videos, values):
            for key, value in score(resample_videos(videos, picks)).items():
                detector_values.setdefault(key, []).append(value)
    return [{key: np.asarray(v)
             for key, v in detector_values.items()}
            for detector_values in values]


def paired_video_bootstrap(base_frames: Sequence[dict],
                           model_frames: Sequence[dict],
                           score: Callable[[List[dict]], Dict[str, float]],
                           num_resamples: int = 200,
                           seed: int = 0) -> Dict[str, np.ndarray]:
    """Resampled metric differences ``score(model) - score(base)``.

    Both detectors are scored on the same resamples
    (:func:`resampled_scores`).

    Args:
        base_frames (Sequence[dict]): Frame records (predictions + GT) of
            the reference detector.
        model_frames (Sequence[dict]): Frame records of the other detector
            on the same frames.
        score (Callable): Maps frame records to named metrics.
        num_resamples (int): Bootstrap resamples B. Defaults to 200.
        seed (int): Seed of the video draws. Defaults to 0.

    Returns:
        dict[str, np.ndarray]: Per metric the (B,) resampled differences.

    Raises:
        ValueError: If the two detectors were not run on the same frames.
    """
    base, model = resampled_scores([base_frames, model_frames], score,
                                   num_resamples, seed)
    return {key: model[key] - base[key] for key in base}


def percentile_interval(samples: np.ndarray,
                        level: float = 0.95) -> Tuple[float, float]:
    """Percentile interval of bootstrap samples, ignoring ``nan``.

    Args:
        samples (np.ndarray): (B,) resampled values.
        level (float): Coverage. Defaults to 0.95.

    Returns:
        tuple[float, float]: Lower and upper end (``nan`` when every
        sample is ``nan``).
    """
    finite = samples[~np.isnan(samples)]
    if not finite.size:
        return float('nan'), float('nan')
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
