# Copyright (c) memvid_mm contributors. All rights reserved.
import filecmp
import json
import os
import os.path as osp
import re
import shutil
import xml.etree.ElementTree as ET
from collections import defaultdict

import cv2
import numpy as np
import pytest

from memvid_mm.datasets import (DEGRADATIONS, SYNTHVID_CLASS_TABLE,
                                SYNTHVID_CLASSES, box_motion_ious, convert_vid,
                                generate_synthvid, render_preview, speed_split)
from memvid_mm.datasets.synthvid import (_Track, apply_degradation,
                                         generate_split,
                                         load_synthvid_settings,
                                         render_long_exposure, render_sprite,
                                         render_video, smear)
from memvid_mm.evaluation.functional import compute_motion_iou

TRAIN_VIDEO = 'train/SynthVID_VID_train_0000/SynthVID_train_00000000'


def _motion_ious(coco, window=10):
    """Independent ILSVRC motion IoU: mean IoU (inclusive, as the devkit)
    with the same track within +-window frames of its video, per box; 0
    for a box without a neighbour there."""
    frame_of = {
        im['id']: (im['video_id'], im['frame_id'])
        for im in coco['images']
    }
    tracks = defaultdict(dict)
    for ann in coco['annotations']:
        video, frame = frame_of[ann['image_id']]
        tracks[video, ann['instance_id']][frame] = ann['bbox']

    def iou(a, b):
        iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]) + 1
        ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]) + 1
        inter = max(iw, 0) * max(ih, 0)
        area_a = (a[2] + 1) * (a[3] + 1)
        area_b = (b[2] + 1) * (b[3] + 1)
        return inter / (area_a + area_b - inter)

    out = []
    for boxes in tracks.values():
        for t, box in boxes.items():
            near = [
                iou(box, boxes[k]) for k in range(t - window, t + window + 1)
                if k != t and k in boxes
            ]
            out.append(sum(near) / len(near) if near else 0.0)
    return np.array(out)


@pytest.fixture(scope='module')
def medium_synthvid(tmp_path_factory):
    """15 train videos x 30 frames at 128x80 and their CocoVID dict."""
    root = str(tmp_path_factory.mktemp('synthvid_medium'))
    generate_synthvid(
        root,
        num_train_videos=15,
        num_val_videos=1,
        num_frames=30,
        width=128,
        height=80,
        seed=11)
    coco = convert_vid(
        root, 'train', SYNTHVID_CLASS_TABLE, show_progress=False)
    return root, coco


def test_layout_is_ilsvrc2015(tiny_synthvid):
    root = tiny_synthvid
    for i in range(12):
        assert osp.isfile(
            osp.join(root, 'Data', 'VID', TRAIN_VIDEO, f'{i:06d}.JPEG'))
        assert osp.isfile(
            osp.join(root, 'Annotations', 'VID', TRAIN_VIDEO, f'{i:06d}.xml'))
    img = cv2.imread(osp.join(root, 'Data', 'VID', TRAIN_VIDEO, '000000.JPEG'))
    assert img.shape == (48, 64, 3)
    sets = osp.join(root, 'ImageSets', 'VID')
    train_lists = sorted(f for f in os.listdir(sets) if f.startswith('train'))
    assert train_lists == [f'train_{k}.txt' for k in range(1, 5)]
    listed = set()
    for name in train_lists:
        with open(osp.join(sets, name)) as f:
            for line in f:
                video, flag = line.split()
                assert flag == '1' and not video.startswith('train/')
                listed.add(video)
    assert listed == {
        'SynthVID_VID_train_0000/SynthVID_train_00000000',
        'SynthVID_VID_train_0000/SynthVID_train_00000001'
    }
    with open(osp.join(sets, 'val.txt')) as f:
        lines = [line.split() for line in f]
    assert len(lines) == 2 * 12
    assert lines[0] == ['SynthVID_val_00000000/000000', '1']
    assert lines[-1] == ['SynthVID_val_00000001/000011', '24']


