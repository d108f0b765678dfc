# Copyright (c) memvid_mm contributors. All rights reserved.
import json
import logging
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from mmdet.datasets import TrackImgSampler
from mmdet.models.data_preprocessors import TrackDataPreprocessor
from mmdet.registry import DATASETS
from mmengine.dataset import ConcatDataset, DefaultSampler, pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from memvid_mm.datasets import (IMAGENET_VID_CLASS_TABLE, IMAGENET_VID_CLASSES,
                                SYNTHVID_CLASSES, ImagenetVIDDataset)

T = 3
TRAIN_PIPELINE = [
    dict(type='CausalClipSample', num_frames=T, stride=2),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadVIDFrame'),
            dict(type='LoadTrackAnnotations'),
            dict(type='Resize', scale=(96, 72), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(
        type='PackTrackInputs',
        meta_keys=('clip_frame_offsets', 'degradation')),
]
TEST_PIPELINE = [
    dict(
        type='TransformBroadcaster',
        transforms=[
            dict(type='LoadVIDFrame'),
            dict(type='Resize', scale=(96, 72), keep_ratio=True),
        ]),
    dict(type='PackTrackInputs', meta_keys=('degradation', )),
]


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def _synthvid(root, split='train', **kwargs):
    cfg = dict(
        type='ImagenetVIDDataset',
        data_root=root,
        ann_file=f'annotations/imagenet_vid_{split}.json',
        data_prefix=dict(img_path='Data/VID'),
        metainfo=dict(classes=SYNTHVID_CLASSES),
        pipeline=TRAIN_PIPELINE if split == 'train' else TEST_PIPELINE,
        test_mode=split == 'val')
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def _load(root, split='train'):
    with open(osp.join(root, 'annotations',
                       f'imagenet_vid_{split}.json')) as f:
        return json.load(f)


def _dump(coco, path):
    with open(path, 'w') as f:
        json.dump(coco, f)
    return str(path)


def _refusal(coco, path, **kwargs):
    """Dump ``coco`` to ``path``; return the file and the ``ValueError``
    message with which the data set refuses it."""
    ann_file = _dump(coco, path)
    with pytest.raises(ValueError) as error:
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[], **kwargs)
    return ann_file, str(error.value)


def _warnings_with(log_records, text):
    """The messages of the WARNING records that contain ``text``."""
    return [
        r.getMessage() for r in log_records
        if r.levelno == logging.WARNING and text in r.getMessage()
    ]


def _mmtrack_vid_json():
    """The exact field set of mmtrack's imagenet2coco_vid.py output."""
    categories = [
        dict(id=k, name=name, encode_name=synset)
        for k, (synset, name) in enumerate(IMAGENET_VID_CLASS_TABLE, 1)
    ]
    video = 'train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000'
    images = [
        dict(
            file_name=f'{video}/{t:06d}.JPEG',
            height=48,
            width=64,
            id=t + 1,
            frame_id=t,
            video_id=1,
            is_vid_train_frame=t in (1, 2)) for t in range(4)
    ]
    annotations = [
        dict(
            id=1,
            video_id=1,
            image_id=2,
            category_id=30,
            instance_id=1,
            bbox=[1, 2, 10, 20],
            area=200,
            iscrowd=False,
            occluded=True,
            generated=False),
        dict(
            id=2,
            video_id=1,
            image_id=4,
            category_id=1,
            instance_id=2,
            bbox=[5, 5, 8, 8],
            area=64,
            iscrowd=False,
            occluded=False,
            generated=True),
    ]
    return dict(
        categories=categories,
        videos=[dict(id=1, name=video, vid_train_frames=[1, 2])],
        images=images,
        annotations=annotations)


def _mmtrack_det_json():
    """The field set of mmtrack's imagenet2coco_det.py output."""
    categories = [
        dict(id=k, name=name, encode_name=synset)
        for k, (synset, name) in enumerate(IMAGENET_VID_CLASS_TABLE, 1)
    ] + [dict(id=31, name='other_categeries', encode_name=None)]
    images = [
        dict(
            file_name=f'train/x/{i}.JPEG',
            height=48,
            width=64,
            id=i,
            is_vid_train_frame=True) for i in (1, 2)
    ]
    annotations = [
        dict(
            id=1,
            image_id=1,
            category_id=3,
            bbox=[1, 1, 9, 9],
            area=81,
            iscrowd=False),
        dict(
            id=2,
            image_id=1,
            category_id=31,
            bbox=[2, 2, 9, 9],
            area=81,
            iscrowd=False),
        dict(
            id=3,
            image_id=2,
            category_id=31,
            bbox=[2, 2, 9, 9],
            area=81,
            iscrowd=False),
    ]
    return dict(categories=categories, images=images, annotations=annotations)


def test_training_samples_are_the_key_frames(tiny_synthvid):
    dataset = _synthvid(tiny_synthvid)
    coco = _load(tiny_synthvid)
    with_objects = {a['image_id'] for a in coco['annotations']}
    expected = [(im['video_id'] - 1, im['frame_id']) for im in coco['images']
                if im['is_vid_train_frame'] and im['id'] in with_objects]
    assert dataset.num_videos == 2
    assert len(dataset) == len(expected) > 0
    assert [tuple(k) for k in dataset.key_frames] == expected
    # Every frame is kept, also those without objects.
    assert [dataset.get_len_per_video(i) for i in range(2)] == [12, 12]
    video = dataset.get_data_info(0)
    assert video['video_length'] == 12
    assert [f['frame_id'] for f in video['images']] == list(range(12))
    frame = video['images'][0]
    assert frame['img_path'] == osp.join(tiny_synthvid, 'Data', 'VID',
                                         frame['file_name'])
    assert frame['degradation'] in ('none', 'blur', 'noise', 'occlusion',
                                    'dim')
    for inst in frame['instances']:
        assert set(inst) == {
            'bbox', 'bbox_label', 'ignore_flag', 'instance_id', 'occluded',
            'generated'
        }


