# Copyright (c) memvid_mm contributors. All rights reserved.
"""The numpy COCO AP50 equals pycocotools' COCOeval on the same frames."""
import numpy as np
import pytest

from memvid_mm.evaluation.functional import coco_ap50, coco_box_ap50


def random_frames(rng, num_frames=25, num_classes=3, crowd_rate=0.15):
    """Boxes on a 5 px grid (IoU ties), rounded scores (score ties), some
    crowd GTs, many detections per image and class."""
    frames = []
    for f in range(num_frames):
        n_gt = rng.integers(0, 6)
        xy = rng.integers(0, 10, size=(n_gt, 2)) * 10.
        wh = rng.integers(1, 6, size=(n_gt, 2)) * 10.
        gt_boxes = np.concatenate([xy, xy + wh], axis=1)
        gt_labels = rng.integers(0, num_classes, n_gt)
        n_det = rng.integers(0, 12)
        src = rng.integers(0, max(n_gt, 1), n_det)
        xy_r = rng.integers(0, 10, size=(n_det, 2)) * 10.
        boxes = np.concatenate([xy_r, xy_r + 30.], axis=1)
        labels = rng.integers(0, num_classes, n_det)
        if n_gt:
            near = rng.random(n_det) < 0.7
            boxes[near] = gt_boxes[src[near]]
            labels[near] = gt_labels[src[near]]
        boxes += rng.integers(-1, 2, size=(n_det, 4)) * 5.
        frames.append(
            dict(
                img_id=f + 1,
                video_id=0,
                frame_id=f,
                bboxes=boxes.astype(np.float32),
                scores=np.round(rng.random(n_det), 1).astype(np.float32),
                labels=labels,
                gt_bboxes=gt_boxes,
                gt_labels=gt_labels,
                gt_instance_ids=np.arange(n_gt),
                gt_ignore_flags=rng.random(n_gt) < crowd_rate))
    return frames


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('max_dets', [(100, 300, 1000), (1, 2, 3)])
def test_numpy_ap50_equals_pycocotools(seed, max_dets):
    frames = random_frames(np.random.default_rng(seed))
    ours = coco_ap50(frames, 3, max_dets=max_dets, backend='numpy')
    ref = coco_ap50(frames, 3, max_dets=max_dets, backend='pycocotools')
    assert ours == pytest.approx(ref, abs=1e-12)
    assert 0 < ours < 1


def one_frame(bboxes, scores, gt_bboxes, gt_ignore_flags=None):
    """The record of image 1, every box of class 0."""
    gt_bboxes = np.array(gt_bboxes, np.float64)
    return dict(
        img_id=1,
        video_id=0,
        frame_id=0,
        bboxes=np.array(bboxes, np.float32),
        scores=np.array(scores, np.float32),
        labels=np.zeros(len(scores), np.int64),
        gt_bboxes=gt_bboxes,
        gt_labels=np.zeros(len(gt_bboxes), np.int64),
        gt_instance_ids=np.arange(len(gt_bboxes)),
        gt_ignore_flags=(np.zeros(len(gt_bboxes), bool)
                         if gt_ignore_flags is None else
                         np.array(gt_ignore_flags)))


def test_crowd_region_absorbs_detections():
    # one real GT (found) and a crowd region covering three detections:
    # the crowd GT is matched repeatedly (IoU = inter / det area = 1),
    # so those detections are ignored instead of counted as FPs
    crowd = [0, 0, 199, 199]
    frame = one_frame([[300, 300, 350, 350], [0, 0, 50, 50], [60, 60, 90, 90],
                       [100, 100, 150, 150]], [0.5, 0.9, 0.8, 0.7],
                      [[300, 300, 350, 350], crowd], [False, True])
    for backend in ('numpy', 'pycocotools'):
        assert coco_ap50([frame], 1, backend=backend) == pytest.approx(1.0)


def test_equal_iou_goes_to_the_gt_listed_last():
    # COCO boxes: G1=[0,0,100,100], G2=[50,0,150,100]; det1 (0.9) =
    # [25,0,125,100] has IoU 7500/12500 = 0.6 with both: pycocotools'
    # '>=' update keeps the last, G2; det2 (0.8) = G1 then takes G1: AP 1.
    # (first-wins would leave det2 an FP: AP 51/101)
    frame = one_frame([[25, 0, 125, 100], [0, 0, 100, 100]], [0.9, 0.8],
                      [[0, 0, 100, 100], [50, 0, 150, 100]])
    for backend in ('numpy', 'pycocotools'):
        assert coco_ap50([frame], 1, backend=backend) == pytest.approx(1.0)
    reordered = dict(frame, gt_bboxes=frame['gt_bboxes'][::-1].copy())
    for backend in ('numpy', 'pycocotools'):
        assert coco_ap50([reordered], 1,
                         backend=backend) == pytest.approx(51 / 101)


def test_zero_width_gt_is_a_positive_no_detection_matches():
    """A degenerate GT (width 0, kept in test mode for the devkit's AP) is
    scored as pycocotools scores it from the annotation file, as mmtrack's
    CocoVideoMetric did: a positive that a detection on it cannot match
    (IoU 0), so finding the other GT after it gives precision 1/2 up to
    recall 1/2: AP 51/101 x 1/2."""
    boxes = [[10, 20, 10, 80], [200, 0, 260, 60]]
    frame = one_frame(boxes, [0.9, 0.8], boxes)
    for backend in ('numpy', 'pycocotools'):
        assert coco_ap50([frame], 1,
                         backend=backend) == pytest.approx(51 / 101 * 0.5)


def test_unknown_backend_raises():
    with pytest.raises(ValueError, match='backend'):
        coco_ap50(random_frames(np.random.default_rng(0), 2), 3, backend='x')


def test_annotations_without_ignore_flags_have_no_crowd():
    # two GTs, one found: precision 1 up to recall 1/2, then 0 ->
    # 101-point AP 51 / 101; the same with every flag given as False
    dets = [
        dict(
            bboxes=np.array([[0, 0, 100, 100]], np.float32),
            scores=np.array([0.9], np.float32),
            labels=np.zeros(1, np.int64))
    ]
    anns = [
        dict(
            bboxes=np.array([[0, 0, 100, 100], [200, 0, 300, 100]], float),
            labels=np.zeros(2, np.int64))
    ]
    ap = coco_box_ap50(dets, anns, 1)
    assert ap == pytest.approx(51 / 101)
    assert coco_box_ap50(dets, [dict(anns[0], ignore_flags=np.zeros(2, bool))],
                         1) == ap


def test_frames_of_other_lengths_or_order_raise():
    # paired by position, other frames' boxes were scored without an error
    frames = random_frames(np.random.default_rng(0), 2)
    dets = [dict(f, img_id=f['img_id']) for f in frames]
    anns = [
        dict(bboxes=f['gt_bboxes'], labels=f['gt_labels'], img_id=f['img_id'])
        for f in frames
    ]
    with pytest.raises(
            ValueError, match='det_results has 2 frames but '
            'annotations has 1'):
        coco_box_ap50(dets, anns[:1], 3)
    with pytest.raises(
            ValueError,
            match=r'det_results\[0\] \(img_id=2, .*\) is not the frame of '
            r'annotations\[0\] \(img_id=1\)'):
        coco_box_ap50(dets[::-1], anns, 3)