def test_xml_has_ilsvrc_fields_and_degradation(tiny_synthvid):
    synsets = {s for s, _ in SYNTHVID_CLASS_TABLE}
    ann_dir = osp.join(tiny_synthvid, 'Annotations', 'VID', TRAIN_VIDEO)
    num_objects = 0
    for name in sorted(os.listdir(ann_dir)):
        root = ET.parse(osp.join(ann_dir, name)).getroot()
        assert root.find('size/width').text == '64'
        assert root.find('size/height').text == '48'
        assert root.find('degradation').text in ('none', ) + DEGRADATIONS
        for obj in root.findall('object'):
            num_objects += 1
            assert obj.find('name').text in synsets
            assert obj.find('trackid').text.isdigit()
            assert obj.find('occluded').text in ('0', '1')
            assert obj.find('generated').text == '0'
            box = [
                int(obj.find(f'bndbox/{t}').text)
                for t in ('xmin', 'ymin', 'xmax', 'ymax')
            ]
            assert 0 <= box[0] < box[2] <= 64 and 0 <= box[1] < box[3] <= 48
    assert num_objects > 0


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    kwargs = dict(
        num_train_videos=1,
        num_val_videos=1,
        num_frames=4,
        width=48,
        height=32)
    for name, seed in (('a', 5), ('b', 5), ('c', 6)):
        generate_synthvid(str(tmp_path / name), seed=seed, **kwargs)
    rel = osp.join('Data', 'VID', TRAIN_VIDEO, '000003.JPEG')
    assert filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'b' / rel, False)
    assert not filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'c' / rel, False)
    val = osp.join('Data', 'VID', 'val', 'SynthVID_val_00000000',
                   '000003.JPEG')
    assert not np.array_equal(
        cv2.imread(str(tmp_path / 'a' / rel)),
        cv2.imread(str(tmp_path / 'a' / val)))


def test_speed_classes_are_all_well_represented(medium_synthvid):
    _, coco = medium_synthvid
    ious = _motion_ious(coco)
    assert len(ious) > 400
    fast = np.mean(ious < 0.7)
    slow = np.mean(ious > 0.9)
    medium = 1 - fast - slow
    for name, frac in (('fast', fast), ('medium', medium), ('slow', slow)):
        assert frac >= 0.2, (name, fast, medium, slow)
    # The library helper agrees with this independent one.
    np.testing.assert_allclose(np.sort(box_motion_ious(coco)), np.sort(ious))
    split = speed_split(ious)
    assert split['fast'] == pytest.approx(fast)
    assert split['slow'] == pytest.approx(slow)


def test_motion_iou_is_the_metrics_with_0_without_a_neighbour():
    images = [
        dict(id=i, video_id=v, frame_id=t)
        for i, v, t in ((1, 1, 0), (2, 1, 1), (3, 1, 20), (4, 1, 5), (5, 2, 1))
    ]
    annotations = [
        dict(image_id=1, instance_id=5, bbox=[0, 0, 10, 10]),
        dict(image_id=2, instance_id=5, bbox=[5, 0, 10, 10]),
        # 19 frames after its nearest box: beyond the window of 10
        dict(image_id=3, instance_id=5, bbox=[0, 0, 10, 10]),
        dict(image_id=4, instance_id=6, bbox=[0, 0, 10, 10]),  # alone
        # the same track id in another video is another track
        dict(image_id=5, instance_id=5, bbox=[0, 0, 10, 10]),
    ]
    coco = dict(images=images, annotations=annotations)
    # the boxes of frames 0 and 1 overlap by 6 x 11 of 2 x 11 x 11 - 66
    # pixels, counted inclusively as the ILSVRC devkit (and the metric)
    np.testing.assert_allclose(
        box_motion_ious(coco), [66 / 176, 66 / 176, 0, 0, 0])
    np.testing.assert_allclose(box_motion_ious(coco, window=0), 0)
    frames = [
        dict(
            video_id=img['video_id'],
            frame_id=img['frame_id'],
            bboxes=np.array([[x, y, x + w, y + h]
                             for x, y, w, h in (a['bbox'] for a in annotations
                                                if a['image_id'] == img['id'])
                             ]).reshape(-1, 4),
            instance_ids=np.array([
                a['instance_id'] for a in annotations
                if a['image_id'] == img['id']
            ])) for img in images
    ]
    np.testing.assert_array_equal(
        box_motion_ious(coco), np.concatenate(compute_motion_iou(frames)))


