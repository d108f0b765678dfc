# Copyright (c) memvid_mm contributors. All rights reserved.
import numpy as np
import pytest

from memvid_mm.evaluation.functional.bootstrap import (group_by_video,
                                                       paired_video_bootstrap,
                                                       percentile_interval,
                                                       resample_videos)


def _frames(values_per_video):
    """Frame records with a per-frame ``value`` and one track per video."""
    frames = []
    for video, values in enumerate(values_per_video):
        for frame_id, value in enumerate(values):
            frames.append(
                dict(
                    img_id=len(frames),
                    video_id=f'v{video}',
                    frame_id=frame_id,
                    gt_instance_ids=np.array([3, -1]),
                    value=value))
    return frames


def _mean_value(frames):
    return dict(mean=float(np.mean([f['value'] for f in frames])))


def test_group_by_video_keeps_order():
    frames = _frames([[1, 2], [3], [4, 5, 6]])
    values = [[f['value'] for f in v] for v in group_by_video(frames)]
    assert values == [[1, 2], [3], [4, 5, 6]]


def test_resampled_copies_are_distinct_videos_and_tracks():
    frames = _frames([[1, 2], [3]])
    videos = group_by_video(frames)
    resample = resample_videos(videos, [0, 0, 1])
    assert [f['value'] for f in resample] == [1, 2, 1, 2, 3]
    assert [f['video_id'] for f in resample] == [0, 0, 1, 1, 2]
    assert [f['img_id'] for f in resample] == [0, 1, 2, 3, 4]
    first, second = resample[0]['gt_instance_ids'], resample[2][
        'gt_instance_ids']
    assert first[0] != second[0]  # the two copies' tracks never merge
    assert first[1] == second[1] == -1  # untracked GTs stay untracked
    # the input records are untouched
    assert frames[0]['video_id'] == 'v0' and frames[0]['img_id'] == 0
    np.testing.assert_array_equal(frames[0]['gt_instance_ids'], [3, -1])


def test_paired_bootstrap_draws_the_same_videos_for_both():
    base = _frames([[0, 0], [1], [2, 2, 2]])
    model = [dict(f, value=f['value'] + 10) for f in base]
    diffs = paired_video_bootstrap(
        base, model, _mean_value, num_resamples=50, seed=1)
    # paired: every resample shifts by exactly 10, whatever it drew
    np.testing.assert_allclose(diffs['mean'], 10.0)
    # unpaired noise shows up when the gain depends on the video
    model = [dict(f, value=f['value'] * 3) for f in base]
    diffs = paired_video_bootstrap(
        base, model, _mean_value, num_resamples=50, seed=1)
    assert diffs['mean'].shape == (50, )
    assert diffs['mean'].std() > 0
    again = paired_video_bootstrap(
        base, model, _mean_value, num_resamples=50, seed=1)
    np.testing.assert_array_equal(diffs['mean'], again['mean'])


def test_paired_bootstrap_rejects_different_frames():
    base = _frames([[0, 0], [1]])
    with pytest.raises(ValueError, match='same frames'):
        paired_video_bootstrap(base, base[:-1], _mean_value)


def test_paired_bootstrap_takes_video_ids_of_mixed_types():
    """Video 1 and video '1' are two videos; comparing the detectors' frames
    does not sort (an int and a str do not compare)."""
    base = _frames([[0, 0], [1]])
    base[0]['video_id'] = base[1]['video_id'] = 1
    base[2]['video_id'] = '1'
    model = [dict(f, value=f['value'] + 10) for f in base]
    diffs = paired_video_bootstrap(
        base, model, _mean_value, num_resamples=5, seed=0)
    np.testing.assert_allclose(diffs['mean'], 10.0)
    assert len(group_by_video(base)) == 2
    moved = [dict(f) for f in base]
    moved[2]['video_id'] = 1  # the same img_ids, other videos
    with pytest.raises(ValueError, match='same frames'):
        paired_video_bootstrap(base, moved, _mean_value)


def test_percentile_interval():
    samples = np.arange(101, dtype=float)
    assert percentile_interval(samples) == pytest.approx((2.5, 97.5))
    with_nan = np.concatenate([samples, [np.nan] * 10])
    assert percentile_interval(with_nan) == pytest.approx((2.5, 97.5))
    low, high = percentile_interval(np.full(5, np.nan))
    assert np.isnan(low) and np.isnan(high)