def test_getitem_is_a_causal_clip_of_the_key_frame(tiny_synthvid):
    dataset = _synthvid(tiny_synthvid)
    key_frame_ids = [int(frame) for _, frame in dataset.key_frames]
    # stride 2: near the video start the clip repeats frame t mod 2, the
    # earliest frame of its phase (key frames 1 and 3 included)
    assert {1, 3} <= set(key_frame_ids)
    for i in range(len(dataset)):
        video_idx, frame_idx = dataset.key_frames[i]
        sample = dataset[i]['data_samples']
        assert len(sample) == T
        phase = frame_idx % 2
        assert [f.metainfo['frame_id'] for f in sample] == [
            max(phase, frame_idx - 4),
            max(phase, frame_idx - 2), frame_idx
        ]
        assert sample[T - 1].metainfo['video_id'] == \
            dataset.get_data_info(int(video_idx))['video_id']
        assert len(sample[T - 1].gt_instances) > 0
    assert len(dataset.get_cat_ids(0)) > 0


def test_all_frames_with_objects_when_not_key_frames_only(tiny_synthvid):
    coco = _load(tiny_synthvid)
    with_objects = {a['image_id'] for a in coco['annotations']}
    dataset = _synthvid(tiny_synthvid, key_frames_only=False)
    assert len(dataset) == len(with_objects)
    every = _synthvid(
        tiny_synthvid,
        key_frames_only=False,
        filter_cfg=dict(filter_empty_gt=False))
    assert len(every) == 24


def test_serialized_and_subset_agree(tiny_synthvid):
    plain = _synthvid(tiny_synthvid, serialize_data=False)
    ser = _synthvid(tiny_synthvid)
    assert len(plain) == len(ser)
    assert plain.get_data_info(1) == ser.get_data_info(1)
    sub = ser.get_subset([1])
    assert sub.num_videos == 1
    assert len(sub) == sum(k[0] == 1 for k in ser.key_frames)
    assert all(k[0] == 0 for k in sub.key_frames)
    indexed = _synthvid(tiny_synthvid, indices=[1])
    assert len(indexed) == len(sub)
    ser.get_subset_([1])
    assert ser.num_videos == 1 and len(ser) == len(sub)
    np.testing.assert_array_equal(ser.key_frames, sub.key_frames)