def test_degradations_are_frequent_varied_and_recorded(medium_synthvid):
    _, coco = medium_synthvid
    kinds = [im['degradation'] for im in coco['images']]
    counts = {k: kinds.count(k) for k in set(kinds)}
    assert set(counts) == {'none', *DEGRADATIONS}
    assert 0.15 < 1 - counts['none'] / len(kinds) < 0.45
    by_video = defaultdict(list)
    for im in coco['images']:
        by_video[im['video_id']].append(im)
    for frames in by_video.values():
        frames.sort(key=lambda im: im['frame_id'])
        assert [im['degradation'] for im in frames[:2]] == ['none'] * 2
        # Runs are at most 4 frames long: the recent past is clean.
        run = 0
        for im in frames:
            run = run + 1 if im['degradation'] != 'none' else 0
            assert run <= 4
    # Occlusion frames mark every object occluded.
    occl_ids = {
        im['id']
        for im in coco['images'] if im['degradation'] == 'occlusion'
    }
    occl = [a for a in coco['annotations'] if a['image_id'] in occl_ids]
    assert occl and all(a['occluded'] for a in occl)


def test_objects_enter_and_leave_the_frame(medium_synthvid):
    _, coco = medium_synthvid
    frame_of = {im['id']: im['frame_id'] for im in coco['images']}
    frames = defaultdict(set)
    touches_border = 0
    for ann in coco['annotations']:
        frames[ann['instance_id']].add(frame_of[ann['image_id']])
        x, y, w, h = ann['bbox']
        touches_border += x == 0 or y == 0 or x + w == 128 or y + h == 80
    partial = [f for f in frames.values() if len(f) < 30]
    assert len(partial) >= 3
    assert touches_border > 20


def test_camera_pans_in_some_videos_only():
    shifts = []
    for i in range(8):
        frames, _, schedule, _ = render_video(
            np.random.default_rng(100 + i), 12, 160, 96, speed_offset=i)
        clean = [
            t for t in range(1, 12) if schedule[t] == schedule[t - 1] == 'none'
        ]
        t = clean[0]
        a, b = (
            np.float32(cv2.cvtColor(frames[k], cv2.COLOR_BGR2GRAY))
            for k in (t - 1, t))
        (dx, dy), _ = cv2.phaseCorrelate(a, b)
        shifts.append(np.hypot(dx, dy))
    assert min(shifts) < 0.3
    assert max(shifts) > 0.7


def test_classes_have_distinct_shapes_and_textures():
    masks, imgs = [], []
    for label in range(len(SYNTHVID_CLASSES)):
        img, mask = render_sprite(label, 30, 30, (0, 200, 255), (0, 60, 90))
        assert img.shape == (30, 30, 3) and mask.shape == (30, 30)
        assert mask.mean() > 0.3
        # Two tones inside the shape: a texture, not a flat fill.
        assert len(np.unique(img[mask], axis=0)) == 2
        masks.append(mask)
        imgs.append(img)
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            iou = (masks[i] & masks[j]).sum() / (masks[i] | masks[j]).sum()
            tex = np.mean(imgs[i] != imgs[j])
            assert iou < 0.9 or tex > 0.2, (i, j)


