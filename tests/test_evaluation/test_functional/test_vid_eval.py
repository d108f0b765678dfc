# Copyright (c) memvid_mm contributors. All rights reserved.
"""Hand-worked and reference-checked cases of the ImageNet VID protocol.

Boxes are inclusive: ``[0, 0, 99, 99]`` is 100 x 100 pixels. In the AP
arithmetic, ``prec`` / ``rec`` are the cumulative precision / recall
along the score ranking and ``env`` the precision envelope.
"""
import math
import re

import numpy as np
import pytest
import torch

from memvid_mm.evaluation.functional import (compute_motion_iou, eval_vid_map,
                                             format_vid_table,
                                             gt_iou_thresholds,
                                             pairwise_iou_inclusive,
                                             vid_average_precision)

BOX_A = [0, 0, 99, 99]
BOX_B = [200, 0, 299, 99]
BACKGROUND = [400, 400, 449, 449]


def gt(boxes, labels=None, motion=None, ids=None, video=0, frame=0):
    """One frame of annotations."""
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    n = len(boxes)
    ann = dict(
        bboxes=boxes,
        labels=np.zeros(n, np.int64) if labels is None else np.array(
            labels, np.int64),
        instance_ids=np.arange(n) if ids is None else np.array(ids),
        video_id=video,
        frame_id=frame)
    if motion is not None:
        ann['motion_ious'] = np.array(motion, dtype=np.float64)
    return ann


def det(boxes, scores, labels=None):
    """One frame of detections."""
    boxes = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    return dict(
        bboxes=boxes,
        scores=np.array(scores, dtype=np.float32),
        labels=np.zeros(len(boxes), np.int64) if labels is None else np.array(
            labels, np.int64))


def evaluate(dets, anns, **kwargs):
    kwargs.setdefault('logger', 'silent')
    return eval_vid_map(dets, anns, **kwargs)


def test_iou_uses_inclusive_pixels():
    # overlap 5x5 = 25 pixels, union 100 + 100 - 25 = 175
    iou, overlap = pairwise_iou_inclusive([[0, 0, 9, 9]], [[5, 5, 14, 14]])
    assert iou[0] == pytest.approx(25 / 175) and overlap[0]
    # sharing the pixel column x=9: 1 x 10 pixels, union 190
    iou, _ = pairwise_iou_inclusive([[0, 0, 9, 9]], [[9, 0, 18, 9]])
    assert iou[0] == pytest.approx(10 / 190)
    # adjacent, no shared pixel
    iou, overlap = pairwise_iou_inclusive([[0, 0, 9, 9]], [[10, 0, 19, 9]])
    assert iou[0] == 0 and not overlap[0]


def test_gt_threshold_is_looser_for_small_objects():
    thr = gt_iou_thresholds([
        [0, 0, 9, 9],  # 100 / (20 * 20) = 0.25
        [0, 0, 14, 9],  # 150 / (25 * 20) = 0.3
        [0, 0, 19, 29],  # 600 / (30 * 40) = 0.5
        [0, 0, 99, 99],  # 10000 / 12100 = 0.83 -> capped at 0.5
    ])
    np.testing.assert_allclose(thr, [0.25, 0.3, 0.5, 0.5])


def test_small_object_matches_below_half_iou():
    # the same relative overlap: det 15x15 on a 10x10 GT: 100 / 225 = 0.444,
    # det 150x150 on a 100x100 GT: 10000 / 22500 = 0.444
    small = evaluate([det([[0, 0, 14, 14]], [0.9])], [gt([[0, 0, 9, 9]])])
    large = evaluate([det([[0, 0, 149, 149]], [0.9])], [gt([BOX_A])])
    assert small['mAP'] == 1.0  # 0.444 >= thr 0.25: TP
    assert large['mAP'] == 0.0  # 0.444 < thr 0.5: FP, GT missed


def test_average_precision_all_points_envelope():
    # ranks TP, FP, TP with 2 positives: prec 1, 1/2, 2/3; rec 1/2, 1/2, 1
    # env 1, 2/3, 2/3 -> AP = 1/2 * 1 + 1/2 * 2/3 = 5/6 (11-point: 0.848)
    ap = vid_average_precision([1, 0, 1], [0, 1, 0], 2)
    assert ap == pytest.approx(5 / 6)
    assert vid_average_precision([], [], 3) == 0.0
    assert math.isnan(vid_average_precision([0], [1], 0))


def test_duplicate_detection_is_false_positive():
    # frame 0: GT A, dets on A at 0.9 (TP) and 0.8 (duplicate: FP);
    # frame 1: GT B, det on B at 0.7 (TP). Ranking TP, FP, TP: AP = 5/6
    dets = [det([BOX_A, BOX_A], [0.9, 0.8]), det([BOX_B], [0.7])]
    anns = [gt([BOX_A], frame=0), gt([BOX_B], frame=1)]
    assert evaluate(dets, anns)['mAP'] == pytest.approx(5 / 6)


def test_detection_takes_best_free_gt_in_score_order():
    # GTs A=[0,0,99,99], C=[20,0,119,99].
    # det1 (0.9) = [15,0,114,99]: IoU with A 8500/11500 = 0.739, with C
    # 9500/10500 = 0.905 -> takes C (the best, not the first above 0.5).
    # det2 (0.8) = [40,0,139,99]: IoU with C 8000/12000 = 0.667, with A
    # 6000/14000 = 0.43 < 0.5 -> C is taken: FP. A is missed.
    # ranking TP, FP with 2 positives: prec 1, 1/2; rec 1/2, 1/2 -> 1/2
    # (had det1 taken A, det2 would have taken C: AP 1)
    anns = [gt([BOX_A, [20, 0, 119, 99]])]
    dets = [det([[15, 0, 114, 99], [40, 0, 139, 99]], [0.9, 0.8])]
    assert evaluate(dets, anns)['mAP'] == pytest.approx(0.5)
    # swapped scores: det2 first takes C, then det1 takes A: AP 1
    dets = [det([[15, 0, 114, 99], [40, 0, 139, 99]], [0.8, 0.9])]
    assert evaluate(dets, anns)['mAP'] == 1.0