def test_subset_indexes_videos_with_fewer_key_frames_than_videos(
        tiny_synthvid, tmp_path):
    # one key frame in two videos: mmengine checks subset indices against
    # len(self), which in training counts key frames
    coco = _load(tiny_synthvid)
    with_objects = {a['image_id'] for a in coco['annotations']}
    first = next(im['id'] for im in coco['images']
                 if im['video_id'] == coco['videos'][0]['id']
                 and im['id'] in with_objects)
    for im in coco['images']:
        im['is_vid_train_frame'] = im['id'] == first
    ann_file = str(tmp_path / 'one_key_frame.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    dataset = _synthvid(tiny_synthvid, ann_file=ann_file)
    assert dataset.num_videos == 2 and len(dataset) == 1
    last = dataset.get_data_info(-1)
    assert last['sample_idx'] == 1
    assert last['video_id'] == coco['videos'][1]['id']
    sub = dataset.get_subset([1])
    assert sub.num_videos == 1 and len(sub) == 0
    assert sub.get_data_info(0)['video_id'] == coco['videos'][1]['id']
    with pytest.raises(
            IndexError,
            match=r'one_key_frame.json: video indices \[2\] are '
            'out of range for 2 videos'):
        dataset.get_subset([0, 2])
    dataset.get_subset_([-1])
    assert dataset.num_videos == 1 and len(dataset) == 0


def test_subset_of_an_int_keeps_the_first_or_last_videos(tiny_synthvid):
    """As mmengine's: a positive int keeps the first videos, a negative
    one the last; the key frames are those of the kept videos."""
    dataset = _synthvid(tiny_synthvid)
    key_frames = [tuple(k) for k in dataset.key_frames]

    def key_frames_of(video):
        return [(0, frame) for v, frame in key_frames if v == video]

    for count, video in ((1, 0), (-1, 1)):
        sub = dataset.get_subset(count)
        assert sub.num_videos == 1
        assert sub.get_data_info(0)['video_id'] == \
            dataset.get_data_info(video)['video_id']
        assert [tuple(k) for k in sub.key_frames] == key_frames_of(video)
    dataset.get_subset_(-1)
    assert dataset.num_videos == 1
    assert [tuple(k) for k in dataset.key_frames] == key_frames_of(1)


def test_training_cat_ids_of_a_video_frame_pair_are_that_frames(tmp_path):
    """In training an int is a key-frame index; a (video, frame) pair
    reaches any frame, also one that is not a key frame."""
    ann_file = _dump(_mmtrack_vid_json(), tmp_path / 'vid.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    assert [tuple(k) for k in dataset.key_frames] == [(0, 1)]
    assert dataset.get_cat_ids(0) == [29]  # zebra, on key frame 1
    assert dataset.get_cat_ids((0, 3)) == [0]  # airplane, not a key frame
    assert dataset.get_cat_ids((0, 0)) == []


def _with_small_video(coco, width, height):
    """``coco`` with a second, 2-frame video of ``width`` x ``height``."""
    video = 'train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000001'
    coco['videos'].append(dict(id=2, name=video, vid_train_frames=[0, 1]))
    coco['images'] += [
        dict(
            file_name=f'{video}/{t:06d}.JPEG',
            height=height,
            width=width,
            id=10 + t,
            frame_id=t,
            video_id=2,
            is_vid_train_frame=True) for t in range(2)
    ]
    coco['annotations'].append(
        dict(
            id=10,
            video_id=2,
            image_id=10,
            category_id=1,
            instance_id=10,
            bbox=[1, 1, 8, 8],
            area=64,
            iscrowd=False,
            occluded=False,
            generated=False))
    return coco


def test_training_drops_videos_below_min_size_with_a_log(
        tmp_path, log_records):
    coco = _with_small_video(_mmtrack_vid_json(), 40, 30)
    ann_file = _dump(coco, tmp_path / 'sizes.json')
    dataset = ImagenetVIDDataset(
        ann_file=ann_file, pipeline=[], filter_cfg=dict(min_size=32))
    assert dataset.num_videos == 1
    assert dataset.get_data_info(0)['video_id'] == 1
    assert [tuple(k) for k in dataset.key_frames] == [(0, 1)]
    assert any(r.getMessage() == f'{ann_file}: dropped 1 videos smaller '
               'than min_size=32' for r in log_records)
    # the 30 px high video is the one dropped: 30 passes min_size=30
    dataset = ImagenetVIDDataset(
        ann_file=ann_file, pipeline=[], filter_cfg=dict(min_size=30))
    assert dataset.num_videos == 2


def test_test_mode_serves_frames(tiny_synthvid):
    dataset = _synthvid(tiny_synthvid, 'val')
    assert len(dataset) == 2
    sampler = TrackImgSampler(dataset)
    indices = list(sampler)
    assert indices[:2] == [(0, 0), (0, 1)] and len(indices) == 24
    out = dataset[(1, 4)]
    frame = out['data_samples'][0]
    assert out['inputs'].shape == (1, 3, 72, 96)
    assert frame.metainfo['frame_id'] == 4
    assert frame.metainfo['video_length'] == 1
    assert frame.metainfo['ori_video_length'] == 12
    assert frame.metainfo['ori_shape'] == (48, 64)
    assert 'degradation' in frame.metainfo
    assert all('instance_id' in i for i in frame.metainfo['instances'])


def test_end_to_end_batch_of_two_clips(tiny_synthvid):
    dataset = _synthvid(tiny_synthvid)
    loader = DataLoader(
        dataset,
        batch_size=2,
        sampler=DefaultSampler(dataset, shuffle=True, seed=0),
        collate_fn=pseudo_collate)
    batch = next(iter(loader))
    preprocessor = TrackDataPreprocessor(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16)
    data = preprocessor(batch, training=True)
    assert data['inputs'].shape == (2, T, 3, 80, 96)
    for sample in data['data_samples']:
        assert len(sample) == T
        assert sample.metainfo['key_frames_inds'] == [T - 1]
        assert [f.metainfo['clip_frame_offsets'] for f in sample][-1] == 0
        boxes = sample[T - 1].gt_instances.bboxes
        assert boxes.shape[1] == 4 and len(boxes) > 0
        assert (boxes[:, 2:] > boxes[:, :2]).all()
        assert boxes.max() <= 96


def test_mmtrack_vid_json_loads_unchanged(tmp_path):
    ann_file = _dump(_mmtrack_vid_json(), tmp_path / 'vid.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    assert dataset.metainfo['classes'] == IMAGENET_VID_CLASSES
    assert dataset.num_videos == 1 and len(dataset) == 1
    assert [tuple(k) for k in dataset.key_frames] == [(0, 1)]
    frames = dataset.get_data_info(0)['images']
    assert len(frames) == 4 and frames[0]['instances'] == []
    assert frames[1]['instances'] == [
        dict(
            bbox=[1, 2, 11, 22],
            bbox_label=29,
            ignore_flag=0,
            instance_id=1,
            occluded=True,
            generated=False)
    ]
    assert frames[3]['instances'][0]['bbox_label'] == 0
    assert frames[3]['instances'][0]['generated'] is True
    assert 'degradation' not in frames[0]  # or mAP_clean would be mAP
    assert frames[2]['is_vid_train_frame'] is True
    video = dataset[0]
    assert video['key_frame_id'] == 1 and video['video_length'] == 4


def test_mmtrack_det_json_gives_one_frame_videos(tmp_path):
    ann_file = _dump(_mmtrack_det_json(), tmp_path / 'det.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    assert dataset.num_videos == 2
    # Image 2 has only an `other_categeries` box: no training sample.
    assert len(dataset) == 1
    frame = dataset.get_data_info(0)['images'][0]
    assert frame['frame_id'] == 0 and frame['video_id'] > 100000
    assert frame['instances'] == [
        dict(
            bbox=[1, 1, 10, 10],
            bbox_label=2,
            ignore_flag=0,
            instance_id=-1,
            occluded=False,
            generated=False)
    ]


def test_concat_with_det_for_training(tiny_synthvid, tmp_path):
    coco = _load(tiny_synthvid)
    det = dict(
        categories=coco['categories'],
        images=[
            dict(im, id=i + 1, is_vid_train_frame=True)
            for i, im in enumerate(coco['images'][:3])
        ],
        annotations=[])
    for im in det['images']:
        del im['video_id'], im['frame_id']
    det['annotations'] = [
        dict(
            id=1,
            image_id=1,
            category_id=2,
            bbox=[3, 3, 20, 20],
            area=400,
            iscrowd=False,
            instance_id=-1),
        dict(
            id=2,
            image_id=3,
            category_id=4,
            bbox=[5, 5, 9, 9],
            area=81,
            iscrowd=False,
            instance_id=-1),
    ]
    det_file = _dump(det, tmp_path / 'det.json')
    concat = ConcatDataset([
        dict(
            type='ImagenetVIDDataset',
            data_root=tiny_synthvid,
            ann_file='annotations/imagenet_vid_train.json',
            data_prefix=dict(img_path='Data/VID'),
            metainfo=dict(classes=SYNTHVID_CLASSES),
            pipeline=TRAIN_PIPELINE),
        dict(
            type='ImagenetVIDDataset',
            ann_file=det_file,
            data_prefix=dict(img_path=osp.join(tiny_synthvid, 'Data', 'VID')),
            metainfo=dict(classes=SYNTHVID_CLASSES),
            pipeline=TRAIN_PIPELINE)
    ])
    vid_len = len(concat.datasets[0])
    assert len(concat) == vid_len + 2
    det_clip = concat[vid_len + 1]['data_samples']
    assert len(det_clip) == T
    assert [f.metainfo['clip_frame_offsets'] for f in det_clip] == [0, 0, 0]
    assert det_clip[0].metainfo['img_path'] == det_clip[2].metainfo['img_path']
    assert det_clip[2].gt_instances.labels.tolist() == [3]
    loader = DataLoader(
        concat,
        batch_size=2,
        sampler=DefaultSampler(concat, shuffle=False),
        collate_fn=pseudo_collate)
    assert sum(len(b['inputs']) for b in loader) == len(concat)


# --------------------------- bad input ------------------------------------


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        ImagenetVIDDataset(ann_file=str(tmp_path / 'nope.json'))


def test_malformed_json_names_the_file(tmp_path):
    path = tmp_path / 'broken.json'
    path.write_text('{"images": [')
    with pytest.raises(ValueError, match='malformed JSON.*broken.json'):
        ImagenetVIDDataset(ann_file=str(path))
    path.write_text('[1, 2]')
    with pytest.raises(ValueError, match='broken.json.*JSON object'):
        ImagenetVIDDataset(ann_file=str(path))
    path.write_text('{"images": [], "categories": []}')
    with pytest.raises(
            ValueError, match='broken.json has no list '
            "'annotations'"):
        ImagenetVIDDataset(ann_file=str(path))


@pytest.mark.parametrize(
    'edit,match',
    [
        (lambda c: c['images'][0].pop('file_name'), r'image entry .* lacks'),
        (lambda c: c['images'].append(dict(c['images'][0])), 'image id 1 '
         'repeats'),
        (lambda c: c['annotations'][0].update(image_id=99),
         'annotation 1 has unknown image_id 99'),
        (lambda c: c['annotations'][0].update(category_id=77),
         'annotation 1 has unknown category_id 77'),
        # True == 1 would find image 1 and category 1
        (lambda c: c['annotations'][0].update(image_id=True),
         'annotation 1 has unknown image_id True'),
        (lambda c: c['annotations'][0].update(category_id=True),
         'annotation 1 has unknown category_id True'),
        (lambda c: c['annotations'].append(dict(c['annotations'][0])),
         'annotation id 1 repeats'),
        (lambda c: c['categories'].pop(0), r"\['airplane'\] of metainfo"),
        # the message says where the ids go wrong (it showed the first
        # five ids, which look right for a fault further on)
        (lambda c: c['images'][2].update(frame_id=7),
         r'video 1 has 4 frames, frame_id 2 is missing \(after '
         r'.*/000001.JPEG\); the next is 3 \(.*/000003.JPEG\); expected '
         'frame_ids 0..3'),
        (lambda c: c['images'][2].update(frame_id=1),
         r'frame_id 1 repeats \(images .*/000001.JPEG and .*/000002.JPEG\)'),
        (lambda c: c['images'][0].update(frame_id=-1),
         r'frame_id -1 is negative \(.*/000000.JPEG\)'),
        (lambda c: c.update(videos=None), "'videos' is null, not a list"),
        (lambda c: c['images'][3].pop('frame_id'), 'no integer frame_id'),
        (lambda c: c['images'][2].update(width=80),
         '000002.JPEG is 80x48 but video 1 is 64x48'),
    ])
def test_inconsistent_annotations_name_the_file(tmp_path, edit, match):
    coco = _mmtrack_vid_json()
    if 'airplane' in match:
        coco['annotations'] = coco['annotations'][:1]
    edit(coco)
    ann_file = _dump(coco, tmp_path / 'bad_ann.json')
    with pytest.raises(ValueError, match=f'bad_ann.json.*{match}'):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])


def test_logged_skips_keep_the_rest_right(tmp_path, log_records):
    coco = _mmtrack_vid_json()
    coco['videos'].append(dict(id=5, name='empty', vid_train_frames=[]))
    for im in coco['images']:
        del im['is_vid_train_frame']
    ann_file = _dump(coco, tmp_path / 'skips.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    text = '\n'.join(r.getMessage() for r in log_records)
    assert 'skipping 1 videos without images' in text
    assert '4 images have no is_vid_train_frame' in text
    assert dataset.num_videos == 1
    # Missing flags count as key frames: both frames with objects.
    assert [tuple(k) for k in dataset.key_frames] == [(0, 1), (0, 3)]


def test_boxes_of_classes_outside_the_list_are_ignored(tmp_path):
    coco = _mmtrack_vid_json()
    ann_file = _dump(coco, tmp_path / 'vid.json')
    dataset = ImagenetVIDDataset(
        ann_file=ann_file,
        pipeline=[],
        metainfo=dict(classes=('airplane', 'bear')))
    frames = dataset.get_data_info(0)['images']
    assert frames[1]['instances'] == []  # zebra is not in the list
    assert frames[3]['instances'][0]['bbox_label'] == 0
    assert [tuple(k) for k in dataset.key_frames] == []


# the last two are finite numbers whose corner x + w or y + h is inf
@pytest.mark.parametrize('bbox', [
    [1, 2, float('nan'), 20],
    [1, 2, 10, float('inf')],
    None,
    'box',
    [1, 2, 10],
    [1, 2, 10, 20, 5],
    [1, 2, None, 20],
    [1, '2', 10, 20],
    [1, 2, -10, 20],
    [1, 2, 10, -1],
    [1e308, 2, 1e308, 20],
    [1, 1e308, 10, 1.7e308],
])
def test_malformed_bbox_names_the_file_and_annotation(tmp_path, bbox):
    coco = _mmtrack_vid_json()
    coco['annotations'][1]['bbox'] = bbox
    ann_file = _dump(coco, tmp_path / 'bad_box.json')
    with pytest.raises(ValueError, match='bad_box.json: annotation 2 .*bbox'):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])


@pytest.mark.parametrize('area', [float('inf'), '64', None, True, [64]])
def test_malformed_area_names_the_file_and_annotation(tmp_path, area):
    coco = _mmtrack_vid_json()
    coco['annotations'][1]['area'] = area
    ann_file = _dump(coco, tmp_path / 'bad_area.json')
    with pytest.raises(
            ValueError,
            match='bad_area.json: annotation 2 has a malformed area '
            f'{re.escape(repr(area))}; expected a finite number'):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])