@pytest.mark.parametrize('label', [-1, 4])
def test_sprite_of_an_unknown_label_is_refused(label):
    with pytest.raises(
            ValueError, match=rf'label must be in \[0, 3\], got {label}'):
        render_sprite(label, 30, 30, (0, 200, 255), (0, 60, 90))


def test_degradations_hide_the_frame_content():
    rng = np.random.default_rng(0)
    frame = np.full((48, 64, 3), 90, np.uint8)
    frame[::4] = 230  # fine stripes
    box = np.array([8, 8, 40, 40])
    assert apply_degradation(frame, 'none', [box], rng) is frame
    dim = apply_degradation(frame, 'dim', [box], rng)
    assert dim.mean() < 0.25 * frame.mean()
    blur = apply_degradation(frame, 'blur', [box], rng)
    assert (cv2.Laplacian(blur, cv2.CV_32F).var() <
            0.2 * cv2.Laplacian(frame, cv2.CV_32F).var())
    noise = apply_degradation(frame, 'noise', [box], rng)
    assert np.abs(noise.astype(float) - frame).mean() > 30
    occl = apply_degradation(frame, 'occlusion', [box], rng)
    changed = (occl != frame).any(axis=2)
    assert changed[8:40, 8:40].mean() >= 0.45
    assert not changed[:, 44:].any()
    with pytest.raises(ValueError, match='kind'):
        apply_degradation(frame, 'fog', [box], rng)


def test_smear_spreads_a_line_along_the_displacement_only():
    img = np.zeros((21, 21), np.float32)
    img[:, 10] = 90.0  # a vertical line
    across = smear(img, np.array([6.0, 0.0]), cv2.BORDER_CONSTANT)
    along = smear(img, np.array([0.0, 6.0]), cv2.BORDER_CONSTANT)
    assert across.dtype == np.float32
    np.testing.assert_allclose(across.sum(), img.sum(), rtol=1e-5)
    spread = np.flatnonzero(across[10] > 1.0)
    assert spread.min() <= 8 and spread.max() >= 12  # 7 px wide
    assert across[10].max() < 0.25 * img.max()
    np.testing.assert_allclose(along[3:-3], img[3:-3], atol=1e-4)
    np.testing.assert_array_equal(smear(img, np.array([0.4, 0.3])),
                                  img)  # under a pixel: unchanged


def _track(label, x, y, velocity):
    return _Track(
        label=label,
        size=24.0,
        aspect=1.0,
        centre=np.array([x, y], float),
        t_mid=0.0,
        velocity=np.array(velocity, float),
        zoom=0.0,
        bright=(255, 160, 40),
        dark=(90, 40, 10))


