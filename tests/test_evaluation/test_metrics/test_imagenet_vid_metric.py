# Copyright (c) memvid_mm contributors. All rights reserved.
"""ImagenetVIDMetric / DumpVIDResults on a tiny CocoVID file, and the
offline ``tools/analysis_tools/eval_vid.py`` round trip."""
import hashlib
import importlib.util
import json
import math
import os.path as osp
import pickle
import shutil
import warnings

import numpy as np
import pytest
import torch
from mmdet.evaluation.metrics import CocoVideoMetric, base_video_metric
from mmdet.registry import DATASETS, METRICS
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from memvid_mm.evaluation import (DumpVIDResults, ImagenetVIDMetric,
                                  append_dump_metric, dataset_ann_file)
from memvid_mm.evaluation.functional import eval_vid_map, instances_to_gt
from memvid_mm.evaluation.metrics import frame_record

CLASSES = ('airplane', 'bicycle', 'bird')
SPLIT_KEYS = ('mAP', 'mAP_fast', 'mAP_medium', 'mAP_slow')
TOOL = osp.join(
    osp.dirname(__file__), '..', '..', '..', 'tools', 'analysis_tools',
    'eval_vid.py')


def write_annotations(path, reverse_categories=False):
    """3 videos (6, 4 and 1 frames), 3 classes; slow, medium and fast
    tracks; frames without objects. Boxes are COCO [x, y, w, h]."""
    images, anns = [], []
    categories = [
        dict(id=i + 1, name=name, encode_name=f'n{i:08d}')
        for i, name in enumerate(CLASSES)
    ]
    if reverse_categories:
        categories = categories[::-1]
    videos = [dict(id=v + 1, name=f'val/video_{v}') for v in range(3)]

    def add_ann(img_id, video_id, cat, inst, box):
        anns.append(
            dict(
                id=len(anns) + 1,
                video_id=video_id,
                image_id=img_id,
                category_id=cat,
                instance_id=inst,
                bbox=box,
                area=box[2] * box[3],
                iscrowd=False,
                occluded=False,
                generated=False))

    img_id = 1
    for v, length in enumerate((6, 4, 1)):
        for f in range(length):
            images.append(
                dict(
                    id=img_id,
                    video_id=v + 1,
                    frame_id=f,
                    file_name=f'val/video_{v}/{f:06d}.JPEG',
                    height=360,
                    width=480,
                    is_vid_train_frame=True))
            if v == 0 and f != 3:  # frame 3 of video 0 has no object
                add_ann(img_id, 1, 1, 1, [10, 10, 100, 80])  # static
                add_ann(img_id, 1, 2, 2, [150 + 3 * f, 50, 100, 100])
            if v == 1:
                add_ann(img_id, 2, 3, 3, [20 + 90 * f, 200, 60, 60])  # fast
                add_ann(img_id, 2, 1, 4, [300, 20, 8, 6])  # tiny, static
            if v == 2:
                add_ann(img_id, 3, 2, 5, [40, 40, 200, 150])  # single frame
            img_id += 1
    data = dict(
        categories=categories, videos=videos, images=images, annotations=anns)
    with open(path, 'w') as f:
        json.dump(data, f)
    return data


@pytest.fixture
def ann_file(tmp_path):
    path = str(tmp_path / 'vid_val.json')
    write_annotations(path)
    return path


def load_frames(ann_file, dataset_type='ImagenetVIDDataset'):
    """Per-frame metainfo as the test-time dataset hands it."""
    dataset = DATASETS.build(
        dict(
            type=dataset_type,
            ann_file=ann_file,
            metainfo=dict(classes=CLASSES),
            test_mode=True,
            pipeline=[]))
    frames = []
    for v in range(len(dataset)):
        video = dataset.get_data_info(v)
        for img in video['images']:
            frames.append(
                dict(
                    img_id=img['img_id'],
                    video_id=video['video_id'],
                    frame_id=img['frame_id'],
                    img_path=img['img_path'],
                    ori_shape=(img['height'], img['width']),
                    ori_video_length=video['video_length'],
                    instances=img['instances'],
                    **{
                        key: img[key]
                        for key in ('degradation', ) if key in img
                    }))
    return frames