def _with_extra_tracks(boxes, areas):
    """mmtrack's VID json with one more track per box (ids and instance ids
    10, 11, ...) in the image of its second annotation."""
    coco = _mmtrack_vid_json()
    for i, (box, area) in enumerate(zip(boxes, areas)):
        coco['annotations'].append(
            dict(
                coco['annotations'][1],
                id=10 + i,
                instance_id=10 + i,
                bbox=box,
                area=area))
    return coco


def test_degenerate_boxes_are_skipped_with_one_warning(tmp_path, log_records):
    # zero width, width < 1, outside the 64x48 image, zero area
    degenerate = ([5, 5, 0, 8], [5, 5, 0.5, 8], [100, 100, 5, 5], [5, 5, 8, 8])
    coco = _with_extra_tracks(degenerate,
                              [box[2] * box[3]
                               for box in degenerate[:3]] + [0])
    ann_file = _dump(coco, tmp_path / 'degenerate.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    warned = [
        r for r in log_records if 'degenerate ground-truth' in r.getMessage()
    ]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert 'degenerate.json: skipped 4 degenerate' in warned[0].getMessage()
    frames = dataset.get_data_info(0)['images']
    assert [len(f['instances']) for f in frames] == [0, 1, 0, 1]


def test_degenerate_boxes_are_kept_in_test_mode(tmp_path, log_records):
    """The evaluation reads test-mode ``instances``; the ILSVRC devkit
    counts a box with xmin == xmax (COCO w 0) as a 1 px wide positive."""
    coco = _with_extra_tracks(([60, 10, 0, 30], [5, 5, 20, 0]), (0, 0))
    ann_file = _dump(coco, tmp_path / 'thin.json')
    dataset = ImagenetVIDDataset(
        ann_file=ann_file, pipeline=[], test_mode=True)
    instances = dataset.get_data_info(0)['images'][3]['instances']
    assert [(i['bbox'], i['instance_id'])
            for i in instances] == [([5, 5, 13, 13], 2), ([60, 10, 60,
                                                           40], 10),
                                    ([5, 5, 25, 5], 11)]
    warned = [
        r.getMessage() for r in log_records
        if 'degenerate ground-truth' in r.getMessage()
    ]
    assert len(warned) == 1 and 'thin.json: kept 2 degenerate' in warned[0]
    # training still drops them (mmdet cannot regress zero-size targets)
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    instances = dataset.get_data_info(0)['images'][3]['instances']
    assert [i['instance_id'] for i in instances] == [2]