def test_long_exposure_blurs_fast_objects_and_leaves_slow_ones_sharp():
    """Triangles have horizontal stripes: motion across them (vertical)
    wipes them out, motion along them (horizontal) keeps them."""
    background = np.full((64, 160, 3), 120, np.uint8)
    slow = _track(2, 25, 32, (0.0, 0.05))
    across = _track(2, 80, 32, (0.0, 3.0))
    along = _track(2, 135, 32, (3.0, 0.0))
    tracks = [slow, across, along]
    blurred = render_long_exposure(
        background, tracks, 0, np.zeros(2), exposure=6.0)
    sprite, mask = render_sprite(2, 24, 24, slow.bright, slow.dark)

    def stripe_contrast(img, box):
        """Mean |vertical gradient| over the middle columns of the box."""
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        x1, y1, x2, y2 = box
        return np.abs(np.diff(grey[y1 + 6:y2 - 2, x1 + 9:x2 - 9],
                              axis=0)).mean()

    sharp = background.copy()
    box = slow.box(0)
    sharp[box[1]:box[3], box[0]:box[2]][mask] = sprite[mask]
    reference = stripe_contrast(sharp, box)
    assert stripe_contrast(blurred, across.box(0)) < 0.3 * reference
    assert stripe_contrast(blurred, along.box(0)) > 0.6 * reference
    assert stripe_contrast(blurred, slow.box(0)) > 0.6 * reference
    # a fast object's colour trails beyond its box along its motion only
    x1, y1, x2, y2 = along.box(0)
    row = (y1 + y2) // 2 + 4
    assert np.abs(blurred[row, x2 + 2].astype(int) - 120).max() > 6
    assert np.abs(blurred[y1 - 4, (x1 + x2) // 2].astype(int) - 120).max() < 3


def test_motion_blur_mode_changes_only_the_blur_frames():
    rng_args = dict(num_frames=30, width=96, height=64, speed_offset=0)
    frame_mode = render_video(np.random.default_rng(5), **rng_args)
    motion_mode = render_video(
        np.random.default_rng(5), blur='motion', **rng_args)
    frames_a, objects_a, schedule, motion_a = frame_mode
    frames_b, objects_b, schedule_b, motion_b = motion_mode
    assert schedule_b == schedule and 'blur' in schedule
    assert repr(objects_b) == repr(objects_a)
    np.testing.assert_array_equal(motion_b.camera_offsets,
                                  motion_a.camera_offsets)
    for t, kind in enumerate(schedule):
        if kind == 'none':
            np.testing.assert_array_equal(frames_b[t], frames_a[t])
    t = schedule.index('blur')
    assert (frames_b[t] != frames_a[t]).any()
    with pytest.raises(ValueError, match='blur must be one of'):
        render_video(np.random.default_rng(5), blur='gauss', **rng_args)


def _boxes(objects):
    return [[list(obj['bbox']) for obj in frame] for frame in objects]


def test_degradations_narrow_the_kinds_and_keep_the_scene():
    rng_args = dict(num_frames=40, width=96, height=64, speed_offset=0)
    every_kind = render_video(
        np.random.default_rng(4), blur='motion', **rng_args)
    only_blur = render_video(
        np.random.default_rng(4),
        blur='motion',
        degradations=('blur', ),
        **rng_args)
    explicit = render_video(
        np.random.default_rng(4),
        blur='motion',
        degradations=DEGRADATIONS,
        **rng_args)
    assert len(set(every_kind[2]) - {'none'}) > 1
    assert set(only_blur[2]) == {'none', 'blur'}
    assert explicit[2] == every_kind[2]  # the default is every kind
    # the same objects on the same path, camera and background
    assert _boxes(only_blur[1]) == _boxes(every_kind[1])
    np.testing.assert_array_equal(only_blur[3].camera_offsets,
                                  every_kind[3].camera_offsets)
    np.testing.assert_array_equal(only_blur[0][0], every_kind[0][0])
    two = render_video(
        np.random.default_rng(4), degradations=('noise', 'dim'), **rng_args)
    assert set(two[2]) == {'none', 'noise', 'dim'}


@pytest.mark.parametrize('degradations', [(), ('fog', ),
                                          ('blur', 'blur'), 'blur'])
def test_bad_degradations_are_refused(degradations):
    with pytest.raises(ValueError, match='degradations must be distinct'):
        render_video(
            np.random.default_rng(0), 10, 32, 32, degradations=degradations)


def test_generator_settings_record_the_blur_mode(tmp_path):
    settings = dict(
        num_train_videos=1,
        num_val_videos=1,
        num_frames=2,
        width=32,
        height=32,
        seed=0)
    path = tmp_path / 'synthvid.json'
    path.write_text(json.dumps(settings))
    # written before blur modes existed: its blur frames were 'frame'
    assert load_synthvid_settings(str(tmp_path))['blur'] == 'frame'
    path.write_text(json.dumps(dict(settings, blur='motion')))
    assert load_synthvid_settings(str(tmp_path))['blur'] == 'motion'
    # written before degradations could be narrowed: it drew from all
    assert load_synthvid_settings(
        str(tmp_path))['degradations'] == list(DEGRADATIONS)
    path.write_text(json.dumps(dict(settings, degradations=['dim'])))
    assert load_synthvid_settings(str(tmp_path))['degradations'] == ['dim']
    path.write_text(json.dumps(dict(settings, degradations=['haze'])))
    with pytest.raises(
            ValueError, match='synthvid.json: degradations must be'):
        load_synthvid_settings(str(tmp_path))
    path.write_text(json.dumps(dict(settings, blur='sideways')))
    with pytest.raises(ValueError, match='synthvid.json: blur must be'):
        load_synthvid_settings(str(tmp_path))
    path.write_text(json.dumps(dict(blur='frame')))
    with pytest.raises(KeyError, match='lacks the generator settings'):
        load_synthvid_settings(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='generate SynthVID first'):
        load_synthvid_settings(str(tmp_path / 'missing'))
    path.write_text(json.dumps(settings)[:40])  # cut short
    with pytest.raises(ValueError, match='malformed JSON in .*synthvid.json'):
        load_synthvid_settings(str(tmp_path))
    path.write_text('[1, 2]')
    with pytest.raises(
            ValueError, match='synthvid.json must hold a JSON '
            'object'):
        load_synthvid_settings(str(tmp_path))


def test_preview_png(tiny_synthvid, tmp_path):
    out = tmp_path / 'docs' / 'synthvid.png'
    sheet = render_preview(tiny_synthvid, str(out), num_rows=3, num_cols=4)
    assert out.is_file()
    assert sheet.shape == (3 * (48 * 2 + 2), 4 * (64 * 2 + 2), 3)
    assert cv2.imread(str(out)).shape == sheet.shape


def test_preview_that_cannot_be_written_names_the_file(tiny_synthvid,
                                                       tmp_path):
    out = str(tmp_path / 'sheet.png')
    os.mkdir(out)  # a folder where the file should go
    with pytest.raises(
            ValueError, match=f'cannot write preview image {re.escape(out)}'):
        render_preview(tiny_synthvid, out, num_rows=1, num_cols=2)


def test_preview_of_an_unknown_image_format_names_the_file(
        tiny_synthvid, tmp_path):
    out = str(tmp_path / 'sheet.pgn')  # a typo of .png
    with pytest.raises(
            ValueError, match=f'cannot write preview image {re.escape(out)}'):
        render_preview(tiny_synthvid, out, num_rows=1, num_cols=2)
    assert not osp.exists(out)


def test_refuses_to_mix_with_an_existing_split(tmp_path):
    kwargs = dict(num_val_videos=1, num_frames=3, width=32, height=32)
    generate_synthvid(str(tmp_path), num_train_videos=3, **kwargs)
    with pytest.raises(FileExistsError, match='overwrite'):
        generate_synthvid(str(tmp_path), num_train_videos=2, **kwargs)
    generate_synthvid(
        str(tmp_path), num_train_videos=2, overwrite=True, **kwargs)
    videos = os.listdir(tmp_path / 'Data/VID/train/SynthVID_VID_train_0000')
    assert sorted(videos) == [
        'SynthVID_train_00000000', 'SynthVID_train_00000001'
    ]


def test_a_refused_run_writes_no_split(tmp_path):
    """With only the val split left, a run of another seed is refused
    before it writes a train split beside the old val one."""
    kwargs = dict(num_val_videos=1, num_frames=3, width=32, height=32)
    generate_synthvid(str(tmp_path), num_train_videos=1, seed=1, **kwargs)
    for top in ('Data', 'Annotations'):
        shutil.rmtree(tmp_path / top / 'VID' / 'train')
    for image_set in (tmp_path / 'ImageSets' / 'VID').glob('train_*.txt'):
        image_set.unlink()
    with pytest.raises(FileExistsError, match='val split'):
        generate_synthvid(str(tmp_path), num_train_videos=1, seed=2, **kwargs)
    assert not (tmp_path / 'Data' / 'VID' / 'train').exists()
    assert not list((tmp_path / 'ImageSets' / 'VID').glob('train_*.txt'))


def test_overwrite_removes_the_converted_annotations_of_the_split(tmp_path):
    kwargs = dict(num_val_videos=1, num_frames=3, width=32, height=32)
    generate_synthvid(str(tmp_path), num_train_videos=1, **kwargs)
    converted = tmp_path / 'annotations' / 'imagenet_vid_val.json'
    converted.parent.mkdir()
    converted.write_text(
        '{"videos": [{"id": 1, "name": "val/SynthVID_val_00000000"}]}')
    generate_synthvid(
        str(tmp_path), num_train_videos=1, overwrite=True, **kwargs)
    assert not converted.exists()
    # a converted file alone is a split too: not mixed with new frames
    other = tmp_path / 'other'
    (other / 'annotations').mkdir(parents=True)
    (other / 'annotations' / 'imagenet_vid_train.json').write_text('{}')
    with pytest.raises(FileExistsError, match='train split'):
        generate_synthvid(str(other), num_train_videos=1, **kwargs)


@pytest.mark.parametrize('foreign', [
    'Data/VID/train/ILSVRC2015_VID_train_0000',
    'Data/VID/train/SynthVID_VID_train_0000/ILSVRC2015_train_00000000',
    'Annotations/VID/val/ILSVRC2015_val_00000000', 'Data/VID/val/notes.txt',
    'ImageSets/VID/train_1.txt', 'annotations/imagenet_vid_val.json'
])
def test_overwrite_deletes_no_other_data(tmp_path, foreign):
    """A real ILSVRC root given as ``out_dir`` by mistake keeps everything:
    ``overwrite`` is refused, naming what is not SynthVID's."""
    kwargs = dict(num_val_videos=1, num_frames=3, width=32, height=32)
    generate_synthvid(str(tmp_path), num_train_videos=1, **kwargs)
    path = tmp_path / foreign
    if foreign.endswith('.txt') and 'ImageSets' in foreign:
        path.write_text('ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000'
                        ' 1\n')
    elif foreign.endswith('.json'):
        path.parent.mkdir()
        path.write_text('{"videos": [{"id": 1, "name": '
                        '"val/ILSVRC2015_val_00000000"}]}')
    elif foreign.endswith('.txt'):
        path.write_text('not a video')
    else:
        path.mkdir(parents=True)
    before = sorted(str(p) for p in tmp_path.rglob('*'))
    with pytest.raises(
            FileExistsError,
            match=f"^{re.escape(str(path))} is not SynthVID's"):
        generate_synthvid(
            str(tmp_path), num_train_videos=2, overwrite=True, **kwargs)
    # neither split is touched, nor the settings
    assert sorted(str(p) for p in tmp_path.rglob('*')) == before


def test_overwrite_refuses_a_converted_file_it_cannot_read(tmp_path):
    kwargs = dict(num_val_videos=1, num_frames=3, width=32, height=32)
    generate_synthvid(str(tmp_path), num_train_videos=1, **kwargs)
    converted = tmp_path / 'annotations' / 'imagenet_vid_train.json'
    converted.parent.mkdir()
    converted.write_text('{"images": []}')  # no videos: not a CocoVID file
    with pytest.raises(FileExistsError, match="is not SynthVID's"):
        generate_synthvid(
            str(tmp_path), num_train_videos=1, overwrite=True, **kwargs)
    assert converted.exists()


def test_overwrite_deletes_the_old_settings_before_writing(
        tmp_path, monkeypatch):
    """A regeneration stopped midway leaves no settings file that would
    describe its frames as the old data's."""
    import memvid_mm.datasets.synthvid as synthvid_module
    kwargs = dict(num_val_videos=1, num_frames=3, width=32, height=32)
    generate_synthvid(str(tmp_path), num_train_videos=1, **kwargs)
    settings = tmp_path / 'synthvid.json'
    settings.write_text('{"seed": 0}')

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synthvid_module, 'render_split', interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_synthvid(
            str(tmp_path), num_train_videos=1, overwrite=True, **kwargs)
    assert not settings.exists()
    with pytest.raises(FileNotFoundError, match='generate SynthVID first'):
        load_synthvid_settings(str(tmp_path))


def test_bad_val_arguments_leave_the_train_split(tmp_path):
    """Both splits' arguments are checked before either is cleared."""
    kwargs = dict(num_frames=3, width=32, height=32)
    generate_synthvid(
        str(tmp_path), num_train_videos=1, num_val_videos=1, **kwargs)
    (tmp_path / 'synthvid.json').write_text('{"seed": 0}')
    with pytest.raises(ValueError, match='the val split needs num_videos'):
        generate_synthvid(
            str(tmp_path),
            num_train_videos=2,
            num_val_videos=0,
            overwrite=True,
            **kwargs)
    videos = os.listdir(tmp_path / 'Data/VID/train/SynthVID_VID_train_0000')
    assert videos == ['SynthVID_train_00000000']
    assert (tmp_path / 'synthvid.json').exists()


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match='num_videos'):
        generate_synthvid('/nonexistent', num_train_videos=0)
    kwargs = dict(num_val_videos=1, num_frames=3, width=32, height=32)
    generate_synthvid(str(tmp_path), num_train_videos=1, **kwargs)
    with pytest.raises(ValueError, match='blur must be one of'):
        generate_synthvid(
            str(tmp_path),
            num_train_videos=1,
            overwrite=True,
            blur='fog',
            **kwargs)
    with pytest.raises(ValueError, match='degradations must be'):
        generate_synthvid(
            str(tmp_path),
            num_train_videos=1,
            overwrite=True,
            degradations=('fog', ),
            **kwargs)
    assert os.listdir(tmp_path / 'Data' / 'VID' / 'val')  # not cleared


def test_split_other_than_train_or_val_is_refused(tmp_path):
    with pytest.raises(
            ValueError, match="split must be 'train' or 'val', got 'test'"):
        generate_split(str(tmp_path), 'test', 1)
    assert os.listdir(tmp_path) == []


def test_frames_too_narrow_for_the_objects_are_refused(tmp_path):
    """Objects are up to 0.36 H high (and 1.2 times that wide with their
    margin): a 16x48 frame passed the 16x16 check and then failed in
    numpy's uniform() with 'high - low < 0'."""
    with pytest.raises(ValueError, match='16x48'):
        generate_synthvid(
            str(tmp_path),
            num_train_videos=4,
            num_val_videos=1,
            num_frames=2,
            width=16,
            height=48)


def test_cli_generates_converts_and_previews(tmp_path):
    import importlib.util
    path = osp.join(
        osp.dirname(__file__), '..', '..', 'tools', 'misc', 'gen_synthvid.py')
    spec = importlib.util.spec_from_file_location('gen_synthvid', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = tmp_path / 'synthvid'
    stats = cli.main([
        '--out',
        str(out), '--num-train-videos', '2', '--num-val-videos', '1',
        '--num-frames', '5', '--width', '48', '--height', '32', '--seed', '1',
        '--blur', 'motion', '--degradations', 'blur', 'dim', '--preview',
        str(tmp_path / 'p.png')
    ])
    assert stats['val']['noise'] == stats['val']['occlusion'] == 0
    assert stats['train']['videos'] == 2 and stats['val']['frames'] == 5
    with open(out / 'annotations' / 'imagenet_vid_val.json') as f:
        val = json.load(f)
    assert len(val['images']) == 5
    assert [c['name'] for c in val['categories']] == list(SYNTHVID_CLASSES)
    settings = load_synthvid_settings(str(out))
    assert settings['seed'] == 1 and settings['blur'] == 'motion'
    assert settings['degradations'] == ['blur', 'dim']
    kinds = {im['degradation'] for im in val['images']}
    assert kinds <= {'none', 'blur', 'dim'}
    assert (tmp_path / 'p.png').is_file()