def predict(frames, rng, perfect=False):
    """Jittered GT boxes (some with a wrong label) plus background boxes."""
    preds = []
    for meta in frames:
        gt = instances_to_gt(meta['instances'])
        boxes, labels = gt['gt_bboxes'], gt['gt_labels']
        if not perfect:
            boxes = boxes + rng.normal(0, 6, boxes.shape)
            # corners jittered past each other: the box they span
            boxes = np.concatenate([
                np.minimum(boxes[:, :2], boxes[:, 2:]),
                np.maximum(boxes[:, :2], boxes[:, 2:])
            ], 1)
            labels = np.where(
                rng.random(len(labels)) < 0.8, labels,
                rng.integers(0, 3, len(labels)))
            xy = rng.uniform(0, 300, (2, 2))
            boxes = np.concatenate([boxes, np.concatenate([xy, xy + 50], 1)])
            labels = np.concatenate([labels, rng.integers(0, 3, 2)])
        scores = rng.uniform(0.05, 1, len(boxes))
        preds.append(
            InstanceData(
                bboxes=torch.tensor(boxes, dtype=torch.float32),
                scores=torch.tensor(scores, dtype=torch.float32),
                labels=torch.tensor(labels, dtype=torch.int64)))
    return preds


def det_sample(meta, pred, **extra):
    sample = DetDataSample(metainfo=dict(meta, **extra))
    sample.pred_instances = pred
    return sample


def image_steps(frames, preds, **extra):
    """What the TestLoop hands the metric with TrackImgSampler."""
    steps = []
    for meta, pred in zip(frames, preds):
        track = TrackDataSample()
        track.video_data_samples = [det_sample(meta, pred, **extra)]
        steps.append(track.to_dict())
    return steps


def video_steps(frames, preds):
    """One step per whole video (video-level processing)."""
    steps, by_video = [], {}
    for meta, pred in zip(frames, preds):
        by_video.setdefault(meta['video_id'],
                            []).append(det_sample(meta, pred))
    for samples in by_video.values():
        track = TrackDataSample()
        track.video_data_samples = samples
        steps.append(track.to_dict())
    return steps


def run_metric(metric, steps):
    metric.dataset_meta = dict(classes=CLASSES)
    for step in steps:
        metric.process(None, [step])
    return metric.evaluate(1)


def functional_reference(frames, preds, **kwargs):
    dets = [
        dict(
            bboxes=p.bboxes.numpy(),
            scores=p.scores.numpy(),
            labels=p.labels.numpy()) for p in preds
    ]
    anns = []
    for meta in frames:
        gt = instances_to_gt(meta['instances'])
        anns.append(
            dict(
                bboxes=gt['gt_bboxes'],
                labels=gt['gt_labels'],
                instance_ids=gt['gt_instance_ids'],
                video_id=meta['video_id'],
                frame_id=meta['frame_id']))
    return eval_vid_map(
        dets, anns, class_names=CLASSES, logger='silent', **kwargs)


def assert_same_metrics(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if math.isnan(a[key]):
            assert math.isnan(b[key]), key
        else:
            assert a[key] == pytest.approx(b[key], abs=1e-12), key


def test_metric_agrees_with_functional_form(ann_file):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(0))
    # as in a runner with default_scope='mmdet'
    with DefaultScope.overwrite_default_scope('mmdet'):
        evaluator = Evaluator(dict(type='ImagenetVIDMetric'))
    evaluator.dataset_meta = dict(classes=CLASSES)
    for step in image_steps(frames, preds):
        evaluator.metrics[0].process(None, [step])
    metrics = evaluator.evaluate(1)
    ref = functional_reference(frames, preds)
    for key in SPLIT_KEYS:
        assert metrics[f'vid/{key}'] == pytest.approx(ref[key]), key
    assert 0 < metrics['vid/mAP'] < 1
    assert 0 <= metrics['vid/bbox_mAP_50'] <= 1
    # the fixture has objects of every speed
    assert all(not math.isnan(metrics[f'vid/{k}']) for k in SPLIT_KEYS)


def test_image_and_video_processing_agree(ann_file):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(1))
    by_image = run_metric(ImagenetVIDMetric(), image_steps(frames, preds))
    by_video = run_metric(ImagenetVIDMetric(), video_steps(frames, preds))
    assert_same_metrics(by_image, by_video)


def test_perfect_predictions_score_one(ann_file):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(2), perfect=True)
    metrics = run_metric(ImagenetVIDMetric(), image_steps(frames, preds))
    for key in SPLIT_KEYS:
        assert metrics[f'vid/{key}'] == 1.0, key
    # pycocotools divides by tp + fp + eps
    assert metrics['vid/bbox_mAP_50'] == pytest.approx(1.0)