def test_equal_iou_goes_to_the_gt_listed_first():
    # A=[0,0,99,99], C=[50,0,149,99]; det1 (0.9) = [25,0,124,99] has IoU
    # 7500/12500 = 0.6 with both: the devkit's strict '>' keeps the first.
    # det2 (0.8) = A (IoU with C 5000/15000 < 0.5).
    # A listed first: det1 takes A, det2 is an FP: prec 1, 1/2 at rec 1/2
    # -> AP 1/2. C listed first: det1 takes C, det2 takes A -> AP 1.
    dets = [det([[25, 0, 124, 99], BOX_A], [0.9, 0.8])]
    box_c = [50, 0, 149, 99]
    assert evaluate(dets, [gt([BOX_A, box_c])])['mAP'] == pytest.approx(0.5)
    assert evaluate(dets, [gt([box_c, BOX_A])])['mAP'] == 1.0


def test_class_confusion():
    # frame 0: GT A of class 0; det class 1 on A (0.9), det class 0 on A
    # (0.5). frame 1: GT B of class 1, undetected.
    # class 0: the class-1 det does not consume A -> one TP: AP 1.
    # class 1: one FP, 1 positive never found: AP 0. mAP = 0.5
    dets = [det([BOX_A, BOX_A], [0.9, 0.5], [1, 0]), det([], [])]
    anns = [gt([BOX_A], [0], frame=0), gt([BOX_B], [1], frame=1)]
    res = evaluate(dets, anns, num_classes=2)
    np.testing.assert_allclose(res['AP'], [1.0, 0.0])
    assert res['mAP'] == 0.5


def test_empty_class_is_left_out_of_the_mean():
    # class 1 has detections but no GT, class 2 nothing: both AP nan
    dets = [det([BOX_A, BOX_B], [0.9, 0.8], [0, 1])]
    res = evaluate(dets, [gt([BOX_A], [0])], class_names=['a', 'b', 'c'])
    assert res['AP'][0] == 1.0 and np.isnan(res['AP'][1:]).all()
    assert res['mAP'] == 1.0
    np.testing.assert_array_equal(res['num_pos'], [1, 0, 0])
    np.testing.assert_array_equal(res['num_dets'], [1, 1, 0])


def test_unmatched_detections_with_and_without_gt():
    # frame 0: GT A, det A (0.9, TP), background det (0.8, FP);
    # frame 1: no GT, det (0.95, FP). Ranking FP, TP, FP:
    # prec 0, 1/2, 1/3; rec 0, 1, 1; env at rec 1 = 1/2 -> AP = 1/2
    dets = [det([BOX_A, BACKGROUND], [0.9, 0.8]), det([BOX_B], [0.95])]
    anns = [gt([BOX_A], frame=0), gt([], frame=1)]
    assert evaluate(dets, anns)['mAP'] == pytest.approx(0.5)


def test_motion_splits_and_fractional_false_positives():
    # frame 0: GT a = A (motion 1.0, slow), b = B (motion 0.0, fast);
    #   dets dX background 0.95, dA = A 0.9, dB = B 0.8
    # frame 1: no GT; det dE 0.85
    dets = [
        det([BACKGROUND, BOX_A, BOX_B], [0.95, 0.9, 0.8]),
        det([BACKGROUND], [0.85])
    ]
    anns = [
        gt([BOX_A, BOX_B], motion=[1.0, 0.0], frame=0),
        gt([], motion=[], frame=1)
    ]
    res = evaluate(dets, anns)
    # all: dX FP, dA TP, dE FP, dB TP: prec 0, 1/2, 1/3, 1/2;
    # rec 0, 1/2, 1/2, 1; env 1/2 everywhere -> AP = 1/2
    assert res['mAP'] == pytest.approx(0.5)
    # slow (a in, b ignored): dX overlaps nothing -> FP = in-split share of
    # frame 0 = 1/2; dE in an empty frame -> in-split share of the data set
    # = 1/2; dB matched the ignored b -> nothing.
    # ranking dX (fp .5), dA (tp), dE (fp .5): prec at rec 1 = 1/1.5 = 2/3
    assert res['mAP_slow'] == pytest.approx(2 / 3)
    # fast (b in): dX fp .5, dA ignored, dE fp .5, dB tp: prec 1/2 -> 1/2
    assert res['mAP_fast'] == pytest.approx(0.5)
    # medium: no positives
    assert math.isnan(res['mAP_medium'])
    np.testing.assert_array_equal(res['num_pos_medium'], [0])


def test_unmatched_detection_near_ignored_gt_is_not_a_false_positive():
    # GTs c = A (slow), d = D=[300,0,399,99] (fast).
    # dets: dN = [350,0,449,99] (0.95): IoU with D 5000/15000 = 1/3 < 0.5,
    # unmatched; dC = A (0.9); dD = D (0.5).
    box_d = [300, 0, 399, 99]
    dets = [det([[350, 0, 449, 99], BOX_A, box_d], [0.95, 0.9, 0.5])]
    anns = [gt([BOX_A, box_d], motion=[1.0, 0.0])]
    res = evaluate(dets, anns)
    # slow: dN's best ignored IoU 1/3 > in-split -1: no FP; dC TP; dD on
    # ignored d: nothing -> AP 1 (a full FP for dN would give 1/2)
    assert res['mAP_slow'] == pytest.approx(1.0)
    # fast: dN near in-split d (1/3 > -1): full FP; dC nothing; dD TP:
    # prec 0, 1/2 at rec 1 -> AP 1/2 (a fractional FP would give 2/3)
    assert res['mAP_fast'] == pytest.approx(0.5)