def test_missing_or_corrupt_image_names_the_file(tiny_synthvid_copy):
    root = tiny_synthvid_copy
    dataset = _synthvid(root)
    video_idx, frame_idx = (int(v) for v in dataset.key_frames[0])
    frame = dataset.get_data_info(video_idx)['images'][frame_idx]
    os.remove(frame['img_path'])
    with pytest.raises(FileNotFoundError, match=frame['file_name']):
        dataset[0]
    with open(frame['img_path'], 'wb') as f:
        f.write(b'\xff\xd8 definitely not a JPEG')
    with pytest.raises(OSError, match=frame['file_name']):
        dataset[0]
    open(frame['img_path'], 'wb').close()  # OpenCV's error names no file
    with pytest.raises(OSError, match=frame['file_name']):
        dataset[0]
    cv2.imwrite(frame['img_path'], np.zeros((48, 64, 3), np.uint8))
    assert len(dataset[0]['data_samples']) == T


@pytest.mark.parametrize('shape', [(24, 32), (64, 48)])
def test_image_of_another_size_than_annotated_names_the_frame(
        tiny_synthvid_copy, shape):
    # the boxes are in the annotated 64x48 pixels: a half-size or a
    # rotated file would move them all without an error
    root = tiny_synthvid_copy
    for split in ('train', 'val'):
        dataset = _synthvid(root, split)
        video_idx, frame_idx = (int(v) for v in dataset.key_frames[0]) \
            if split == 'train' else (0, 0)
        frame = dataset.get_data_info(video_idx)['images'][frame_idx]
        cv2.imwrite(frame['img_path'], np.zeros(shape + (3, ), np.uint8))
        index = 0 if split == 'train' else (0, 0)
        with pytest.raises(ValueError) as error:
            dataset[index]
        message = str(error.value)
        assert frame['file_name'] in message and \
            f'is {shape[1]}x{shape[0]} pixels' in message and \
            'annotation says 64x48' in message and \
            f"frame {frame['frame_id']}" in message


def test_annotation_file_without_images_names_the_file(tmp_path):
    coco = _mmtrack_vid_json()
    coco.update(videos=[], images=[], annotations=[])
    ann_file = _dump(coco, tmp_path / 'empty.json')
    with pytest.raises(ValueError, match='empty.json has no images'):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])


@pytest.mark.parametrize(
    'edit, match',
    [
        (lambda c: c['images'][1].update(file_name=None),
         r'ids.json: image 2 \(None\) has no file_name'),
        (lambda c: c['images'][1].update(file_name=7),
         r'ids.json: image 2 \(7\) has no file_name'),
        (lambda c: c['images'][1].update(id=[2]),
         r'ids.json: image entry .* has id \[2\]; expected an int \(the '
         'evaluation numbers the frames by it\\)'),
        # the metric reads image ids as ints: 'img_2' failed after the whole
        # test, and '2' and '02' became one frame
        (lambda c: c['images'][1].update(id='img_2'),
         r"ids.json: image entry .* has id 'img_2'; expected an int"),
        (lambda c: c['images'][1].update(video_id=[1]),
         r'ids.json: image 2 .* has video_id \[1\]; expected an int or a str'),
        (lambda c: c['annotations'][0].update(id=None),
         r'ids.json: annotation entry .* has id None'),
        (lambda c: c['categories'][0].update(name=None),
         r'ids.json: category 1 has name None; expected a str'),
        # was a bare TypeError (unhashable type) from the empty-video count
        (lambda c: c['videos'][0].update(id=[1]),
         r'ids.json: video entry .* has id \[1\]; expected an int or a str'),
        (lambda c: c['videos'][0].pop('id'),
         r'ids.json: video entry .* lacks'),
        (lambda c: c['videos'].append(dict(c['videos'][0])),
         'ids.json: video id 1 repeats'),
    ])
def test_ids_names_and_file_names_of_the_wrong_type_name_the_entry(
        tmp_path, edit, match):
    # each was a TypeError from os.path.join, a dict or sorted() before
    coco = _mmtrack_vid_json()
    edit(coco)
    ann_file = _dump(coco, tmp_path / 'ids.json')
    with pytest.raises(ValueError, match=match):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])


def test_repeated_category_name_is_an_error(tmp_path):
    coco = _mmtrack_vid_json()
    coco['categories'].append(dict(id=31, name='zebra', encode_name='n0'))
    coco['annotations'][0]['category_id'] = 31
    ann_file = _dump(coco, tmp_path / 'dup_cat.json')
    with pytest.raises(
            ValueError,
            match="dup_cat.json: category name 'zebra' repeats "
            r'\(ids 30 and 31\)'):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])