def test_two_ranks_give_the_same_numbers_as_one(ann_file, monkeypatch):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(3))
    steps = image_steps(frames, preds)
    single = run_metric(ImagenetVIDMetric(), steps)
    # TrackImgSampler gives each rank whole videos; rank 1 also gets one
    # frame of rank 0 again (padding), which must count once
    rank0, rank1 = ImagenetVIDMetric(), ImagenetVIDMetric()
    video_ids = [f['video_id'] for f in frames]
    first = sorted(set(video_ids))[0]
    for step, vid in zip(steps, video_ids):
        (rank0 if vid == first else rank1).process(None, [step])
    rank1.process(None, [steps[0]])
    gathered = rank0.results + rank1.results
    monkeypatch.setattr(base_video_metric, 'collect_tracking_results',
                        lambda results, device: list(gathered))
    rank0.dataset_meta = dict(classes=CLASSES)
    assert_same_metrics(rank0.evaluate(1), single)


def test_conflicting_duplicate_frame_raises(ann_file):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(4))
    other = predict(frames[:1], np.random.default_rng(5))
    metric = ImagenetVIDMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    for step in image_steps(frames, preds) + image_steps(frames[:1], other):
        metric.process(None, [step])
    with pytest.raises(ValueError, match='different content'):
        metric.evaluate(1)


def test_bbox_map_50_matches_mmdet_coco_video_metric(ann_file, tmp_path):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(6))
    ours = run_metric(
        ImagenetVIDMetric(speed_ranges=dict(all=(0., 1.))),
        image_steps(frames, preds))
    coco = CocoVideoMetric(
        metric='bbox', outfile_prefix=str(tmp_path / 'coco'))
    coco = run_metric(coco, image_steps(frames, preds))
    assert ours['vid/bbox_mAP_50'] == pytest.approx(
        coco['coco/bbox_mAP_50'], abs=5e-4)
    assert set(ours) == {'vid/mAP', 'vid/bbox_mAP_50'}


def test_degradation_subsets(ann_file):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(7))
    kinds = [
        'none' if f['video_id'] == frames[0]['video_id'] else 'blur'
        for f in frames
    ]
    metric = ImagenetVIDMetric(degradation_key='degradation')
    metric.dataset_meta = dict(classes=CLASSES)
    for meta, pred, kind in zip(frames, preds, kinds):
        metric.process(None, image_steps([meta], [pred], degradation=kind))
    metrics = metric.evaluate(1)
    for name, keep in (('clean', 'none'), ('degraded', 'blur')):
        idx = [i for i, k in enumerate(kinds) if k == keep]
        ref = functional_reference([frames[i] for i in idx],
                                   [preds[i] for i in idx],
                                   speed_ranges=dict(all=(0., 1.)))
        assert metrics[f'vid/mAP_{name}'] == pytest.approx(ref['mAP'])
    assert metrics['vid/mAP_clean'] != metrics['vid/mAP_degraded']


def test_degradation_key_without_values_skips_subsets(ann_file):
    """A SynthVID-style metric on data without degradations (ImageNet VID:
    the dataset adds none, so ``mAP_clean`` is not ``mAP`` again)."""
    frames = load_frames(ann_file)
    assert not any('degradation' in frame for frame in frames)
    preds = predict(frames, np.random.default_rng(8))
    metric = ImagenetVIDMetric(degradation_key='degradation')
    with pytest.warns(UserWarning, match='degradation'):
        metrics = run_metric(metric, image_steps(frames, preds))
    assert 'vid/mAP_clean' not in metrics and 'vid/mAP' in metrics


def test_malformed_frames_raise(ann_file):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(9))
    meta = {k: v for k, v in frames[0].items() if k != 'instances'}
    with pytest.raises(ValueError, match='instances'):
        ImagenetVIDMetric().process(None, image_steps([meta], preds[:1]))
    no_scores = InstanceData(bboxes=preds[0].bboxes, labels=preds[0].labels)
    with pytest.raises(ValueError, match='scores'):
        ImagenetVIDMetric().process(None, image_steps(frames[:1], [no_scores]))
    # video-level step in which a frame has no predictions
    steps = video_steps(frames[:6], preds[:6])
    del steps[0]['video_data_samples'][2].pred_instances
    with pytest.raises(ValueError, match='no pred_instances'):
        ImagenetVIDMetric().process(None, steps[:1])


def test_metrics_are_registered():
    assert METRICS.get('ImagenetVIDMetric') is ImagenetVIDMetric
    assert METRICS.get('DumpVIDResults') is DumpVIDResults