def test_equal_iou_with_both_kinds_gives_fractional_false_positive():
    # GTs c = A (slow), d = B (fast); dT = [50,0,249,99] (0.95) has IoU
    # 5000/25000 = 0.2 with both (unmatched, tie); dC = A (0.9).
    dets = [det([[50, 0, 249, 99], BOX_A], [0.95, 0.9])]
    anns = [gt([BOX_A, BOX_B], motion=[1.0, 0.0])]
    res = evaluate(dets, anns)
    # slow: tie -> fp = 1/2 (1 of the frame's 2 GTs in split); dC TP:
    # prec 1/1.5 at rec 1 -> 2/3
    assert res['mAP_slow'] == pytest.approx(2 / 3)
    # all: both GTs in split, dT's in-split IoU 0.2 > -1: full FP; dC TP,
    # d missed: prec 1/2 at rec 1/2 -> AP 1/4
    assert res['mAP'] == pytest.approx(0.25)


def test_duplicate_of_ignored_gt_compares_only_free_gts():
    # GTs a = A (fast), c = B (slow). slow split: d1 = A (0.9) takes the
    # ignored a: nothing. d2 = A (0.8), a duplicate: a is taken, so (as in
    # FGFA's loop) it has no free candidate of either kind: -1 == -1 ->
    # fp = in-split share 1/2. dB = B (0.7): TP. prec 1/1.5 -> AP 2/3
    # (comparing with taken GTs too would absorb d2: AP 1)
    dets = [det([BOX_A, BOX_A, BOX_B], [0.9, 0.8, 0.7])]
    res = evaluate(dets, [gt([BOX_A, BOX_B], motion=[0.0, 1.0])])
    assert res['mAP_slow'] == pytest.approx(2 / 3)


def test_fractional_share_counts_gts_of_all_classes():
    # frame: c = A class 0 (slow), e = B class 1 (fast); class-0 dets: a
    # background one (0.95) and dC = A (0.9). slow: the background det's
    # fp = in-split share of ALL the frame's GTs = 1/2 -> AP0 = 1/1.5.
    # (same-class share would give fp 1 and AP 1/2)
    dets = [det([BACKGROUND, BOX_A], [0.95, 0.9], [0, 0])]
    anns = [gt([BOX_A, BOX_B], labels=[0, 1], motion=[1.0, 0.0])]
    res = evaluate(dets, anns, num_classes=2)
    assert res['AP_slow'][0] == pytest.approx(2 / 3)
    assert np.isnan(res['AP_slow'][1])
    assert res['mAP_slow'] == pytest.approx(2 / 3)


def test_empty_frame_uses_data_set_share():
    # frame 0: a = A (slow), b = B (fast), g = G (fast); dets dA (0.9),
    # dB (0.8). frame 1: no GT, det dE (0.95).
    box_g = [600, 0, 699, 99]
    dets = [det([BOX_A, BOX_B], [0.9, 0.8]), det([BACKGROUND], [0.95])]
    anns = [
        gt([BOX_A, BOX_B, box_g], motion=[1.0, 0.0, 0.0], frame=0),
        gt([], motion=[], frame=1)
    ]
    res = evaluate(dets, anns)
    # slow: 1 of 3 GTs in split -> dE fp 1/3; dA TP: prec 1/(4/3) = 3/4
    assert res['mAP_slow'] == pytest.approx(0.75)
    # fast: dE fp 2/3; dA nothing; dB TP: prec 1/(5/3) = 3/5 at rec 1/2,
    # g missed -> AP = 1/2 * 3/5 = 0.3
    assert res['mAP_fast'] == pytest.approx(0.3)


def test_split_bounds_are_inclusive():
    # motion exactly 0.7 is fast and medium, 0.9 medium and slow
    anns = [gt([BOX_A, BOX_B], motion=[0.7, 0.9])]
    dets = [det([BOX_A, BOX_B], [0.9, 0.8])]
    res = evaluate(dets, anns)
    np.testing.assert_array_equal(res['num_pos_fast'], [1])
    np.testing.assert_array_equal(res['num_pos_medium'], [2])
    np.testing.assert_array_equal(res['num_pos_slow'], [1])
    for key in ('mAP', 'mAP_fast', 'mAP_medium', 'mAP_slow'):
        assert res[key] == 1.0


def test_ignore_flags_are_ignored_in_every_split():
    # b is flagged: not a positive, a det on it is no TP / FP
    anns = [gt([BOX_A, BOX_B], motion=[1.0, 1.0])]
    anns[0]['ignore_flags'] = np.array([False, True])
    dets = [det([BOX_B, BOX_A], [0.9, 0.8])]
    res = evaluate(dets, anns)
    np.testing.assert_array_equal(res['num_pos'], [1])
    assert res['mAP'] == 1.0 and res['mAP_slow'] == 1.0


def test_ignore_flags_do_not_make_background_detections_cheap():
    """A crowd region excuses the detections on it, nothing else. It used
    to count as an out-of-split GT in the background share, so a far-off
    detection in its frame cost no FP in ``all`` (AP 2/3, not 1/3) and
    one in a frame without GT half an FP."""
    crowd = gt([BOX_B], ids=[-1], video=0)
    crowd['ignore_flags'] = np.array([True])
    anns = [crowd, gt([BOX_A], ids=[-1], video=1), gt([], video=2)]
    for ann in anns[1:]:
        ann['ignore_flags'] = np.zeros(len(ann['labels']), bool)
    dets = [
        det([BACKGROUND], [0.9]),
        det([BOX_A], [0.5]),
        det([BACKGROUND], [0.8])
    ]
    # two full FPs ranked before the one TP: precision 1/3 at recall 1
    res = evaluate(dets, anns, speed_ranges={'all': (0., 1.)})
    assert res['mAP'] == pytest.approx(1 / 3)
    # the same without the crowd region
    no_crowd = [dict(gt([], video=0), ignore_flags=np.zeros(0, bool))
                ] + anns[1:]
    assert evaluate(
        dets, no_crowd, speed_ranges={'all':
                                      (0., 1.)})['mAP'] == pytest.approx(1 / 3)
    # a detection on the region is still excused
    dets[0] = det([BOX_B], [0.9])
    res = evaluate(dets, anns, speed_ranges={'all': (0., 1.)})
    assert res['mAP'] == pytest.approx(0.5)  # only the FP at 0.8 counts