@pytest.mark.parametrize('key', ['width', 'height'])
@pytest.mark.parametrize('value', [0, -64, '64', 64.0, True, None])
def test_bad_image_size_names_the_file_and_image(tmp_path, key, value):
    coco = _mmtrack_vid_json()
    coco['images'][1][key] = value
    ann_file = _dump(coco, tmp_path / 'bad_size.json')
    video = 'train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000'
    with pytest.raises(
            ValueError,
            match=f'bad_size.json: image 2 \\({video}/000001.JPEG\\) has '
            f'{key} {value!r}; expected a positive int'):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])


@pytest.mark.parametrize('what,key,value', [
    ('annotation', 'iscrowd', 'false'),
    ('annotation', 'iscrowd', 2),
    ('annotation', 'ignore', '0'),
    ('annotation', 'occluded', 'true'),
    ('annotation', 'generated', 1.0),
    ('annotation', 'instance_id', '1'),
    ('annotation', 'instance_id', True),
    ('image', 'is_vid_train_frame', 'false'),
    ('image', 'is_vid_train_frame', None),
    ('image', 'frame_id', True),
])
def test_fields_of_the_wrong_type_name_the_file_and_entry(
        tmp_path, what, key, value):
    coco = _mmtrack_vid_json()
    if what == 'image':
        # frame_id True (== 1) of the second frame would pass as an int.
        coco['images'][1][key] = value
    else:
        coco['annotations'][0][key] = value
    ann_file = _dump(coco, tmp_path / 'bad_type.json')
    entry = 'image 2' if what == 'image' else 'annotation 1'
    with pytest.raises(
            ValueError,
            match=f'bad_type.json: {entry} .*{key}.*{value!r}.*expected'):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])


def test_int_and_bool_flags_both_load(tmp_path):
    """mmtrack writes JSON true/false, COCO-style files 0/1: both work."""
    coco = _mmtrack_vid_json()
    for im in coco['images']:
        im['is_vid_train_frame'] = int(im['is_vid_train_frame'])
    coco['annotations'][0].update(iscrowd=0, occluded=1, generated=0)
    coco['annotations'][1].update(ignore=1, occluded=False)
    ann_file = _dump(coco, tmp_path / 'int_flags.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    frames = dataset.get_data_info(0)['images']
    assert [f['is_vid_train_frame']
            for f in frames] == [False, True, True, False]
    assert frames[1]['instances'][0]['occluded'] is True
    assert frames[1]['instances'][0]['ignore_flag'] == 0
    assert frames[3]['instances'] == []  # ignore=1
    assert [tuple(k) for k in dataset.key_frames] == [(0, 1)]


def _repeat_frame_0(coco):
    coco['images'][3].update(file_name=coco['images'][0]['file_name'])


@pytest.mark.parametrize('edit,test_mode,match', [
    (_repeat_frame_0, False, r'images 1 and 4 have the same file_name '
     r'.*000000.JPEG.* \(image 1 is a video frame'),
    (_repeat_frame_0, True,
     r'images 1 and 4 have the same file_name .*000000.JPEG'),
    (lambda c: c['annotations'].append(dict(c['annotations'][0], id=7)), True,
     'annotations 1 and 7 are the same box'),
])
def test_repeated_image_or_annotation_names_both_ids(tmp_path, edit, test_mode,
                                                     match):
    coco = _mmtrack_vid_json()
    edit(coco)
    ann_file = _dump(coco, tmp_path / 'repeats.json')
    with pytest.raises(ValueError, match=f'repeats.json: {match}'):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[], test_mode=test_mode)


def test_same_box_of_another_track_or_unused_class_is_not_a_repeat(tmp_path):
    coco = _mmtrack_vid_json()
    coco['annotations'].append(
        dict(coco['annotations'][0], id=7, instance_id=9))
    ann_file = _dump(coco, tmp_path / 'two_tracks.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    frame = dataset.get_data_info(0)['images'][1]
    assert [i['instance_id'] for i in frame['instances']] == [1, 9]
    # A repeated box of a class outside the list (zebra) is ignored anyway.
    coco['annotations'][-1]['instance_id'] = 1
    ann_file = _dump(coco, tmp_path / 'unused_class.json')
    dataset = ImagenetVIDDataset(
        ann_file=ann_file, pipeline=[], metainfo=dict(classes=('airplane', )))
    assert dataset.get_data_info(0)['images'][1]['instances'] == []


@pytest.mark.parametrize('change', [
    dict(),
    dict(bbox=[30, 30, 8, 8]),
    dict(bbox=[30, 30, 8, 8], category_id=1),
    dict(category_id=1),
])
def test_two_boxes_of_one_track_in_a_frame_are_refused_in_test_mode(
        tmp_path, change, log_records):
    """A track has one box per frame, else its motion IoU is ambiguous: a
    second box (the same, another box, class or both) of the same
    instance_id in the same image is an error in test mode. Training uses
    no track: there both boxes are kept, with one warning."""
    coco = _mmtrack_vid_json()
    coco['annotations'][1]['category_id'] = 2
    coco['annotations'].append(dict(coco['annotations'][1], id=7, **change))
    ann_file = _dump(coco, tmp_path / 'two_boxes.json')
    video = 'train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000'
    match = (r'annotations 2 and 7 are the same box' if not change else
             r'annotations 2 and 7 give track instance_id 2 two boxes in '
             rf'image 4 \({video}/000003.JPEG\)')
    with pytest.raises(ValueError, match=f'two_boxes.json: {match}'):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[], test_mode=True)
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    frame = dataset.get_data_info(0)['images'][3]
    assert [i['instance_id'] for i in frame['instances']] == [2, 2]
    warned = _warnings_with(log_records, 'second box')
    assert warned == [
        f'{ann_file}: 1 annotations give a track a second box in a frame '
        '(first: annotations 2 and 7, track instance_id 2 in '
        f'{video}/000003.JPEG); kept for training, which uses no track (in '
        'test mode this is an error)'
    ]
    # the same box of the track in another frame is fine
    coco['annotations'][-1]['image_id'] = 3
    ImagenetVIDDataset(
        ann_file=_dump(coco, tmp_path / 'next_frame.json'),
        pipeline=[],
        test_mode=True)