# --- DumpVIDResults and tools/analysis_tools/eval_vid.py -----------------


def load_tool():
    spec = importlib.util.spec_from_file_location('eval_vid_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dump(frames, preds, path, extra_steps=(), classes=None, ann_file=None):
    """DumpVIDResults over two simulated ranks (frames interleaved, rank 0
    gathers rank 1's results; ``extra_steps`` arrive again on rank 1).
    ``classes``: the ``dataset_meta`` classes (None: no dataset_meta);
    ``ann_file``: DumpVIDResults' argument (None: an older-style dump)."""
    rank0 = DumpVIDResults(path, ann_file=ann_file)
    rank1 = DumpVIDResults(path, ann_file=ann_file)
    if classes is not None:
        rank0.dataset_meta = dict(classes=classes)
    steps = image_steps(frames, preds)
    for i, step in enumerate(steps):
        (rank0 if i % 2 else rank1).process(None, [step])
    for step in extra_steps:
        rank1.process(None, [step])
    rank0.compute_metrics(rank1.results + rank0.results)
    with open(path, 'rb') as f:
        return pickle.load(f)


def test_dump_format(ann_file, tmp_path):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(10))
    steps = image_steps(frames, preds)
    entries = dump(frames, preds, str(tmp_path / 'r.pkl'), steps[:2])
    assert [e['img_id'] for e in entries] == sorted(f['img_id']
                                                    for f in frames)
    entry, pred = entries[0], preds[0]
    assert set(entry) == {
        'img_id', 'video_id', 'frame_id', 'img_path', 'bboxes', 'scores',
        'labels'
    }
    assert entry['bboxes'].dtype == np.float32
    assert entry['bboxes'].shape == (len(pred), 4)
    np.testing.assert_array_equal(entry['scores'], pred.scores.numpy())
    assert entry['img_path'] == frames[0]['img_path']
    with pytest.raises(ValueError, match='.pkl'):
        DumpVIDResults('results.json')


@pytest.mark.parametrize('dataset_type,reverse_categories',
                         [('ImagenetVIDDataset', False),
                          ('ImagenetVIDDataset', True),
                          ('BaseVideoDataset', False)])
def test_dump_and_offline_rescoring_round_trip(tmp_path, dataset_type,
                                               reverse_categories):
    # labels follow the categories sorted by id, also when the file lists
    # them in another order
    ann_file = str(tmp_path / 'vid_val.json')
    write_annotations(ann_file, reverse_categories)
    frames = load_frames(ann_file, dataset_type)
    preds = predict(frames, np.random.default_rng(11))
    online = run_metric(ImagenetVIDMetric(), image_steps(frames, preds))
    path = str(tmp_path / 'results.pkl')
    dump(frames, preds, path, ann_file=ann_file)
    out = str(tmp_path / 'metrics.json')
    offline = load_tool().main(
        [path, ann_file, '--out', out, '--dataset-type', dataset_type])
    assert_same_metrics({f'vid/{k}': v for k, v in offline.items()}, online)
    assert 'mAP_clean' not in offline  # no frame carries a degradation
    with open(out) as f:
        assert json.load(f)['mAP'] == pytest.approx(online['vid/mAP'])


