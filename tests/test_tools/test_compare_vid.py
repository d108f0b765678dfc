# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/compare_vid.py: gains and paired video-bootstrap
intervals from two dumps of a SynthVID val split."""
import hashlib
import json
import os.path as osp
import pickle

import numpy as np
import pytest

from memvid_mm.datasets import (SYNTHVID_CLASS_TABLE, convert_vid,
                                generate_synthvid, save_json)
from . import load_tool


@pytest.fixture(scope='module')
def val_ann(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synthvid_compare'))
    generate_synthvid(
        root,
        num_train_videos=1,
        num_val_videos=6,
        num_frames=16,
        width=64,
        height=48,
        seed=5)
    ann_file = osp.join(root, 'val.json')
    save_json(
        convert_vid(root, 'val', SYNTHVID_CLASS_TABLE, show_progress=False),
        ann_file)
    return ann_file


def _dump(ann_file, path, on_degraded, record=None):
    """GT boxes as detections (score 0.9); on degraded frames only if
    ``on_degraded``. ``record``: the annotation file to record in every
    entry, as ``DumpVIDResults(ann_file=...)`` does (None: none)."""
    with open(ann_file) as f:
        coco = json.load(f)
    boxes = {}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        boxes.setdefault(ann['image_id'], []).append(
            ([x, y, x + w, y + h], ann['category_id'] - 1))
    entries = []
    for img in coco['images']:
        dets = boxes.get(img['id'], [])
        if img['degradation'] != 'none' and not on_degraded:
            dets = []
        entries.append(
            dict(
                img_id=img['id'],
                video_id=img['video_id'],
                frame_id=img['frame_id'],
                bboxes=np.array([d[0] for d in dets],
                                np.float32).reshape(-1, 4),
                scores=np.full(len(dets), 0.9, np.float32),
                labels=np.array([d[1] for d in dets], np.int64)))
    if record is not None:
        with open(record, 'rb') as f:
            recorded = dict(
                path=record, sha256=hashlib.sha256(f.read()).hexdigest())
        entries = [dict(entry, ann_file=recorded) for entry in entries]
    with open(path, 'wb') as f:
        pickle.dump(entries, f)
    return str(path)


def test_gains_and_intervals(val_ann, tmp_path, capsys):
    tool = load_tool('tools/analysis_tools/compare_vid.py')
    base = _dump(val_ann, tmp_path / 'base.pkl', on_degraded=False)
    model = _dump(val_ann, tmp_path / 'model.pkl', on_degraded=True)
    report = tmp_path / 'gains.md'
    results = tool.main([
        val_ann, base, model, '--names', 'blind', 'sees', '--bootstrap', '20',
        '--out',
        str(report)
    ])
    rows = results['sees']
    # the model is the ground truth on every frame
    for key in ('mAP', 'mAP_degraded', 'mAP_clean'):
        assert rows[key]['model'] == pytest.approx(100.0)
    # same detections on clean frames: no gain, in every resample
    assert rows['mAP_clean']['gain'] == pytest.approx(0.0)
    assert rows['mAP_clean']['interval'] == pytest.approx((0.0, 0.0))
    # the base misses every degraded frame
    assert rows['mAP_degraded']['base'] == pytest.approx(0.0)
    assert rows['mAP_degraded']['interval'] == pytest.approx((100.0, 100.0))
    low, high = rows['mAP']['interval']
    assert 0 < low <= rows['mAP']['gain'] <= high
    for name in ('gain fast - medium', 'gain fast - slow'):
        low, high = rows[name]['interval']
        assert low <= rows[name]['gain'] <= high
    out = capsys.readouterr().out
    assert 'sees vs blind' in out and '| mAP_degraded |' in out
    assert '20 paired resamples of the 6 videos' in out
    written = report.read_text()
    assert written.startswith('sees vs blind')
    assert '| mAP_degraded |' in written


def test_gains_on_one_degradation_kind(val_ann, tmp_path, capsys):
    tool = load_tool('tools/analysis_tools/compare_vid.py')
    base = _dump(val_ann, tmp_path / 'base.pkl', on_degraded=False)
    model = _dump(val_ann, tmp_path / 'model.pkl', on_degraded=True)
    with open(val_ann) as f:
        blur = [
            img for img in json.load(f)['images']
            if img['degradation'] == 'blur'
        ]
    num_videos = len({img['video_id'] for img in blur})
    rows = tool.main(
        [val_ann, base, model, '--degradation', 'blur', '--bootstrap',
         '10'])[model]
    # only blur frames: the base sees nothing, the model everything
    assert rows['mAP']['base'] == pytest.approx(0.0)
    assert rows['mAP']['model'] == pytest.approx(100.0)
    assert 'mAP_degraded' not in rows and 'mAP_clean' not in rows
    assert 'mAP_fast' in rows
    out = capsys.readouterr().out
    assert (f'10 paired resamples of the {num_videos} videos (only their '
            f"{len(blur)} frames with degradation 'blur')") in out
    with pytest.raises(ValueError, match="no frame has degradation 'fog'"):
        tool.main([val_ann, base, model, '--degradation', 'fog'])


def test_bad_arguments(val_ann, tmp_path, capsys):
    tool = load_tool('tools/analysis_tools/compare_vid.py')
    base = _dump(val_ann, tmp_path / 'base.pkl', on_degraded=False)
    with pytest.raises(SystemExit):
        tool.main([val_ann, base, base, '--names', 'only-one'])
    assert '--names needs 2 names' in capsys.readouterr().err
    with open(tmp_path / 'short.pkl', 'wb') as f:
        pickle.dump(pickle.load(open(base, 'rb'))[1:], f)
    with pytest.raises(ValueError, match='short.pkl: .*missing'):
        tool.main([val_ann, base, str(tmp_path / 'short.pkl')])


def test_unreadable_or_mismatched_dumps_are_named(val_ann, tmp_path):
    tool = load_tool('tools/analysis_tools/compare_vid.py')
    base = _dump(val_ann, tmp_path / 'base.pkl', on_degraded=False)
    with open(base, 'rb') as f:
        raw = f.read()
    with open(tmp_path / 'trunc.pkl', 'wb') as f:
        f.write(raw[:len(raw) // 2])
    with pytest.raises(ValueError, match='trunc.pkl: not a readable pickle'):
        tool.main([val_ann, base, str(tmp_path / 'trunc.pkl')])
    # a dump of a model with another class order (DumpVIDResults stores
    # the dataset's class names in every entry)
    with open(val_ann) as f:
        categories = json.load(f)['categories']
    names = [c['name'] for c in sorted(categories, key=lambda c: c['id'])]
    entries = pickle.loads(raw)
    swapped = tuple(names[1::-1] + names[2:])
    with open(tmp_path / 'swapped.pkl', 'wb') as f:
        pickle.dump([dict(e, classes=swapped) for e in entries], f)
    with pytest.raises(
            ValueError,
            match=r'swapped.pkl: the dump was written with the '
            r'classes \[' + repr(names[1])):
        tool.main([val_ann, base, str(tmp_path / 'swapped.pkl')])
    # the same names in the same order: scored as before
    with open(tmp_path / 'named.pkl', 'wb') as f:
        pickle.dump([dict(e, classes=tuple(names)) for e in entries], f)
    rows = tool.main(
        [val_ann, base,
         str(tmp_path / 'named.pkl'), '--bootstrap',
         '2'])[str(tmp_path / 'named.pkl')]
    assert rows['mAP']['gain'] == pytest.approx(0.0)


def edited_copy(ann_file, path, edit):
    """Write ``ann_file``'s content, changed in place by ``edit``, to
    ``path``; return ``path``."""
    with open(ann_file) as f:
        data = json.load(f)
    edit(data)
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


def test_dumps_of_another_annotation_file_are_refused(val_ann, tmp_path):
    tool = load_tool('tools/analysis_tools/compare_vid.py')
    base = _dump(val_ann, tmp_path / 'base.pkl', False, record=val_ann)
    model = _dump(val_ann, tmp_path / 'model.pkl', True, record=val_ann)

    # another data set with the same frames: the boxes moved

    def move_boxes(data):
        for ann in data['annotations']:
            ann['bbox'][0] += 8

    other = edited_copy(val_ann, str(tmp_path / 'other.json'), move_boxes)
    with pytest.raises(
            ValueError,
            match=f'base.pkl: the dump was made with the '
            f'annotation file {val_ann} .* but scored with '
            f'{other} '):
        tool.main([other, base, model, '--bootstrap', '2'])
    with pytest.warns(UserWarning, match='overrides the check'):
        rows = tool.main(
            [other, base, model, '--bootstrap', '2',
             '--allow-other-ann-file'])[model]
    assert rows['mAP']['model'] < 100.0  # scored against the moved boxes
    assert tool.main([val_ann, base, model, '--bootstrap',
                      '2'])[model]['mAP']['model'] == pytest.approx(100.0)


def test_frames_without_degradation_are_refused(val_ann, tmp_path):
    tool = load_tool('tools/analysis_tools/compare_vid.py')
    base = _dump(val_ann, tmp_path / 'base.pkl', on_degraded=False)
    with open(val_ann) as f:
        images = json.load(f)['images']
    dropped = next(img['id'] for img in images if img['degradation'] != 'none')

    def drop_its_degradation(data):
        for img in data['images']:
            if img['id'] == dropped:
                del img['degradation']

    partial = edited_copy(val_ann, str(tmp_path / 'partial.json'),
                          drop_its_degradation)
    with pytest.raises(
            ValueError,
            match=f'partial.json: 1 of {len(images)} frames carry '
            f'no degradation value, e.g. img_id {dropped} '):
        tool.main([partial, base, base, '--bootstrap', '2'])