def test_repeated_untracked_box_is_kept_with_one_warning(
        tmp_path, log_records):
    """DET boxes have no track: an exact repeat may be annotation noise."""
    coco = _mmtrack_det_json()
    coco['annotations'] += [
        dict(coco['annotations'][0], id=8),
        dict(coco['annotations'][0], id=9)
    ]
    ann_file = _dump(coco, tmp_path / 'det_repeat.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    instances = dataset.get_data_info(0)['images'][0]['instances']
    assert len(instances) == 3
    warned = _warnings_with(log_records, 'without a track repeat')
    assert warned == [
        f'{ann_file}: 2 annotations without a track repeat another box '
        'exactly (first: annotations 1 and 8); each is kept as a '
        'ground-truth box of its own'
    ]


def _det_json_listing_image_1_twice():
    """mmtrack's DET file for a list that names image 1 twice: a second
    entry (id 3) with the same fields and boxes."""
    coco = _mmtrack_det_json()
    coco['images'].append(dict(coco['images'][0], id=3))
    coco['annotations'] += [
        dict(a, id=a['id'] + 10, image_id=3, bbox=list(a['bbox']))
        for a in coco['annotations'] if a['image_id'] == 1
    ]
    return coco


def test_repeated_det_image_is_sampled_as_often_as_listed_in_training(
        tmp_path, log_records):
    ann_file = _dump(_det_json_listing_image_1_twice(),
                     tmp_path / 'det_listed_twice.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    assert dataset.num_videos == 3 and len(dataset) == 2
    frames = [
        dataset.get_data_info(int(video))['images'][0]
        for video, _ in dataset.key_frames
    ]
    assert [f['img_id'] for f in frames] == [1, 3]
    assert frames[0]['instances'] == frames[1]['instances']
    warned = _warnings_with(log_records, 'repeat an')
    assert warned == [
        f'{ann_file}: 1 one-frame images repeat an earlier image (first: '
        "images 1 and 3, 'train/x/1.JPEG'); each is kept and sampled as "
        'often as it is listed, as in mmtrack'
    ]


@pytest.mark.parametrize('edit,test_mode,match', [
    (lambda c: None, True, 'in test mode it would be scored twice'),
    (lambda c: c['annotations'][-1]['bbox'].__setitem__(0, 5), False,
     'differ in their fields or boxes'),
    (lambda c: c['images'][-1].update(width=80), False,
     'differ in their fields or boxes'),
    (lambda c: c['annotations'].pop(), False,
     'differ in their fields or boxes'),
])
def test_repeated_det_image_that_differs_or_is_tested_is_refused(
        tmp_path, edit, test_mode, match):
    coco = _det_json_listing_image_1_twice()
    edit(coco)
    ann_file = _dump(coco, tmp_path / 'det_listed_twice.json')
    with pytest.raises(
            ValueError,
            match=r'det_listed_twice.json: images 1 and 3 have the same '
            rf"file_name 'train/x/1.JPEG' .*{match}"):
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[], test_mode=test_mode)


def test_det_images_never_share_a_real_video_id(tmp_path):
    coco = _mmtrack_det_json()
    for t, im in enumerate(coco['images']):
        im.update(video_id=100001, frame_id=t)
    coco['images'].append(
        dict(file_name='train/x/3.JPEG', height=48, width=64, id=3))
    coco['images'].append(
        dict(file_name='train/x/4.JPEG', height=48, width=64, id=4))
    ann_file = _dump(coco, tmp_path / 'collide.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    videos = [dataset.get_data_info(i) for i in range(dataset.num_videos)]
    assert [(v['video_id'], v['video_length'])
            for v in videos] == [(100001, 2), (100002, 1), (100003, 1)]


def test_boxes_beyond_the_image_are_kept_with_one_warning(
        tmp_path, log_records):
    coco = _mmtrack_vid_json()  # 64x48 images
    boxes = [
        [40, 10, 30, 20],  # x2 = 70
        [-5, 2, 10, 10],  # x1 = -5
        [0, 0, 64, 48],  # touches the border
        [1, 1, 64, 48],  # 1 px past it
        [60, 30, 5, 5],  # 1 px past it
    ]
    coco['annotations'] = [
        dict(coco['annotations'][1], id=10 + i, bbox=box, instance_id=i)
        for i, box in enumerate(boxes)
    ]
    ann_file = _dump(coco, tmp_path / 'outside.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    warned = [r for r in log_records if 'extend more than' in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    # Touching the border or 1 px past it is not counted.
    assert ('outside.json: 2 ground-truth boxes extend more than 1 px '
            'beyond their image') in warned[0].getMessage()
    assert 'first: annotation 10 of train/' in warned[0].getMessage()
    frame = dataset.get_data_info(0)['images'][3]
    assert [i['bbox'] for i in frame['instances']][:2] == [[40, 10, 70, 30],
                                                           [-5, 2, 5, 12]]


MMTRACK_VIDEO = 'train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000'


@pytest.mark.parametrize('edit,got', [
    (lambda ann: ann.pop('instance_id'), 'no instance_id'),
    (lambda ann: ann.update(instance_id=-1), 'instance_id -1'),
])
def test_untracked_box_of_a_video_is_refused_in_test_mode(tmp_path, edit, got):
    coco = _mmtrack_vid_json()
    edit(coco['annotations'][0])
    ann_file = _dump(coco, tmp_path / 'untracked.json')
    ImagenetVIDDataset(ann_file=ann_file, pipeline=[])  # training: no track
    with pytest.raises(ValueError) as error:
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[], test_mode=True)
    assert str(error.value) == (
        f'{ann_file}: annotation 1 (image 2, {MMTRACK_VIDEO}/000001.JPEG, '
        f'of video 1 with 4 frames) has {got}; in test mode a box of a '
        "video needs its track's instance_id >= 0, else the motion-speed "
        'splits count it as fast (boxes of the file without one: 1)')


def test_boxes_that_need_no_track_load_in_test_mode(tmp_path):
    """Ignored boxes, boxes outside the class list and boxes of one-frame
    videos (DET images) are no ground truth of the speed splits."""
    coco = _mmtrack_vid_json()
    coco['annotations'][0].update(instance_id=-1, ignore=True)
    coco['categories'].append(dict(id=31, name='other', encode_name=None))
    del coco['annotations'][1]['instance_id']
    coco['annotations'][1]['category_id'] = 31
    coco['images'].append(
        dict(coco['images'][0], id=9, video_id=2, file_name='v2/0.JPEG'))
    coco['annotations'].append(
        dict(id=9, image_id=9, category_id=1, bbox=[1, 1, 9, 9]))
    ann_file = _dump(coco, tmp_path / 'no_tracks_needed.json')
    dataset = ImagenetVIDDataset(
        ann_file=ann_file, pipeline=[], test_mode=True)
    assert dataset.num_videos == 2
    det_file = _dump(_mmtrack_det_json(), tmp_path / 'det.json')
    dataset = ImagenetVIDDataset(
        ann_file=det_file, pipeline=[], test_mode=True)
    assert dataset.num_videos == 2


@pytest.mark.parametrize('value', ['drop', None])
def test_some_frames_without_degradation_are_refused_in_test_mode(
        tmp_path, value):
    coco = _mmtrack_vid_json()
    for img in coco['images']:
        img['degradation'] = 'none'
    if value == 'drop':
        del coco['images'][2]['degradation']
    else:
        coco['images'][2]['degradation'] = value
    ann_file = _dump(coco, tmp_path / 'partial.json')
    if value is None:  # training does not read the values
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    with pytest.raises(ValueError) as error:
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[], test_mode=True)
    assert str(error.value) == (
        f'{ann_file}: 1 of 4 frames carry no degradation value, e.g. img_id '
        f'3 ({MMTRACK_VIDEO}/000002.JPEG); all or none must')


@pytest.mark.parametrize('field', ['degradation', 'license'])
def test_frames_of_a_video_with_other_fields_are_refused_in_training(
        tmp_path, field):
    """A field on some frames only would fail the clips that stack it
    (mmcv's ``TransformBroadcaster``) mid-epoch, naming no frame."""
    coco = _mmtrack_vid_json()
    coco['images'][1][field] = 'none'
    ann_file, message = _refusal(coco, tmp_path / 'partial.json')
    assert message == (
        f'{ann_file}: frame {MMTRACK_VIDEO}/000001.JPEG of video 1 has '
        f"['{field}'] of the image fields of {MMTRACK_VIDEO}/000000.JPEG; a "
        "training clip stacks its frames' fields, so the frames of a video "
        'need the same ones')
    for img in coco['images']:
        img[field] = 'none'
    del coco['images'][2][field]
    ann_file, message = _refusal(coco, tmp_path / 'lacking.json')
    assert f"000002.JPEG of video 1 lacks ['{field}'] of" in message
    if field == 'license':  # a test serves one frame at a time
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[], test_mode=True)
    # a field the data set fills in for every frame may be left out
    coco = _mmtrack_vid_json()
    del coco['images'][1]['is_vid_train_frame']
    ann_file = _dump(coco, tmp_path / 'no_flag.json')
    ImagenetVIDDataset(ann_file=ann_file, pipeline=[])