def test_motion_iou_by_track_and_frame_window():
    # track 1 (video 0): 100-wide box moving 10 px per frame, frames 0-2;
    # IoU(f0, f1) = IoU(f1, f2) = 90/110, IoU(f0, f2) = 80/120.
    # track 2: static in frames 0, 1 and 10 (window edge) -> 1.0; track 3:
    # frames 0 and 11 -> no neighbour -> 0. Track 1 of video 1 is a
    # different track (static box far away) even with the same id.
    def box(x):
        return [x, 0, x + 99, 99]

    anns = [
        gt([box(10), box(500)], ids=[1, 2], frame=1),
        gt([box(0), box(500), box(800)], ids=[1, 2, 3], frame=0),
        gt([box(20)], ids=[1], frame=2),
        gt([box(500)], ids=[2], frame=10),
        gt([box(800)], ids=[3], frame=11),
        gt([box(0), box(1000)], ids=[1, -1], video=1, frame=0),
        gt([box(0)], ids=[1], video=1, frame=1),
    ]
    motion = compute_motion_iou(anns)
    a, b = 90 / 110, 80 / 120
    np.testing.assert_allclose(motion[0], [a, 1.0])
    np.testing.assert_allclose(motion[1], [(a + b) / 2, 1.0, 0.0])
    np.testing.assert_allclose(motion[2], [(a + b) / 2])
    np.testing.assert_allclose(motion[3], [1.0])
    np.testing.assert_allclose(motion[4], [0.0])
    np.testing.assert_allclose(motion[5], [1.0, 0.0])  # id -1: no track
    np.testing.assert_allclose(motion[6], [1.0])


def test_motion_iou_window_reaches_ten_frames_each_way():
    """FGFA's window is ``frame_id`` +- 10, both ends included.

    A track seen at frames 0 and 10 only pairs the two boxes (IoU 90/110,
    a medium-speed object); one seen at frames 0 and 11 has no neighbour
    (motion IoU 0, fast). Pinned by hand in :func:`compute_motion_iou` and
    in the speed splits of :func:`eval_vid_map`, which compute it alike.
    """
    near = [gt([BOX_A], frame=0), gt([[10, 0, 109, 99]], frame=10)]
    far = [
        gt([BOX_A], video=1, frame=0),
        gt([[10, 0, 109, 99]], video=1, frame=11)
    ]
    motion = compute_motion_iou(near + far)
    np.testing.assert_allclose(
        np.concatenate(motion), [90 / 110] * 2 + [0] * 2)
    dets = [det(ann['bboxes'], [0.9]) for ann in near + far]
    res = evaluate(dets, near + far)
    np.testing.assert_array_equal(res['num_pos_medium'], [2])
    np.testing.assert_array_equal(res['num_pos_fast'], [2])


def test_repeated_video_frame_raises():
    anns = [gt([BOX_A], frame=0), gt([BOX_A], frame=1), gt([BOX_A], frame=1)]
    dets = [det([BOX_A], [0.9]) for _ in anns]
    with pytest.raises(
            ValueError,
            match=r'video 0 has two frames with frame_id 1 '
            r'\(annotations\[1\] and annotations\[2\]\)'):
        evaluate(dets, anns)
    with pytest.raises(ValueError, match='frame_id 1'):
        compute_motion_iou(anns)
    # the same frame_id in another video is another frame
    anns[2]['video_id'] = 1
    assert evaluate(dets, anns)['mAP'] == 1.0


def test_video_ids_of_other_types_are_other_videos():
    """Video ``1`` and video ``'1'`` are two videos, as in the data set.

    The same frame ids in both are no repeat, and track 0 of one is not
    track 0 of the other: each stays where it is (motion IoU 1). Taken as
    one video, its frames would repeat (an error).
    """
    anns = [
        gt([BOX_A], video=1, frame=0),
        gt([BOX_A], video=1, frame=1),
        gt([BOX_B], video='1', frame=0),
        gt([BOX_B], video='1', frame=1),
    ]
    motion = compute_motion_iou(anns)
    np.testing.assert_allclose(np.concatenate(motion), [1.0] * 4)
    dets = [det(ann['bboxes'], [0.9]) for ann in anns]
    assert evaluate(dets, anns)['mAP'] == 1.0
    # numpy ids are their Python values: np.int64(1) is video 1
    anns[1]['video_id'] = np.int64(1)
    np.testing.assert_allclose(
        np.concatenate(compute_motion_iou(anns)), [1.0] * 4)
    anns[1]['frame_id'] = 0
    with pytest.raises(ValueError, match='video 1 has two frames'):
        compute_motion_iou(anns)


def test_unhashable_video_id_raises_naming_the_frame():
    anns = [gt([BOX_A], frame=0), gt([BOX_A], frame=1)]
    anns[1]['video_id'] = [0]
    with pytest.raises(
            ValueError,
            match=r'annotations\[1\] .*video_id \[0\] is not hashable'):
        compute_motion_iou(anns)


@pytest.mark.parametrize('frame_id',
                         [1.5, 2.0, '2', True, None, [[0], [1, 2]]])
def test_non_integer_frame_id_raises_naming_the_frame(frame_id):
    anns = [gt([BOX_A], video=7, frame=f) for f in range(3)]
    anns[2]['frame_id'] = frame_id
    dets = [det([BOX_A], [0.9]) for _ in anns]
    match = (r'annotations\[2\] \(video_id=7, frame_id=' +
             re.escape(repr(frame_id)) + r'\): frame_id .* is not an integer')
    with pytest.raises(ValueError, match=match):
        evaluate(dets, anns)
    with pytest.raises(ValueError, match=match):
        compute_motion_iou(anns)