def test_offline_rescoring_rejects_bad_dumps(ann_file, tmp_path):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(12))
    good = dump(frames, preds, str(tmp_path / 'good.pkl'))
    tool = load_tool()

    def run(entries):
        path = str(tmp_path / 'bad.pkl')
        with open(path, 'wb') as f:
            pickle.dump(entries, f)
        return tool.main([path, ann_file, '--no-coco'])

    unknown = dict(good[0], img_id=999)
    with pytest.raises(ValueError, match='not in the annotation file'):
        run(good + [unknown])
    with pytest.raises(ValueError, match='missing from the dump'):
        run(good[1:])
    with pytest.raises(ValueError, match='more than once'):
        run(good + good[:1])
    with pytest.raises(ValueError, match=r"misses \['scores'\]"):
        run([{k: v for k, v in good[0].items() if k != 'scores'}] + good[1:])
    # what mmdet's DumpDetResults writes of video outputs
    video_sample = image_steps(frames[:1], preds[:1])[0]
    with pytest.raises(ValueError, match='DumpDetResults.*DumpVIDResults'):
        run([video_sample])
    with pytest.raises(ValueError, match=r'bboxes must be \(R, 4\)'):
        run([dict(good[0], bboxes=np.zeros((2, 3)))] + good[1:])
    with pytest.raises(ValueError, match='frame_id'):
        run([dict(good[0], frame_id=good[0]['frame_id'] + 1)] + good[1:])
    # an x, y, w, h dump would be scored as boxes of another size
    xywh = good[0]['bboxes'].copy()
    xywh[0] = [20, 30, 10, 15]
    with pytest.raises(
            ValueError,
            match=r'1 bboxes have x2 < x1 or y2 < y1, '
            r'e\.g\. row 0'):
        run([dict(good[0], bboxes=xywh)] + good[1:])
    # same ids, another file: the frames are another data set's
    other = good[0]['img_path'].replace('.JPEG', '_other.JPEG')
    with pytest.raises(
            ValueError,
            match=f"img_id {good[0]['img_id']}: dumped img_path "
            f"'{other}' is not the annotation file's"):
        run([dict(good[0], img_path=other)] + good[1:])
    with pytest.raises(
            ValueError,
            match=rf"bad\.pkl: img_id {good[0]['img_id']}: labels "
            r'must lie in \[0, 3\)'):
        bad = dict(good[0], labels=np.full_like(good[0]['labels'], 7))
        run([bad] + good[1:])
    with pytest.raises(
            TypeError,
            match=r'bad\.pkl: the dump must be a '
            r'list of per-frame dicts, got dict'):
        run({'img_id': 1})
    with pytest.raises(ValueError, match='not registered'):
        tool.main([
            str(tmp_path / 'good.pkl'), ann_file, '--dataset-type',
            'NoSuchDataset'
        ])
    # an image dataset would parse the file as images and fail unnamed
    with pytest.raises(
            ValueError,
            match="dataset type 'CocoDataset' is not a video dataset"):
        tool.main([
            str(tmp_path / 'good.pkl'), ann_file, '--dataset-type',
            'CocoDataset'
        ])


def test_dump_carries_the_class_names(ann_file, tmp_path):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(14))
    entries = dump(frames, preds, str(tmp_path / 'r.pkl'), classes=CLASSES)
    assert all(entry['classes'] == CLASSES for entry in entries)
    # one shared tuple: pickled once, not once per frame
    assert len({id(entry['classes']) for entry in entries}) == 1


def test_offline_rescoring_checks_the_class_order(ann_file, tmp_path):
    # a model tested with another class order than the file's (sorted by
    # category id) must not get its per-class AP under the wrong names
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(15))
    path = str(tmp_path / 'results.pkl')
    dump(frames, preds, path, classes=CLASSES[::-1])
    tool = load_tool()
    pattern = (r'results.pkl: the dump was written with the classes '
               r"\['bird', 'bicycle', 'airplane'\] .* but is scored with "
               r"\['airplane', 'bicycle', 'bird'\]")
    with pytest.raises(ValueError, match=pattern):
        tool.main([path, ann_file, '--no-coco'])
    with pytest.raises(ValueError, match='scored with'):
        tool.main([path, ann_file, '--no-coco', '--classes', *CLASSES])
    # in the dump's order it is scored (labels read as the dump's classes)
    tool.main([path, ann_file, '--no-coco', '--classes', *CLASSES[::-1]])
    # an older dump without names: read in the order asked for, as before
    dump(frames, preds, path)
    tool.main([path, ann_file, '--no-coco', '--classes', *CLASSES[::-1]])


def test_dump_records_the_annotation_file(ann_file, tmp_path):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(18))
    entries = dump(frames, preds, str(tmp_path / 'r.pkl'), ann_file=ann_file)
    with open(ann_file, 'rb') as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    assert all(entry['ann_file'] == dict(path=ann_file, sha256=sha256)
               for entry in entries)
    # one shared dict: pickled once, not once per frame
    assert len({id(entry['ann_file']) for entry in entries}) == 1
    with pytest.raises(FileNotFoundError):
        DumpVIDResults('r.pkl', ann_file=str(tmp_path / 'missing.json'))