def test_frame_without_video_id_names_the_image(tmp_path):
    coco = _mmtrack_vid_json()
    del coco['images'][2]['video_id']
    ann_file, message = _refusal(coco, tmp_path / 'no_video_id.json')
    assert message == (
        f'{ann_file}: image 3 ({MMTRACK_VIDEO}/000002.JPEG) has frame_id 2 '
        'but no video_id, unlike other images of the file; a video frame '
        'needs both (an image with neither, or with frame_id 0 in a file '
        'without video_ids, is a one-frame image, as in ImageNet DET)')
    # a file of one-frame images only may give them frame_id 0
    det = _mmtrack_det_json()
    for img in det['images']:
        img['frame_id'] = 0
    det_file = _dump(det, tmp_path / 'det_frame_ids.json')
    assert ImagenetVIDDataset(ann_file=det_file, pipeline=[]).num_videos == 2


def test_video_frames_that_all_lost_their_video_id_are_refused(tmp_path):
    """Not loaded as one-frame images (which would train without motion):
    the frame_ids beyond 0, or the videos list, tell a video file."""
    coco = _mmtrack_vid_json()
    for img in coco['images']:
        del img['video_id']
    ann_file, message = _refusal(coco, tmp_path / 'no_video_ids.json')
    assert message == (
        f'{ann_file} lists videos (1) but none of its images has a '
        'video_id: its frames would load as unrelated one-frame images; give '
        'each frame its video_id and frame_id')
    del coco['videos']
    ann_file, message = _refusal(coco, tmp_path / 'no_videos.json')
    assert message == (
        f'{ann_file}: image 2 ({MMTRACK_VIDEO}/000001.JPEG) has frame_id 1 '
        'but no video_id, as no image of the file has one; a video frame '
        'needs both (an image with neither, or with frame_id 0 in a file '
        'without video_ids, is a one-frame image, as in ImageNet DET)')


def test_frames_out_of_the_file_names_order_are_refused(tmp_path):
    coco = _mmtrack_vid_json()
    coco['images'][1]['frame_id'], coco['images'][2]['frame_id'] = 2, 1
    ann_file = _dump(coco, tmp_path / 'swapped.json')
    with pytest.raises(ValueError) as error:
        ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    assert str(error.value) == (
        f'{ann_file}: video 1: image 3 ({MMTRACK_VIDEO}/000002.JPEG) has '
        f'frame_id 1, before image 2 ({MMTRACK_VIDEO}/000001.JPEG) with '
        'frame_id 2; frame_id must follow the order of the file names (the '
        'last number in them)')


@pytest.mark.parametrize(
    'names',
    [
        ['c7_f8', 'c7_f9', 'c7_f10', 'c7_f11'],  # numbers, not text, compared
        ['d', 'c', 'b', 'a'],  # no number: not checked
        ['f3', 'f2', 'x', 'f0'],  # a name without a number: not checked
    ])
def test_frame_order_follows_the_last_number_of_the_file_names(
        tmp_path, names):
    coco = _mmtrack_vid_json()
    for img, name in zip(coco['images'], names):
        img['file_name'] = f'v9/{name}.JPEG'
    ann_file = _dump(coco, tmp_path / 'names.json')
    dataset = ImagenetVIDDataset(ann_file=ann_file, pipeline=[])
    assert [f['file_name'] for f in dataset.get_data_info(0)['images']
            ] == [f'v9/{name}.JPEG' for name in names]