def test_numpy_and_0d_frame_ids_are_integers():
    anns = [gt([BOX_A], frame=np.int32(0)), gt([BOX_A], frame=np.array(1))]
    dets = [det([BOX_A], [0.9]) for _ in anns]
    assert evaluate(dets, anns)['mAP'] == 1.0


def test_untracked_box_in_multi_frame_video_raises_for_speed_splits():
    anns = [gt([BOX_A], ids=[-1], video='v7', frame=f) for f in range(2)]
    anns.append(gt([], video='v8', frame=0))
    anns.append(gt([], video='v8', frame=1))  # no GT: fine
    dets = [det([BOX_A], [0.9])] * 2 + [det([], [])] * 2
    with pytest.raises(
            ValueError,
            match=r"video 'v7' has 2 frames and 2 of its 2 ground-truth "
            r'boxes have no instance_id >= 0'):
        evaluate(dets, anns)
    # split "all" only does not need tracks
    assert evaluate(dets, anns, speed_ranges=dict(all=(0., 1.)))['mAP'] == 1
    # one untracked box among tracked ones would count as fast: an error
    anns[0]['instance_ids'] = np.array([4])
    with pytest.raises(
            ValueError,
            match=r"video 'v7' has 2 frames and 1 of its 2 ground-truth "
            r'boxes have no instance_id >= 0'):
        evaluate(dets, anns)
    anns[1]['instance_ids'] = np.array([4])
    assert evaluate(dets, anns)['mAP'] == 1.0
    # single-frame videos need no tracks
    single = [gt([BOX_A], ids=[-1], video=v, frame=0) for v in range(3)]
    res = evaluate([det([BOX_A], [0.9]) for _ in single], single)
    assert res['mAP'] == res['mAP_fast'] == 1.0


def make_video(num_frames=12):
    """Three tracks: static (slow), drifting 2 px (medium), jumping."""
    anns = []
    for f in range(num_frames):
        boxes = [[0, 0, 99, 99], [200 + 2 * f, 200, 299 + 2 * f, 299],
                 [0, 500 + 120 * f, 99, 599 + 120 * f]]
        anns.append(gt(boxes, labels=[0, 1, 2], ids=[7, 8, 9], frame=f))
    anns.append(gt([], frame=num_frames))  # a frame without objects
    return anns


def test_perfect_detections_score_one_in_every_split():
    anns = make_video()
    motion = np.concatenate(compute_motion_iou(anns))
    assert ((motion >= 0.9).any() and ((motion > 0.7) & (motion < 0.9)).any()
            and (motion == 0).any())
    dets = [
        det(a['bboxes'], np.linspace(1, 0.5, len(a['bboxes'])), a['labels'])
        for a in anns
    ]
    res = evaluate(dets, anns)
    for key in ('mAP', 'mAP_fast', 'mAP_medium', 'mAP_slow'):
        assert res[key] == 1.0, key


def test_frames_in_another_order_raise():
    # paired by position, they used to be scored against each other's
    # boxes: mAP 0.0 instead of 1.0
    anns = [gt([BOX_A], frame=0), gt([BOX_B], frame=1)]
    dets = [
        dict(det([BOX_B], [0.9]), video_id=0, frame_id=1),
        dict(det([BOX_A], [0.9]), video_id=0, frame_id=0)
    ]
    with pytest.raises(
            ValueError,
            match=r'det_results\[0\] \(video_id=0, frame_id=1\) is not the '
            r'frame of annotations\[0\] \(video_id=0, frame_id=0\)'):
        evaluate(dets, anns)
    assert evaluate(dets[::-1], anns)['mAP'] == 1.0
    # numpy ids are the same ids
    dets[1]['frame_id'] = np.int64(0)
    assert evaluate(dets[::-1], anns)['mAP'] == 1.0


def test_invalid_inputs_raise():
    with pytest.raises(
            ValueError, match='det_results has 1 frames but '
            'annotations has 2'):
        evaluate([det([], [])], [gt([]), gt([])])
    with pytest.raises(
            ValueError,
            match=r'det_results\[1\]: labels\[0\] = 3 is '
            r'outside \[0, 2\), where labels must lie \(they '
            r'span \[0, 3\]\)'):
        evaluate([det([BOX_A], [0.5], [0]),
                  det([BOX_A], [0.5], [3])],
                 [gt([BOX_A]), gt([BOX_A])],
                 num_classes=2)
    with pytest.raises(
            ValueError,
            match=r"det_results\[0\]: 'bboxes' "
            r'must have shape \(n, 4\), got \(2, 3\)'):
        evaluate([
            dict(
                bboxes=np.zeros((2, 3)),
                scores=np.zeros(2),
                labels=np.zeros(2, int))
        ], [gt([])])
    with pytest.raises(
            ValueError,
            match=r'det_results\[0\]: scores\[0\] = '
            'nan is not finite'):
        evaluate([det([BOX_A], [np.nan])], [gt([BOX_A])])
    with pytest.raises(ValueError, match='lo <= hi'):
        evaluate([det([], [])], [gt([])], speed_ranges=dict(x=(0.9, 0.1)))