def other_data_set(ann_file, path):
    """An annotation file with the same frames (ids, file names) as
    ``ann_file`` but other boxes: another data set's."""
    with open(ann_file) as f:
        data = json.load(f)
    for ann in data['annotations']:
        ann['bbox'] = [ann['bbox'][0] + 40, *ann['bbox'][1:]]
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def test_offline_rescoring_checks_the_annotation_file(ann_file, tmp_path):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(19))
    path = str(tmp_path / 'results.pkl')
    dump(frames, preds, path, ann_file=ann_file)
    other = other_data_set(ann_file, tmp_path / 'other.json')
    tool = load_tool()
    with pytest.raises(
            ValueError,
            match=f'results.pkl: the dump was made with the annotation file '
            f'{ann_file} .* but scored with {other} .*whose content differs'
            '.*--allow-other-ann-file'):
        tool.main([path, other, '--no-coco'])
    # the file it was made with, and a copy of it elsewhere: no warning
    copy = str(tmp_path / 'copy' / 'vid_val.json')
    shutil.copytree(
        osp.dirname(ann_file),
        osp.dirname(copy),
        ignore=shutil.ignore_patterns('*.pkl', 'other.json'))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        own = tool.main([path, ann_file, '--no-coco'])
        assert tool.main([path, copy, '--no-coco']) == own
    # on purpose: scored against the other boxes, with a warning
    with pytest.warns(
            UserWarning,
            match=f'results.pkl was made with the annotation file '
            f'{ann_file} .*--allow-other-ann-file overrides'):
        forced = tool.main(
            [path, other, '--no-coco', '--allow-other-ann-file'])
    assert forced['mAP'] < own['mAP']


def test_offline_rescoring_warns_on_a_dump_without_the_record(
        ann_file, tmp_path):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(20))
    path = str(tmp_path / 'old.pkl')
    dump(frames, preds, path)  # as dumps were before the record
    with pytest.warns(
            UserWarning,
            match='old.pkl records no annotation file .* could not '
            f'check that it was made with {ann_file}'):
        metrics = load_tool().main([path, ann_file, '--no-coco'])
    assert 0 < metrics['mAP'] < 1
    # a record on some entries only, or a malformed one, is refused
    entries = dump(frames, preds, path, ann_file=ann_file)
    tool = load_tool()
    for bad, pattern in (([dict(e, ann_file=None)
                           for e in entries[:1]] + entries[1:],
                          'dump entry 0 .* has ann_file None'),
                         ([dict(e, ann_file='x.json')
                           for e in entries], '"ann_file" must be a dict')):
        with open(path, 'wb') as f:
            pickle.dump(bad, f)
        with pytest.raises(ValueError, match=f'old.pkl: .*{pattern}'):
            tool.main([path, ann_file, '--no-coco'])


def test_offline_rescoring_refuses_frames_without_degradation(tmp_path):
    """As the test-time metric: all frames or none carry a degradation; a
    frame without one must not count as clean."""
    ann_file = str(tmp_path / 'vid_val.json')
    data = write_annotations(ann_file)
    for img in data['images']:
        img['degradation'] = 'blur' if img['video_id'] == 2 else 'none'
    frames = load_frames(ann_file)  # no degradation: the file has none yet
    preds = predict(frames, np.random.default_rng(21))
    path = str(tmp_path / 'results.pkl')
    dump(frames, preds, path)
    tool = load_tool()
    for value in ('drop', None):
        if value == 'drop':
            del data['images'][7]['degradation']
        else:
            data['images'][7]['degradation'] = None
        with open(ann_file, 'w') as f:
            json.dump(data, f)
        with pytest.raises(
                ValueError,
                match=r'vid_val.json: 1 of 11 frames carry no degradation '
                r'value, e.g. img_id 8 \(val/video_1/000001.JPEG\); all or '
                'none must'):
            tool.main([path, ann_file, '--no-coco'])


def test_dataset_ann_file_joins_data_root_as_mmengine():
    assert dataset_ann_file(dict(data_root='data/x/',
                                 ann_file='a/v.json')) == 'data/x/a/v.json'
    assert dataset_ann_file(dict(ann_file='a/v.json')) == 'a/v.json'
    assert dataset_ann_file(dict(data_root='data/x',
                                 ann_file='/abs/v.json')) == '/abs/v.json'
    assert dataset_ann_file(dict(type='ConcatDataset', datasets=[])) is None


def test_append_dump_metric_records_the_annotation_file():
    metric = dict(type='ImagenetVIDMetric')
    assert append_dump_metric(metric, 'd.pkl', 'data/v.json') == [
        metric,
        dict(
            type='DumpVIDResults',
            out_file_path='d.pkl',
            ann_file='data/v.json')
    ]


