# Copyright (c) memvid_mm contributors. All rights reserved.
import numpy as np
import pytest

from memvid_mm.evaluation.functional import (coco_ap50, evaluate_vid_frames,
                                             instances_to_gt,
                                             merge_frame_records,
                                             select_degradation)
from memvid_mm.evaluation.functional.vid_frames import (GT_KEYS,
                                                        attach_ground_truth,
                                                        check_dump_frames,
                                                        degradation_subsets,
                                                        dump_class_names)


def record(img_id, video_id=0, frame_id=0, score=0.9, gt_boxes=None, **extra):
    """A frame record: one detection on the GT box [0, 0, 99, 99]."""
    gt_boxes = [[0, 0, 99, 99]] if gt_boxes is None else gt_boxes
    gt = instances_to_gt([
        dict(bbox=box, bbox_label=0, instance_id=1, ignore_flag=0)
        for box in gt_boxes
    ])
    return dict(
        img_id=img_id,
        video_id=video_id,
        frame_id=frame_id,
        img_path=f'{img_id}.JPEG',
        bboxes=np.array([[0, 0, 99, 99]], np.float32),
        scores=np.array([score], np.float32),
        labels=np.array([0]),
        **gt,
        **extra)


def test_instances_to_gt():
    gt = instances_to_gt([
        dict(bbox=[1, 2, 3, 4], bbox_label=2, instance_id=5, ignore_flag=1),
        dict(bbox=[5, 6, 7, 8], bbox_label=0)
    ])
    np.testing.assert_array_equal(gt['gt_bboxes'],
                                  [[1, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(gt['gt_labels'], [2, 0])
    np.testing.assert_array_equal(gt['gt_instance_ids'], [5, -1])
    np.testing.assert_array_equal(gt['gt_ignore_flags'], [True, False])
    assert instances_to_gt([])['gt_bboxes'].shape == (0, 4)
    with pytest.raises(ValueError, match='instances'):
        instances_to_gt(None)


def test_merge_keeps_each_frame_once_sorted_by_img_id():
    merged = merge_frame_records(
        [record(3), record(1),
         record(2), record(1),
         record(3)])
    assert [r['img_id'] for r in merged] == [1, 2, 3]
    with pytest.raises(ValueError, match='img_id 2'):
        merge_frame_records([record(2), record(2, score=0.5)])
    with pytest.raises(ValueError, match='img_id 2'):
        merge_frame_records([record(2), record(2, frame_id=1)])


def test_coco_ap50():
    # perfect: 1.0; a second frame whose GT is missed (the detection sits
    # elsewhere): precision 1/2 from recall 1/2 on -> COCO's 101-point AP
    # = (51 * 1 + 50 * 0) / 101 with the miss ranked below the hit
    assert coco_ap50([record(1)], 1) == pytest.approx(1.0)
    miss = record(2, score=0.5, gt_boxes=[[300, 300, 399, 399]])
    assert coco_ap50([record(1), miss], 1) == pytest.approx(51 / 101)
    assert np.isnan(coco_ap50([record(1, gt_boxes=[])], 1))


def test_degradation_subsets():
    frames = [
        record(1, degradation='none'),
        record(2, degradation='blur'),
        record(3, degradation='noise')
    ]
    subsets = degradation_subsets(frames)
    assert [f['img_id'] for f in subsets['clean']] == [1]
    assert [f['img_id'] for f in subsets['degraded']] == [2, 3]
    assert degradation_subsets([record(1), record(2)]) == {}
    with pytest.raises(ValueError, match='all or none'):
        degradation_subsets([record(1, degradation='none'), record(2)])
    # null is no value either (the metric reads absent metainfo as None)
    with pytest.raises(
            ValueError, match=r'1 of 2 frames .* e\.g\. img_id 2; all or'):
        degradation_subsets(
            [record(1, degradation='blur'),
             record(2, degradation=None)])


def test_evaluate_vid_frames_reports_table_and_metrics():
    metrics, report = evaluate_vid_frames(
        [record(1), record(2, frame_id=1)], class_names=['airplane'])
    assert metrics['mAP'] == 1.0
    assert metrics['bbox_mAP_50'] == pytest.approx(1.0)
    assert 'airplane' in report and 'bbox_mAP_50: 1.0000' in report
    with pytest.raises(ValueError, match='no frames'):
        evaluate_vid_frames([])


def test_bad_predictions_name_the_frame_by_its_ids():
    """Not by its place in the list of frames, which the caller never
    sees (the metric's records, merged from the ranks)."""
    frames = [record(1), record(7, video_id=3, frame_id=4, score=np.nan)]
    with pytest.raises(
            ValueError,
            match=r'det_results\[1\] \(img_id=7, video_id=3, '
            r'frame_id=4\): scores\[0\] = nan is not finite'):
        evaluate_vid_frames(frames, with_coco_ap50=False)
    frames[1] = dict(record(7, video_id=3, frame_id=4), labels=np.array([5]))
    with pytest.raises(
            ValueError,
            match=r'det_results\[1\] \(img_id=7, video_id=3, '
            r'frame_id=4\): labels\[0\] = 5 is outside \[0, '
            r'1\)'):
        evaluate_vid_frames(
            frames, class_names=['airplane'], with_coco_ap50=False)


def test_repeated_video_frame_with_another_img_id_raises():
    # two records claim frame 1 of video 5
    frames = [record(1, 5, 0), record(2, 5, 1), record(3, 5, 1)]
    with pytest.raises(
            ValueError, match=r'video 5 .* frame_id 1 \(img_id 2 and 3\)'):
        evaluate_vid_frames(frames, with_coco_ap50=False)
    # identical copies from two ranks are merged first, as before
    merged = merge_frame_records(frames[:2] + frames[:2])
    metrics, _ = evaluate_vid_frames(merged, with_coco_ap50=False)
    assert metrics['mAP'] == 1.0


def test_speed_splits_need_instance_ids_of_multi_frame_videos():
    # instances without instance_id get -1: every box would be "fast"
    untracked = [
        dict(record(i, 3, i), gt_instance_ids=np.array([-1])) for i in range(2)
    ]
    with pytest.raises(ValueError, match='video 3 .*instance_id >= 0'):
        evaluate_vid_frames(untracked, with_coco_ap50=False)
    # fine: split "all" only, and one-frame videos (DET images)
    metrics, _ = evaluate_vid_frames(
        untracked, speed_ranges=dict(all=(0., 1.)), with_coco_ap50=False)
    assert metrics['mAP'] == 1.0
    det_images = [
        dict(record(i, 100001 + i, 0), gt_instance_ids=np.array([-1]))
        for i in range(2)
    ]
    metrics, _ = evaluate_vid_frames(det_images, with_coco_ap50=False)
    assert metrics['mAP'] == metrics['mAP_fast'] == 1.0


def test_select_degradation_keeps_the_speed_of_the_whole_track():
    """A track still for 20 frames, then jumping 60 px a frame: its
    motion IoU, from the whole video, makes it slow at frame 2 and fast at
    frame 25 (a subset alone would give it no neighbours at all)."""
    kinds = {2: 'blur', 25: 'blur'}
    frames = [
        record(
            t,
            frame_id=t,
            gt_boxes=[[0, 0, 99, 99] if t < 20 else
                      [60 * (t - 19), 0, 60 * (t - 19) + 99, 99]],
            degradation=kinds.get(t, 'none')) for t in range(30)
    ]
    for frame in frames:  # detected where the GT is
        frame['bboxes'] = frame['gt_bboxes'].astype(np.float32)
    blur = select_degradation(frames, 'blur')
    assert [f['img_id'] for f in blur] == [2, 25]
    assert blur[0]['gt_motion_ious'][0] > 0.9  # slow
    assert blur[1]['gt_motion_ious'][0] < 0.7  # fast
    assert 'gt_motion_ious' not in frames[2]  # copies, inputs untouched
    metrics, _ = evaluate_vid_frames(blur, with_coco_ap50=False)
    assert metrics['mAP_slow'] == pytest.approx(1.0)
    assert metrics['mAP_fast'] == pytest.approx(1.0)
    assert np.isnan(metrics['mAP_medium'])
    with pytest.raises(ValueError, match="'fog'.*'blur', 'none'"):
        select_degradation(frames, 'fog')


def test_select_degradation_refuses_untracked_boxes_of_a_video():
    # their motion IoU would be 0: a still box counted as fast
    frames = [
        dict(
            record(t, 3, t, degradation='none'),
            gt_instance_ids=np.array([-1])) for t in range(3)
    ]
    with pytest.raises(ValueError, match='video 3 .*instance_id >= 0'):
        select_degradation(frames, 'none')


def test_coco_ap50_uses_the_largest_max_dets_as_cocoeval_does():
    # two frames of 2 detections each: 1 kept per image loses a GT
    frames = [
        dict(
            record(
                i, frame_id=i, gt_boxes=[[0, 0, 99, 99], [200, 0, 299, 99]]),
            bboxes=np.array([[0, 0, 99, 99], [200, 0, 299, 99]], np.float32),
            scores=np.array([0.9, 0.8], np.float32),
            labels=np.array([0, 0])) for i in (1, 2)
    ]
    full = coco_ap50(frames, 1, max_dets=(1, 10, 100))
    assert full == pytest.approx(1.0)
    assert coco_ap50(frames, 1, max_dets=(100, 10, 1)) == full
    assert coco_ap50(frames, 1, max_dets=(1, 1, 1)) < 0.6


def test_dump_class_names():
    entry = dict(img_id=1, video_id=0, frame_id=0)
    assert dump_class_names([entry, dict(entry, img_id=2)]) is None  # old
    names = ('cat', 'dog')
    assert dump_class_names([dict(entry, classes=names)]) == ['cat', 'dog']
    with pytest.raises(
            ValueError, match=r'entry 1 \(img_id=2\) has '
            r'classes None'):
        dump_class_names([dict(entry, classes=names), dict(entry, img_id=2)])
    with pytest.raises(ValueError, match=r"entry 1 .*\('dog', 'cat'\)"):
        dump_class_names([
            dict(entry, classes=names),
            dict(entry, img_id=2, classes=names[::-1])
        ])
    with pytest.raises(ValueError, match='sequence of class names'):
        dump_class_names([dict(entry, classes='cat')])


def test_instance_without_a_label_raises_naming_it():
    with pytest.raises(
            ValueError,
            match=r'instances\[1\] needs "bbox" and "bbox_label", got keys '
            r"\['bbox', 'instance_id'\]"):
        instances_to_gt([
            dict(bbox=[0, 0, 9, 9], bbox_label=0),
            dict(bbox=[0, 0, 9, 9], instance_id=2)
        ])


def test_pycocotools_backend_without_a_non_crowd_gt_is_nan():
    # COCOeval has no category to average, as the numpy backend
    crowd_only = dict(record(1), gt_ignore_flags=np.array([True]))
    for frames in ([crowd_only], [record(1, gt_boxes=[])]):
        assert np.isnan(coco_ap50(frames, 1, backend='pycocotools'))
        assert np.isnan(coco_ap50(frames, 1, backend='numpy'))


def test_pycocotools_backend_without_detections_is_zero():
    # (pycocotools' loadRes refuses an empty result list)
    frame = dict(
        record(1),
        bboxes=np.zeros((0, 4), np.float32),
        scores=np.zeros(0, np.float32),
        labels=np.zeros(0, np.int64))
    assert coco_ap50([frame], 1, backend='pycocotools') == 0.
    assert coco_ap50([frame], 1, backend='numpy') == 0.


def test_degradation_subset_without_frames_is_nan():
    frames = [
        record(1, degradation='none'),
        record(2, frame_id=1, degradation='none')
    ]
    metrics, report = evaluate_vid_frames(
        frames, with_coco_ap50=False, with_degradation=True)
    assert metrics['mAP_clean'] == metrics['mAP'] == 1.0
    assert np.isnan(metrics['mAP_degraded'])
    assert 'mAP_degraded: nan' in report


def test_dump_entry_that_is_not_a_dict_raises_naming_it():
    with pytest.raises(
            TypeError, match='dump entry 1 must be a dict, got str'):
        check_dump_frames([record(1), 'record(2)'])


@pytest.mark.parametrize(
    'bad,match', [
        (dict(scores=['high']),
         r'non-numeric predictions \(could not convert'),
        (dict(scores=np.array([0.9, 0.8])),
         r'scores \(2,\) and labels \(1,\) must be \(1,\)'),
        (dict(labels=np.array([0, 0])),
         r'scores \(1,\) and labels \(2,\) must be \(1,\)'),
        (dict(scores=np.array([np.inf])), 'non-finite bboxes or scores'),
        (dict(bboxes=np.array([[0, 0, np.nan, 99]])),
         'non-finite bboxes or scores'),
        (dict(labels=np.array([0.5])), 'labels must be integers'),
    ],
    ids=[
        'text_score', 'two_scores', 'two_labels', 'inf_score', 'nan_box',
        'fractional_label'
    ])
def test_malformed_dump_entry_raises_naming_it(bad, match):
    entries = [record(1), dict(record(7), **bad)]
    with pytest.raises(
            ValueError, match=r'dump entry 1 \(img_id=7\): ' + match):
        check_dump_frames(entries)


def gt_frame(frame, **extra):
    """The annotation file's frame of a record (ids and GT only)."""
    keys = ('img_id', 'video_id', 'frame_id') + GT_KEYS
    return dict({key: frame[key] for key in keys}, **extra)


def test_dump_entry_with_empty_lists_is_scored_as_no_detections():
    # [] has shape (0,), not (0, 4): still an entry without detections
    entry = dict(record(1), bboxes=[], scores=[], labels=[])
    check_dump_frames([entry])
    records = attach_ground_truth([entry], [gt_frame(record(1))])
    assert records[0]['bboxes'].shape == (0, 4)
    metrics, _ = evaluate_vid_frames(records, with_coco_ap50=False)
    assert metrics['mAP'] == 0.0  # the GT is missed


def test_frames_without_img_path_are_joined_without_comparing_names():
    # only frames with both img_path and file_name are compared
    entry = dict(record(1), img_path=None)
    records = attach_ground_truth(
        [entry], [gt_frame(record(1), file_name='val/other.JPEG')])
    assert records[0]['img_path'] is None
    np.testing.assert_array_equal(records[0]['gt_bboxes'], [[0, 0, 99, 99]])