@pytest.mark.parametrize('bad,match', [
    (dict(bboxes=np.array([[np.nan, 0, 99, 99.]])),
     r'bboxes\[0\] = \[nan, 0.0, 99.0, 99.0\] is not finite'),
    (dict(bboxes=np.array([[99, 0, 0, 99.]])), r'bboxes\[0\] .* x2 < x1'),
    (dict(bboxes=np.array([[0, 99, 99, 0.]])), r'bboxes\[0\] .* y2 < y1'),
    (dict(motion_ious=np.array([np.nan])), r'motion_ious\[0\] = nan is not'
     r' in \[0, 1\]'),
    (dict(motion_ious=np.array([1.5])), r'motion_ious\[0\] = 1.5'),
    (dict(motion_ious=np.array([-0.1])), r'motion_ious\[0\] = -0.1'),
    (dict(labels=np.array([0.7])), r'labels\[0\] = 0.7 is not an integer'),
])
def test_malformed_ground_truth_raises_naming_the_frame(bad, match):
    # before, each of these gave a plausible number: AP 0 for a box that
    # cannot match, a GT in every split (NaN) or in none but "all" (1.5),
    # a label truncated to another class
    anns = [gt([BOX_A], motion=[0.95], video=7, frame=f) for f in range(3)]
    anns[2] = dict(anns[2], **bad)
    dets = [det([BOX_A], [0.9]) for _ in anns]
    with pytest.raises(
            ValueError,
            match=r'annotations\[2\] \(video_id=7, frame_id=2\): ' + match):
        evaluate(dets, anns, num_classes=2)


def test_bad_ground_truth_boxes_raise_in_motion_iou():
    anns = [gt([BOX_A], frame=0), gt([[99, 0, 0, 99]], frame=1)]
    with pytest.raises(ValueError, match=r'annotations\[1\].*x2 < x1'):
        compute_motion_iou(anns)


def test_non_integer_detection_label_raises_naming_the_frame():
    dets = [det([BOX_A], [0.9]), dict(det([BOX_A], [0.9]), labels=[1.9])]
    anns = [gt([BOX_A], frame=f) for f in range(2)]
    with pytest.raises(
            ValueError, match=r'det_results\[1\]: labels\[0\] = 1.9'):
        evaluate(dets, anns, num_classes=2)
    # integral floats (e.g. a float tensor of labels) are fine
    dets[1]['labels'] = np.array([0.])
    assert evaluate(dets, anns)['mAP'] == 1.0


def assert_same_results(a, b):
    """Every entry of two eval_vid_map results equal (nan equals nan)."""
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_equal(a[key], b[key], err_msg=key)


def as_lists(frames):
    """The frames with every array as a plain (nested) list."""
    return [{
        key: value.tolist() if isinstance(value, np.ndarray) else value
        for key, value in frame.items()
    } for frame in frames]


def test_plain_lists_with_an_empty_box_list_score_as_arrays():
    # frame 1 has neither detections nor GT: as lists its boxes are [], of
    # shape (0,), not (0, 4). Frame 0: det on A (TP); frame 2: GT B missed:
    # AP 1/2
    dets = [det([BOX_A], [0.9]), det([], []), det([], [])]
    anns = [gt([BOX_A], frame=0), gt([], frame=1), gt([BOX_B], frame=2)]
    assert as_lists(dets)[1]['bboxes'] == []
    res = evaluate(as_lists(dets), as_lists(anns))
    assert res['mAP'] == pytest.approx(0.5)
    assert_same_results(res, evaluate(dets, anns))


def test_torch_tensors_score_as_numpy_arrays():
    # the boxes and scores of a model's output may still require grad
    dets = [det([BOX_A, BACKGROUND], [0.9, 0.8]), det([BOX_B], [0.7])]
    anns = [gt([BOX_A], frame=0), gt([BOX_B], frame=1)]
    tensors = [
        dict(
            bboxes=torch.tensor(d['bboxes'], requires_grad=True),
            scores=torch.tensor(d['scores'], requires_grad=True),
            labels=torch.from_numpy(d['labels'])) for d in dets
    ]
    res = evaluate(tensors, anns)
    # ranking TP, FP, TP with 2 positives: AP 5/6
    assert res['mAP'] == pytest.approx(5 / 6)
    assert_same_results(res, evaluate(dets, anns))


@pytest.mark.parametrize('what', ['det_results', 'annotations'])
def test_frame_that_is_not_a_dict_raises_naming_it(what):
    dets = [det([BOX_A], [0.9]), det([BOX_B], [0.7])]
    anns = [gt([BOX_A], frame=0), gt([BOX_B], frame=1)]
    frames = dict(det_results=dets, annotations=anns)
    frames[what][1] = [BOX_B]
    with pytest.raises(
            TypeError,
            match=rf'{what}\[1\] must be a dict, got '
            r"<class 'list'>"):
        evaluate(frames['det_results'], frames['annotations'])


@pytest.mark.parametrize('what,key', [('det_results', 'scores'),
                                      ('annotations', 'labels')])
def test_frame_without_a_required_key_raises_naming_frame_and_key(what, key):
    dets = [det([BOX_A], [0.9]), det([BOX_B], [0.7])]
    anns = [gt([BOX_A], frame=0), gt([BOX_B], frame=1)]
    frames = dict(det_results=dets, annotations=anns)
    del frames[what][1][key]
    # the frame's ids where it has them (the annotations here)
    ids = ' \\(video_id=0, frame_id=1\\)' if what == 'annotations' else ''
    with pytest.raises(ValueError, match=rf"{what}\[1\]{ids} has no '{key}'"):
        evaluate(dets, anns)


def test_boxes_and_labels_of_different_counts_raise_naming_the_frame():
    dets = [det([BOX_A], [0.9]), det([BOX_B], [0.7], labels=[0, 0])]
    anns = [gt([BOX_A], frame=0), gt([BOX_B], frame=1)]
    with pytest.raises(
            ValueError, match=r'det_results\[1\] has 1 boxes but 2 '
            r"'labels'"):
        evaluate(dets, anns)


@pytest.mark.parametrize('key',
                         ['instance_ids', 'ignore_flags', 'motion_ious'])
def test_optional_key_in_only_some_frames_raises_naming_the_frame(key):
    # e.g. frame records of which only some carry gt_motion_ious: on
    # 176k frames the error must say which frame lacks the key
    anns = [gt([BOX_A], motion=[1.], frame=f) for f in range(3)]
    for ann in anns:
        ann['ignore_flags'] = np.zeros(1, bool)
    del anns[1][key]
    dets = [det([BOX_A], [0.9]) for _ in anns]
    with pytest.raises(
            ValueError,
            match=r'annotations\[1\] \(video_id=0, frame_id=1\) has no '
            f"'{key}'"):
        evaluate(dets, anns)