def test_unreadable_dump_is_named(ann_file, tmp_path):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(16))
    good = str(tmp_path / 'good.pkl')
    dump(frames, preds, good)
    with open(good, 'rb') as f:
        raw = f.read()
    tool = load_tool()
    for name, data in (('trunc.pkl', raw[:len(raw) // 2]), ('empty.pkl', b'')):
        path = str(tmp_path / name)
        with open(path, 'wb') as f:
            f.write(data)
        with pytest.raises(ValueError, match=f'{name}: not a readable pickle'):
            tool.main([path, ann_file])


def test_malformed_annotation_file_is_named(ann_file, tmp_path):
    frames = load_frames(ann_file)
    preds = predict(frames, np.random.default_rng(17))
    path = str(tmp_path / 'results.pkl')
    dump(frames, preds, path)
    tool = load_tool()
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [')
    with pytest.raises(ValueError, match='broken.json'):
        tool.main([path, str(broken)])
    with open(ann_file) as f:
        data = json.load(f)
    del data['categories'][1]['name']
    nameless = tmp_path / 'nameless.json'
    nameless.write_text(json.dumps(data))
    with pytest.raises(
            ValueError, match='nameless.json: category id 2 has no "name"'):
        tool.main([path, str(nameless)])


def test_offline_rescoring_reports_degradation_subsets(tmp_path):
    # a SynthVID-like file: video 2 is degraded; eval_vid.py must report
    # mAP_clean / mAP_degraded as the test-time metric does
    ann_file = str(tmp_path / 'vid_val.json')
    data = write_annotations(ann_file)
    kinds = {1: 'none', 2: 'blur', 3: 'none'}
    for img in data['images']:
        img['degradation'] = kinds[img['video_id']]
    with open(ann_file, 'w') as f:
        json.dump(data, f)
    frames = [
        dict(meta, degradation=kinds[meta['video_id']])
        for meta in load_frames(ann_file)
    ]
    preds = predict(frames, np.random.default_rng(13))
    online = run_metric(
        ImagenetVIDMetric(degradation_key='degradation'),
        image_steps(frames, preds))
    path = str(tmp_path / 'results.pkl')
    dump(frames, preds, path, ann_file=ann_file)
    offline = load_tool().main([path, ann_file])
    assert {'mAP_clean', 'mAP_degraded'} <= set(offline)
    assert_same_metrics({f'vid/{k}': v for k, v in offline.items()}, online)


def test_one_pixel_wide_or_tall_gts_count_as_in_the_devkit(tmp_path):
    """An XML box with xmin == xmax is 1 px wide (inclusive pixels), COCO
    w 0: the devkit counts it as a positive; so must the online metric and
    the offline re-scoring (both read the test-mode dataset's GT)."""
    boxes = ([10, 10, 20, 20], [60, 10, 0, 40], [10, 60, 30, 0])
    data = dict(
        categories=[
            dict(id=i + 1, name=name, encode_name=f'n{i}')
            for i, name in enumerate(CLASSES)
        ],
        videos=[dict(id=1, name='val/v')],
        images=[
            dict(
                id=1,
                video_id=1,
                frame_id=0,
                file_name='val/v/000000.JPEG',
                height=100,
                width=100)
        ],
        annotations=[
            dict(
                id=i + 1,
                video_id=1,
                image_id=1,
                category_id=1,
                instance_id=i + 1,
                bbox=box,
                area=box[2] * box[3],
                iscrowd=False) for i, box in enumerate(boxes)
        ])
    ann_file = str(tmp_path / 'thin.json')
    with open(ann_file, 'w') as f:
        json.dump(data, f)
    frames = load_frames(ann_file)
    gt = instances_to_gt(frames[0]['instances'])
    np.testing.assert_array_equal(
        gt['gt_bboxes'],
        [[10, 10, 30, 30], [60, 10, 60, 50], [10, 60, 40, 60]])
    # one detection on each GT, the thin ones scored highest
    preds = [
        InstanceData(
            bboxes=torch.tensor(
                [[60, 10, 60, 50], [10, 60, 40, 60], [10, 10, 30, 30]],
                dtype=torch.float32),
            scores=torch.tensor([0.9, 0.85, 0.8]),
            labels=torch.tensor([0, 0, 0]))
    ]
    online = run_metric(ImagenetVIDMetric(), image_steps(frames, preds))
    assert online['vid/mAP'] == 1.0
    path = str(tmp_path / 'results.pkl')
    dump(frames, preds, path, ann_file=ann_file)
    offline = load_tool().main([path, ann_file])
    assert offline['mAP'] == 1.0
    assert_same_metrics({f'vid/{k}': v for k, v in offline.items()}, online)


def test_append_dump_metric_to_every_evaluator_form():
    dump = dict(type='DumpVIDResults', out_file_path='d.pkl')
    metric = dict(type='ImagenetVIDMetric')
    assert append_dump_metric(metric, 'd.pkl') == [metric, dump]
    metrics = [metric]
    assert append_dump_metric(metrics, 'd.pkl') == [metric, dump]
    assert metrics == [metric]  # the given list is left alone
    evaluator = dict(type='Evaluator', metrics=[metric])
    assert append_dump_metric(evaluator, 'd.pkl') == dict(
        type='Evaluator', metrics=[metric, dump])
    assert evaluator == dict(type='Evaluator', metrics=[metric])  # alone
    with pytest.raises(ValueError, match='d.json'):
        append_dump_metric(metric, 'd.json')


def test_append_dump_metric_replaces_an_earlier_dump():
    """A config dumped by an earlier ``--out`` test keeps its dump; a new
    test must write only its own file."""
    metric = dict(type='ImagenetVIDMetric')
    old = dict(type='DumpVIDResults', out_file_path='old.pkl')
    new = dict(type='DumpVIDResults', out_file_path='new.pkl')
    assert append_dump_metric([metric, old], 'new.pkl') == [metric, new]
    assert append_dump_metric(old, 'new.pkl') == [new]
    evaluator = dict(type='Evaluator', metrics=[old, metric])
    assert append_dump_metric(evaluator, 'new.pkl')['metrics'] == [metric, new]


# --- malformed steps and arguments ----------------------------------------

#: Frame 0 of a 2-frame video, as the test-time dataset hands it.
META = dict(
    img_id=1,
    video_id=1,
    frame_id=0,
    img_path='val/v/000000.JPEG',
    ori_video_length=2,
    instances=[dict(bbox=[0, 0, 9, 9], bbox_label=0, instance_id=1)])


def one_box():
    return InstanceData(
        bboxes=torch.tensor([[0., 0., 9., 9.]]),
        scores=torch.tensor([0.9]),
        labels=torch.tensor([0]))


def test_frame_record_without_predictions_raises():
    with pytest.raises(
            ValueError, match='the data sample has no pred_instances'):
        frame_record(DetDataSample(metainfo=META))


def test_frame_without_video_id_metainfo_raises_naming_it():
    meta = {key: value for key, value in META.items() if key != 'video_id'}
    with pytest.raises(
            ValueError, match="the data sample has no 'video_id' metainfo"):
        ImagenetVIDMetric().process(None, image_steps([meta], [one_box()]))


def test_image_step_without_predictions_raises():
    steps = image_steps([META], [one_box()])
    del steps[0]['video_data_samples'][0].pred_instances
    with pytest.raises(
            ValueError, match='no frame of the step carries pred_instances'):
        ImagenetVIDMetric().process(None, steps)


def test_unknown_coco_backend_raises_naming_it():
    with pytest.raises(
            ValueError,
            match="coco_backend must be 'numpy' or 'pycocotools', got "
            "'pycoco'"):
        ImagenetVIDMetric(coco_backend='pycoco')


@pytest.mark.parametrize(
    'build', [ImagenetVIDMetric, lambda **kw: DumpVIDResults('r.pkl', **kw)])
def test_collect_device_other_than_cpu_is_refused_at_build(build):
    """mmdet's collect_tracking_results raises for 'gpu' only after the
    whole test pass (on one rank too); the metrics refuse it when built."""
    with pytest.raises(
            NotImplementedError, match='GPU collecting has not been'):
        base_video_metric.collect_tracking_results([{}], 'gpu')
    with pytest.raises(
            ValueError, match="collect_device must be 'cpu', got 'gpu'"):
        build(collect_device='gpu')
    assert build(collect_device='cpu').collect_device == 'cpu'


@pytest.mark.parametrize('ann_file', ['', 3])
def test_dump_ann_file_that_is_not_a_path_raises(ann_file):
    with pytest.raises(
            ValueError,
            match='ann_file must be the path of the annotation file, got '
            f'{ann_file!r}'):
        DumpVIDResults('r.pkl', ann_file=ann_file)


def test_append_dump_metric_to_an_evaluator_with_one_metric_dict():
    metric = dict(type='ImagenetVIDMetric')
    evaluator = dict(type='Evaluator', metrics=metric)
    assert append_dump_metric(evaluator, 'd.pkl') == dict(
        type='Evaluator',
        metrics=[metric,
                 dict(type='DumpVIDResults', out_file_path='d.pkl')])
    assert evaluator == dict(type='Evaluator', metrics=metric)  # alone