@pytest.mark.parametrize(
    'bad,key', [
        (dict(bboxes=[BOX_A, [0, 0, 9]], scores=[0.9, 0.8],
              labels=[0, 0]), 'bboxes'),
        (dict(bboxes=[BOX_A], scores=[0.9], labels=['cat']), 'labels'),
    ],
    ids=['ragged_boxes', 'class_name_as_label'])
def test_unconvertible_values_raise_naming_the_frame_and_key(bad, key):
    # a ragged box list, a class name for a label: not numeric arrays
    dets = [det([BOX_A], [0.9]), dict(bad, img_id=7)]
    anns = [gt([BOX_A], frame=0), gt([BOX_A], frame=1)]
    with pytest.raises(
            ValueError,
            match=rf"det_results\[1\] \(img_id=7\): '{key}' is not a "
            'numeric array'):
        evaluate(dets, anns)


def test_a_track_with_two_boxes_in_one_frame_raises_naming_it():
    """Its motion IoU mixed both boxes: a track that never moves got 0.67
    in the frames beside and counted as fast."""
    anns = [
        gt([BOX_A], ids=[0], frame=0),
        gt([BOX_A, BOX_B], ids=[0, 0], frame=1),
        gt([BOX_A], ids=[0], frame=2)
    ]
    match = (r'annotations\[1\] \(video_id=0, frame_id=1\) has instance_id 0 '
             'on 2 boxes: a track has one box per frame')
    with pytest.raises(ValueError, match=match):
        compute_motion_iou(anns)
    with pytest.raises(ValueError, match=match):
        evaluate([det([], []) for _ in anns], anns)
    # split 'all' alone needs no motion IoU
    assert evaluate([det([BOX_A], [0.9]) for _ in anns],
                    anns,
                    speed_ranges={'all': (0., 1.)})['num_pos'][0] == 4
    # untracked boxes (instance_id < 0) in a single-frame video are no track
    single = [gt([BOX_A, BOX_B], ids=[-1, -1], video=5)]
    np.testing.assert_array_equal(compute_motion_iou(single)[0], [0., 0.])


def test_a_non_integer_instance_id_raises_naming_the_frame():
    # cast, 0.7 and 0.2 became one track 0
    anns = [gt([BOX_A, BOX_B], ids=[0.7, 0.2], frame=f) for f in range(2)]
    match = (r'annotations\[0\] \(video_id=0, frame_id=0\): '
             r'instance_ids\[0\] = 0.7 is not an integer track id')
    with pytest.raises(ValueError, match=match):
        compute_motion_iou(anns)
    with pytest.raises(ValueError, match=match):
        evaluate([det([], []) for _ in anns], anns)
    # integral floats are track ids
    anns = [gt([BOX_A], ids=[3.0], frame=f) for f in range(2)]
    np.testing.assert_array_equal(compute_motion_iou(anns)[1], [1.])


def test_no_frames_give_nan_in_every_split():
    res = evaluate([], [], class_names=['a'])
    for split, _ in res['speed_ranges']:
        suffix = '' if split == 'all' else f'_{split}'
        assert math.isnan(res['mAP' + suffix])
        assert np.isnan(res['AP' + suffix]).all()
        np.testing.assert_array_equal(res['num_pos' + suffix], [0])
    np.testing.assert_array_equal(res['num_dets'], [0])


def test_motion_iou_of_no_frames_is_an_empty_list():
    # one (G_f,) array per frame: none for no frame
    assert compute_motion_iou([]) == []


def test_missing_video_id_raises_when_the_motion_iou_needs_it():
    anns = [gt([BOX_A], frame=0), gt([BOX_A], frame=1)]
    del anns[1]['video_id']
    dets = [det([BOX_A], [0.9]) for _ in anns]
    with pytest.raises(
            ValueError,
            match=r"annotations\[1\] has no 'video_id' \(needed for the "
            r'motion IoU\)'):
        evaluate(dets, anns)


def test_speed_splits_without_instance_ids_or_motion_ious_raise():
    anns = [gt([BOX_A], frame=f) for f in range(2)]
    for ann in anns:
        del ann['instance_ids']
    dets = [det([BOX_A], [0.9]) for _ in anns]
    with pytest.raises(
            ValueError,
            match=r'annotations need "instance_ids" \(or "motion_ious"\) '
            'for the motion-speed splits'):
        evaluate(dets, anns)


def test_empty_speed_ranges_raise():
    with pytest.raises(ValueError, match='speed_ranges must not be empty'):
        evaluate([det([], [])], [gt([])], speed_ranges={})


@pytest.mark.parametrize('ranges,item', [
    (dict(all=0.5), "('all', 0.5)"),
    ([('all', (0., 'x'))], "('all', (0.0, 'x'))"),
    (['all'], "'all'"),
])
def test_speed_range_without_two_bounds_raises_naming_it(ranges, item):
    with pytest.raises(
            ValueError,
            match=r'speed_ranges must map names to \(lo, hi\), got ' +
            re.escape(item)):
        evaluate([det([], [])], [gt([])], speed_ranges=ranges)


def test_repeated_speed_range_name_raises():
    with pytest.raises(
            ValueError,
            match=r"speed_ranges names must be unique, got \['a', 'a'\]"):
        evaluate([det([], [])], [gt([])],
                 speed_ranges=[('a', (0., 1.)), ('a', (0., .5))])


def test_num_classes_disagreeing_with_class_names_raises():
    with pytest.raises(
            ValueError, match='num_classes=3 but 2 class_names given'):
        evaluate([det([], [])], [gt([])],
                 num_classes=3,
                 class_names=['a', 'b'])


def test_table_goes_to_stdout_without_a_logger(capsys):
    dets, anns = [det([BOX_A], [0.9])], [gt([BOX_A])]
    res = evaluate(dets, anns, logger=None)
    assert format_vid_table(res) in capsys.readouterr().out
    evaluate(dets, anns, logger='silent')
    assert capsys.readouterr().out == ''


# --- reference: a literal loop transcription of the devkit + FGFA --------


def reference_eval(dets, anns, num_classes, ranges):
    """Slow per-detection loops, written independently of the module."""
    all_motion = [m for a in anns for m in a['motion_ious']]
    out = {}
    for name, (lo, hi) in ranges.items():
        ignored = [[not lo <= m <= hi for m in a['motion_ious']] for a in anns]
        n_in = sum(not i for ig in ignored for i in ig)
        empty_weight = n_in / len(all_motion) if all_motion else 1.0
        records = []
        for d, a, ig in zip(dets, anns, ignored):
            gts, labels = a['bboxes'], a['labels']
            taken = [False] * len(gts)
            for j in sorted(
                    range(len(d['scores'])), key=lambda j: -d['scores'][j]):
                bb, best, kbest = d['bboxes'][j], -math.inf, -1
                ov_in, ov_ig = -1.0, -1.0
                for k, g in enumerate(gts):
                    if labels[k] != d['labels'][j] or taken[k]:
                        continue
                    iw = min(bb[2], g[2]) - max(bb[0], g[0]) + 1
                    ih = min(bb[3], g[3]) - max(bb[1], g[1]) + 1
                    if iw > 0 and ih > 0:
                        ua = ((bb[2] - bb[0] + 1) * (bb[3] - bb[1] + 1) +
                              (g[2] - g[0] + 1) * (g[3] - g[1] + 1) - iw * ih)
                        ov = iw * ih / ua
                        gw, gh = g[2] - g[0] + 1, g[3] - g[1] + 1
                        thr = min(0.5, gw * gh / ((gw + 10) * (gh + 10)))
                        if ov >= thr and ov > best:
                            best, kbest = ov, k
                        if ig[k]:
                            ov_ig = max(ov_ig, ov)
                        else:
                            ov_in = max(ov_in, ov)
                if kbest >= 0:
                    taken[kbest] = True
                    tp, fp = (0.0 if ig[kbest] else 1.0), 0.0
                elif ov_in > ov_ig:
                    tp, fp = 0.0, 1.0
                elif ov_ig > ov_in:
                    tp, fp = 0.0, 0.0
                elif len(gts):
                    tp, fp = 0.0, (len(gts) - sum(ig)) / len(gts)
                else:
                    tp, fp = 0.0, empty_weight
                records.append((d['scores'][j], d['labels'][j], tp, fp))
        records.sort(key=lambda r: -r[0])
        aps = []
        for c in range(num_classes):
            npos = sum(1 for a, ig in zip(anns, ignored)
                       for lab, i in zip(a['labels'], ig)
                       if lab == c and not i)
            if npos == 0:
                aps.append(math.nan)
                continue
            ctp = cfp = 0.0
            rec, prec = [], []
            for _, lab, tp, fp in records:
                if lab != c:
                    continue
                ctp, cfp = ctp + tp, cfp + fp
                rec.append(ctp / npos)
                prec.append(ctp / max(ctp + cfp, np.finfo(float).eps))
            mrec, mpre = [0.0] + rec + [1.0], [0.0] + prec + [0.0]
            for i in range(len(mpre) - 2, -1, -1):
                mpre[i] = max(mpre[i], mpre[i + 1])
            aps.append(
                sum((mrec[i] - mrec[i - 1]) * mpre[i]
                    for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1]))
        out[name] = np.array(aps)
    return out


def random_case(rng, num_frames=30, num_classes=3):
    """Boxes on a 5 px grid (IoU ties), scores rounded (score ties)."""
    anns, dets = [], []
    for f in range(num_frames):
        n_gt = rng.integers(0, 5)
        xy = rng.integers(0, 8, size=(n_gt, 2)) * 10
        wh = rng.integers(1, 6, size=(n_gt, 2)) * 10
        boxes = np.concatenate([xy, xy + wh - 1], axis=1)
        labels = rng.integers(0, num_classes, n_gt)
        motion = rng.choice([0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0], n_gt)
        anns.append(gt(boxes, labels, motion=motion, frame=f))
        n_det = rng.integers(0, 9)
        # mostly jittered GT boxes (with their label or another), some
        # random boxes
        near = (rng.random(n_det) < 0.7) & (n_gt > 0)
        src = rng.integers(0, max(n_gt, 1), n_det)
        xy_r = rng.integers(0, 8, size=(n_det, 2)) * 10
        wh_r = rng.integers(1, 6, size=(n_det, 2)) * 10
        dboxes = np.concatenate([xy_r, xy_r + wh_r - 1], axis=1)
        dlabels = rng.integers(0, num_classes, n_det)
        if n_gt:
            dboxes[near] = boxes[src[near]]
            same = near & (rng.random(n_det) < 0.8)
            dlabels[same] = labels[src[same]]
        dboxes = dboxes + rng.integers(-1, 2, size=(n_det, 4)) * 5
        dboxes[:, 2:] = np.maximum(dboxes[:, 2:], dboxes[:, :2])
        scores = np.round(rng.random(n_det), 1)  # ties on purpose
        dets.append(det(dboxes, scores, dlabels))
    return dets, anns


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_matches_reference_loop_implementation(seed):
    rng = np.random.default_rng(seed)
    dets, anns = random_case(rng)
    ranges = dict(
        all=(0., 1.), fast=(0., 0.7), medium=(0.7, 0.9), slow=(0.9, 1.))
    res = evaluate(dets, anns, num_classes=3, speed_ranges=ranges)
    ref = reference_eval(dets, anns, 3, ranges)
    for name in ranges:
        key = 'AP' if name == 'all' else f'AP_{name}'
        np.testing.assert_allclose(
            res[key],
            ref[name],
            rtol=1e-12,
            atol=1e-12,
            err_msg=f'{name}: got {res[key]}, reference {ref[name]}')
