# Copyright (c) memvid_mm contributors. All rights reserved.
import importlib.util
import json
import logging
import os
import os.path as osp
import re
import shutil
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from memvid_mm.datasets import (IMAGENET_VID_CLASS_TABLE, IMAGENET_VID_CLASSES,
                                SYNTHVID_CLASS_TABLE, SYNTHVID_CLASSES,
                                check_class_table, class_names, convert_det,
                                convert_vid, load_class_table, parse_voc_xml,
                                select_key_frames)
from memvid_mm.datasets.ilsvrc_converters import (read_fgfa_key_frames,
                                                  read_val_frame_list,
                                                  read_vid_video_list)

TRAIN_VIDEO = 'train/SynthVID_VID_train_0000/SynthVID_train_00000000'
VID_IMAGE_KEYS = {
    'file_name', 'height', 'width', 'id', 'frame_id', 'video_id',
    'is_vid_train_frame', 'degradation'
}
VID_ANN_KEYS = {
    'id', 'video_id', 'image_id', 'category_id', 'instance_id', 'bbox', 'area',
    'iscrowd', 'occluded', 'generated'
}
TOOLS = osp.join(osp.dirname(__file__), '..', '..', 'tools')


def _load_tool(name):
    path = osp.join(TOOLS, 'dataset_converters', f'{name}.py')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _xml(path, objects=(), size=(64, 48), degradation=None):
    """Write an ILSVRC-style XML; objects are (synset, box, trackid)."""
    root = ET.Element('annotation')
    if size is not None:
        s = ET.SubElement(root, 'size')
        ET.SubElement(s, 'width').text = str(size[0])
        ET.SubElement(s, 'height').text = str(size[1])
    if degradation is not None:
        ET.SubElement(root, 'degradation').text = degradation
    for synset, box, trackid in objects:
        obj = ET.SubElement(root, 'object')
        if trackid is not None:
            ET.SubElement(obj, 'trackid').text = str(trackid)
        ET.SubElement(obj, 'name').text = synset
        b = ET.SubElement(obj, 'bndbox')
        for tag, v in zip(('xmin', 'ymin', 'xmax', 'ymax'), box):
            ET.SubElement(b, tag).text = str(v)
    os.makedirs(osp.dirname(path), exist_ok=True)
    ET.ElementTree(root).write(path)


def _xml_path(root, frame, video=TRAIN_VIDEO):
    return osp.join(root, 'Annotations', 'VID', video, f'{frame:06d}.xml')


def _img_path(root, frame, video=TRAIN_VIDEO):
    return osp.join(root, 'Data', 'VID', video, f'{frame:06d}.JPEG')


def test_select_key_frames():
    assert select_key_frames(300) == list(range(10, 300, 20))
    keys = select_key_frames(40)
    assert len(keys) == 15 and keys == sorted(set(keys))
    assert 0 <= keys[0] and keys[-1] < 40
    assert select_key_frames(5) == [0, 1, 2, 3, 4]
    assert select_key_frames(12, 4) == [1, 4, 7, 10]
    with pytest.raises(ValueError, match='num_frames'):
        select_key_frames(0)


def test_imagenet_vid_class_table():
    assert len(IMAGENET_VID_CLASS_TABLE) == 30
    table = dict(IMAGENET_VID_CLASS_TABLE)
    assert table['n02691156'] == 'airplane'
    assert table['n02062744'] == 'whale'
    assert table['n02084071'] == 'dog'
    assert IMAGENET_VID_CLASSES[9] == 'domestic_cat'
    assert len(set(table.values())) == 30


def test_class_table_checks_and_files(tmp_path):
    with pytest.raises(ValueError, match='repeats'):
        check_class_table([('n1', 'a'), ('n1', 'b')])
    with pytest.raises(TypeError, match='pairs'):
        check_class_table([('n1', )])
    with pytest.raises(ValueError, match='empty'):
        check_class_table([])
    assert load_class_table('synthvid') == SYNTHVID_CLASS_TABLE
    f = tmp_path / 'classes.txt'
    f.write_text('n1 cat\n\nn2 dog\n')
    assert load_class_table(str(f)) == (('n1', 'cat'), ('n2', 'dog'))
    f.write_text('n1 cat dog\n')
    with pytest.raises(ValueError, match='classes.txt'):
        load_class_table(str(f))
    with pytest.raises(ValueError, match='class table'):
        load_class_table('no_such_table')


def test_class_table_given_as_a_string_is_refused():
    """A string would otherwise be read as one entry per character."""
    with pytest.raises(
            TypeError,
            match='class_table must be a sequence of .* but got the string '
            "'n1 cat'"):
        check_class_table('n1 cat')


@pytest.mark.parametrize('entry', [5, None])
def test_class_table_entry_that_is_not_a_pair_is_named(entry):
    with pytest.raises(
            TypeError,
            match=r'class_table entries must be \(synset, name\) pairs of '
            f'non-empty strings, but got {entry}'):
        check_class_table([('n1', 'cat'), entry])


def test_class_names_are_the_second_items_in_label_order():
    assert class_names(SYNTHVID_CLASS_TABLE) == SYNTHVID_CLASSES
    assert class_names([['n2', 'dog'], ('n1', 'cat')]) == ('dog', 'cat')


def test_vid_output_has_the_cocovid_fields(tiny_synthvid):
    with open(
            osp.join(tiny_synthvid, 'annotations',
                     'imagenet_vid_train.json')) as f:
        train = json.load(f)
    assert list(train) == ['categories', 'videos', 'images', 'annotations']
    assert train['categories'][0] == dict(
        id=1, name='disc', encode_name='n90000001')
    assert [v['name']
            for v in train['videos']] == [TRAIN_VIDEO, TRAIN_VIDEO[:-1] + '1']
    assert set(train['videos'][0]) == {'id', 'name', 'vid_train_frames'}
    for im in train['images']:
        assert set(im) == VID_IMAGE_KEYS
    assert [im['id'] for im in train['images']] == list(range(1, 25))
    first = train['images'][0]
    assert first['file_name'] == TRAIN_VIDEO + '/000000.JPEG'
    assert (first['height'], first['width'], first['frame_id']) == (48, 64, 0)
    assert sum(im['is_vid_train_frame'] for im in train['images']) == 24
    for ann in train['annotations']:
        assert set(ann) == VID_ANN_KEYS
        x, y, w, h = ann['bbox']
        assert ann['area'] == w * h and ann['iscrowd'] is False
    assert [a['id'] for a in train['annotations']
            ] == list(range(1,
                            len(train['annotations']) + 1))


def test_vid_boxes_tracks_and_degradations_match_xml(tiny_synthvid):
    coco = convert_vid(
        tiny_synthvid,
        'train',
        SYNTHVID_CLASS_TABLE,
        num_key_frames=4,
        show_progress=False)
    assert [
        im['frame_id'] for im in coco['images']
        if im['is_vid_train_frame'] and im['video_id'] == 1
    ] == [1, 4, 7, 10]
    assert coco['videos'][0]['vid_train_frames'] == [1, 4, 7, 10]
    synset2cat = {s: i for i, (s, _) in enumerate(SYNTHVID_CLASS_TABLE, 1)}
    track_of = {}
    for im in coco['images']:
        video = coco['videos'][im['video_id'] - 1]['name']
        info = parse_voc_xml(_xml_path(tiny_synthvid, im['frame_id'], video))
        assert im['degradation'] == info['degradation']
        anns = [a for a in coco['annotations'] if a['image_id'] == im['id']]
        assert len(anns) == len(info['objects'])
        for ann, obj in zip(anns, info['objects']):
            x1, y1, x2, y2 = obj['bbox']
            assert ann['bbox'] == [x1, y1, x2 - x1, y2 - y1]
            assert ann['category_id'] == synset2cat[obj['name']]
            assert ann['occluded'] == obj['occluded']
            key = (video, obj['trackid'])
            assert track_of.setdefault(key, ann['instance_id']) == \
                ann['instance_id']
    # Instance ids are unique across videos.
    assert len(set(track_of.values())) == len(track_of)


def test_val_has_no_key_frames_as_mmtrack_writes_it(tiny_synthvid):
    coco = convert_vid(
        tiny_synthvid, 'val', SYNTHVID_CLASS_TABLE, show_progress=False)
    assert len(coco['images']) == 24
    # mmtrack 1.0.0rc1's ImageNet VID dataset asserts this in test mode
    assert not any(im['is_vid_train_frame'] for im in coco['images'])
    assert all(video['vid_train_frames'] == [] for video in coco['videos'])
    assert coco['images'][0]['file_name'] == (
        'val/SynthVID_val_00000000/000000.JPEG')


def test_fgfa_key_frame_list(tiny_synthvid_copy, tmp_path):
    lst = tmp_path / 'VID_train_15frames.txt'

    def key_frames(lines):
        """(video_id, frame_id) of the key frames with ``lines`` as the
        list."""
        lst.write_text(lines)
        coco = _convert_train(tiny_synthvid_copy, key_frame_list=str(lst))
        return [(im['video_id'], im['frame_id']) for im in coco['images']
                if im['is_vid_train_frame']]

    assert key_frames(f'{TRAIN_VIDEO} 1 3 12\n{TRAIN_VIDEO} 1 10 12\n') == [
        (1, 2), (1, 9)
    ]
    # the video named without train/, as ImageSets and the DET image list
    # may be: the same key frames (it matched no video and left every
    # training video without key frames); both spellings are one video
    unprefixed = TRAIN_VIDEO[len('train/'):]
    for lines in (f'{unprefixed} 1 3 12\n{unprefixed} 1 10 12\n',
                  f'{unprefixed} 1 3 12\n{TRAIN_VIDEO} 1 10 12\n'):
        assert key_frames(lines) == [(1, 2), (1, 9)]


def test_fgfa_key_frame_list_is_checked(tiny_synthvid_copy, tmp_path,
                                        log_records):
    lst = tmp_path / 'VID_train_15frames.txt'

    def convert():
        return convert_vid(
            tiny_synthvid_copy,
            'train',
            SYNTHVID_CLASS_TABLE,
            key_frame_list=str(lst),
            show_progress=False)

    def convert_warning(lines, phrase):
        """Convert with ``lines`` as the list; the one warning logged
        with ``phrase``."""
        lst.write_text(lines)
        log_records.clear()
        coco = convert()
        warned = [r for r in log_records if phrase in r.getMessage()]
        assert len(warned) == 1 and warned[0].levelno == logging.WARNING
        return coco, warned[0].getMessage()

    # the video has 12 frames: 1-based 1..12
    lst.write_text(f'{TRAIN_VIDEO} 1 3 12\n\n{TRAIN_VIDEO} 1 13 12\n')
    with pytest.raises(
            ValueError,
            match=r'VID_train_15frames.txt, line 3: frame '
            f'13 .*outside video {TRAIN_VIDEO}'):
        convert()
    # frame 0 is before the first frame when read 1-based: left out, as
    # mmtrack leaves it out, with one warning naming its line
    coco, message = convert_warning(
        f'{TRAIN_VIDEO} 1 3 12\n\n{TRAIN_VIDEO} 1 0 12\n', 'give frame 0')
    assert '1 entries give frame 0 (first at line 3)' in message
    assert coco['videos'][0]['vid_train_frames'] == [2]
    lst.write_text(f'{TRAIN_VIDEO} 1 x 12\n')
    with pytest.raises(
            ValueError, match='VID_train_15frames.txt, line 1: cannot parse'):
        convert()
    # the second training video is not listed: one warning with the count
    coco, message = convert_warning(
        f'{TRAIN_VIDEO} 1 1 12\n{TRAIN_VIDEO} 1 12 12\n', 'key-frame list')
    assert '1 of the 2 training videos' in message
    assert coco['videos'][0]['vid_train_frames'] == [0, 11]
    assert coco['videos'][1]['vid_train_frames'] == []


def test_video_list_accepts_split_prefixes(tmp_path):
    sets = tmp_path / 'ImageSets' / 'VID'
    sets.mkdir(parents=True)
    (sets / 'train_1.txt').write_text('a/v1 1\ntrain/a/v2 1\n')
    # a/v1 is listed three times, once with the prefix: one video
    (sets / 'train_2.txt').write_text('a/v1 1\na/v3 -1\ntrain/a/v1 1\n')
    (sets / 'train_15frames.txt').write_text('x/y 1 2 3\n')
    (sets / 'val.txt').write_text('v9/000000 1\nv9/000001 2\nv8/000000 3\n'
                                  'val/v8/000001 4\n')
    assert read_vid_video_list(str(tmp_path),
                               'train') == ['train/a/v1', 'train/a/v2']
    assert read_vid_video_list(str(tmp_path), 'val') == ['val/v8', 'val/v9']


def test_missing_image_sets_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='ImageSets'):
        convert_vid(str(tmp_path), 'train', show_progress=False)
    with pytest.raises(FileNotFoundError, match='val.txt'):
        convert_vid(str(tmp_path), 'val', show_progress=False)


@pytest.mark.parametrize('split, listed', [('train', '/v1 -1\n'), ('val', '')])
def test_split_without_videos_names_its_list(tmp_path, split, listed):
    # an empty split would convert to a file that fails only at loading
    sets = tmp_path / 'ImageSets' / 'VID'
    sets.mkdir(parents=True)
    (sets /
     ('train_1.txt' if split == 'train' else 'val.txt')).write_text(listed)
    with pytest.raises(ValueError, match=f'VID {split}: .* lists no videos'):
        convert_vid(str(tmp_path), split, show_progress=False)


def test_malformed_xml_names_the_file(tiny_synthvid_copy):
    path = _xml_path(tiny_synthvid_copy, 5)
    with open(path, 'w') as f:
        f.write('<annotation><size><width>64</width>')
    with pytest.raises(ValueError, match='000005.xml'):
        convert_vid(
            tiny_synthvid_copy,
            'train',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)


@pytest.mark.parametrize('box,match', [((5, 5, 'x', 9), 'not a number'),
                                       ((9, 5, 5, 9), 'reversed box')])
def test_bad_boxes_name_the_file(tiny_synthvid_copy, box, match):
    _xml(_xml_path(tiny_synthvid_copy, 3), [('n90000001', box, 0)])
    with pytest.raises(ValueError, match=f'000003.xml.*{match}'):
        convert_vid(
            tiny_synthvid_copy,
            'train',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)


def test_missing_frame_in_a_video_is_an_error(tiny_synthvid_copy):
    os.remove(_xml_path(tiny_synthvid_copy, 4))
    with pytest.raises(ValueError, match='000004.xml'):
        convert_vid(
            tiny_synthvid_copy,
            'train',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)


VAL_VIDEO = 'val/SynthVID_val_00000000'


def test_train_video_cut_short_at_the_end_is_an_error(tiny_synthvid_copy):
    """Its last XMLs lost (JPEGs there): before, 10 frames, an INFO line."""
    for frame in (10, 11):
        os.remove(_xml_path(tiny_synthvid_copy, frame))
    with pytest.raises(
            ValueError,
            match=f'video {TRAIN_VIDEO}: 2 JPEG frames .* have no annotation '
            r'XML \(000010.JPEG, 000011.JPEG\); .* holds frames '
            '000000..000009 only'):
        _convert_train(tiny_synthvid_copy)


@pytest.mark.parametrize('remove_jpeg', [False, True])
def test_val_video_cut_short_names_the_val_list_line(tiny_synthvid_copy,
                                                     remove_jpeg):
    """val.txt lists the frame; also caught when its JPEG is gone too."""
    root = tiny_synthvid_copy
    os.remove(_xml_path(root, 11, VAL_VIDEO))
    if remove_jpeg:
        os.remove(_img_path(root, 11, VAL_VIDEO))
    with pytest.raises(
            ValueError,
            match=r'val.txt, line 12: video val/SynthVID_val_00000000 lists '
            r'1 frames without an annotation XML \(000011\)'):
        convert_vid(root, 'val', SYNTHVID_CLASS_TABLE, show_progress=False)


def test_val_list_must_list_every_annotated_frame(tiny_synthvid_copy):
    path = osp.join(tiny_synthvid_copy, 'ImageSets', 'VID', 'val.txt')
    with open(path) as f:
        lines = f.readlines()
    with open(path, 'w') as f:
        f.writelines(
            line for line in lines
            if not line.startswith('SynthVID_val_00000000/000005 '))
    with pytest.raises(
            ValueError,
            match=r'val.txt: video val/SynthVID_val_00000000 has 1 annotated '
            r'frames that are not listed \(000005\)'):
        convert_vid(
            tiny_synthvid_copy,
            'val',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)
    # no frame; a digit that int() refuses
    for bad in ('SynthVID_val_00000000 13\n',
                'SynthVID_val_00000000/00000\u00b2 13\n'):
        with open(path, 'w', encoding='utf-8') as f:
            f.writelines(lines + [bad])
        with pytest.raises(
                ValueError,
                match=f'val.txt, line {len(lines) + 1}: cannot parse'):
            convert_vid(
                tiny_synthvid_copy,
                'val',
                SYNTHVID_CLASS_TABLE,
                show_progress=False)


def test_video_without_image_directory_converts_with_a_warning(
        tiny_synthvid_copy, log_records):
    """Images are only read when asked: annotations alone still convert."""
    shutil.rmtree(osp.dirname(_img_path(tiny_synthvid_copy, 0)))
    assert len(_convert_train(tiny_synthvid_copy)['images']) == 24
    warned = [
        r.getMessage() for r in log_records
        if 'no image directory' in r.getMessage()
    ]
    assert len(warned) == 1
    assert warned[0].startswith('VID train: 1 videos have no image directory')
    assert TRAIN_VIDEO in warned[0]


def test_video_without_frames_is_an_error(tiny_synthvid_copy):
    ann_dir = osp.dirname(_xml_path(tiny_synthvid_copy, 0))
    for name in os.listdir(ann_dir):
        os.remove(osp.join(ann_dir, name))
    with pytest.raises(ValueError, match='no frames.*SynthVID_train_0+\\b'):
        convert_vid(
            tiny_synthvid_copy,
            'train',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)


def test_video_without_objects_is_kept(tiny_synthvid_copy):
    for t in range(12):
        _xml(_xml_path(tiny_synthvid_copy, t), [], degradation='none')
    coco = convert_vid(
        tiny_synthvid_copy, 'train', SYNTHVID_CLASS_TABLE, show_progress=False)
    assert sum(im['video_id'] == 1 for im in coco['images']) == 12
    assert not any(a['video_id'] == 1 for a in coco['annotations'])
    assert any(a['video_id'] == 2 for a in coco['annotations'])


def test_frame_of_another_size_is_an_error(tiny_synthvid_copy):
    _xml(_xml_path(tiny_synthvid_copy, 7), [], size=(80, 48))
    with pytest.raises(ValueError, match='000007.xml.*80x48.*64x48'):
        convert_vid(
            tiny_synthvid_copy,
            'train',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)


def test_unknown_synset_is_an_error_or_a_counted_skip(tiny_synthvid_copy,
                                                      log_records):
    _xml(
        _xml_path(tiny_synthvid_copy, 2), [('n01234567', (1, 1, 9, 9), 7),
                                           ('n90000002', (2, 2, 8, 8), 8)])
    with pytest.raises(ValueError, match='000002.xml.*n01234567'):
        convert_vid(
            tiny_synthvid_copy,
            'train',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)
    coco = convert_vid(
        tiny_synthvid_copy,
        'train',
        SYNTHVID_CLASS_TABLE,
        unknown_classes='skip',
        show_progress=False)
    anns = [a for a in coco['annotations'] if a['image_id'] == 3]
    assert [(a['category_id'], a['bbox']) for a in anns] == [(2, [2, 2, 6, 6])]
    summary = log_records[-1].getMessage()
    assert summary.startswith('VID train: ')
    assert '  skipped unknown class: 1\n' in summary
    # The ImageNet table does not know SynthVID's synsets.
    with pytest.raises(ValueError, match='n9000000'):
        convert_vid(
            tiny_synthvid_copy,
            'train',
            IMAGENET_VID_CLASS_TABLE,
            show_progress=False)


def test_skipped_synset_does_not_count_for_the_val_trackid_check(
        tiny_synthvid_copy):
    """A box of a synset outside the table is not written with
    ``unknown_classes='skip'``, so its trackid cannot clash with a kept
    box's."""
    _xml(
        _xml_path(tiny_synthvid_copy, 2, VAL_VIDEO),
        [('n01234567', (1, 1, 9, 9), 4), ('n90000002', (2, 2, 8, 8), 4)])
    coco = convert_vid(
        tiny_synthvid_copy,
        'val',
        SYNTHVID_CLASS_TABLE,
        unknown_classes='skip',
        show_progress=False)
    image_id = next(im['id'] for im in coco['images']
                    if im['file_name'] == f'{VAL_VIDEO}/000002.JPEG')
    assert [(a['category_id'], a['bbox']) for a in coco['annotations']
            if a['image_id'] == image_id] == [(2, [2, 2, 6, 6])]
    # with 'error' the unknown synset is what is named
    with pytest.raises(ValueError, match='000002.xml: synset n01234567'):
        convert_vid(
            tiny_synthvid_copy,
            'val',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)


def test_object_nested_in_another_element_is_not_a_box(tmp_path):
    """Only the annotation's own ``<object>`` children are boxes, as
    mmtrack reads them."""
    path = str(tmp_path / 'a.xml')
    _xml(path, [('n90000002', (2, 2, 8, 8), 0)])
    tree = ET.parse(path)
    part = ET.SubElement(tree.getroot().find('object'), 'part')
    nested = ET.SubElement(part, 'object')
    ET.SubElement(nested, 'name').text = 'n90000001'
    box = ET.SubElement(nested, 'bndbox')
    for tag, v in zip(('xmin', 'ymin', 'xmax', 'ymax'), (3, 3, 5, 5)):
        ET.SubElement(box, tag).text = str(v)
    tree.write(path)
    objects = parse_voc_xml(path)['objects']
    assert [(o['name'], o['bbox'])
            for o in objects] == [('n90000002', (2, 2, 8, 8))]


def test_missing_trackid_is_an_error(tiny_synthvid_copy):
    _xml(_xml_path(tiny_synthvid_copy, 2), [('n90000002', (2, 2, 8, 8), None)])
    with pytest.raises(ValueError, match='000002.xml.*trackid'):
        convert_vid(
            tiny_synthvid_copy,
            'train',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)


def test_check_images_catches_missing_corrupt_and_resized_images(
        tiny_synthvid_copy):
    root = tiny_synthvid_copy
    kwargs = dict(
        class_table=SYNTHVID_CLASS_TABLE,
        check_images=True,
        show_progress=False)
    assert len(convert_vid(root, 'train', **kwargs)['images']) == 24
    os.remove(_img_path(root, 6))
    # Sizes come from the XML, so without the check nothing is read.
    assert len(
        convert_vid(root, 'train', SYNTHVID_CLASS_TABLE,
                    show_progress=False)['images']) == 24
    with pytest.raises(FileNotFoundError, match='000006.JPEG'):
        convert_vid(root, 'train', **kwargs)
    with open(_img_path(root, 6), 'wb') as f:
        f.write(b'not a jpeg at all')
    with pytest.raises(ValueError, match='000006.JPEG'):
        convert_vid(root, 'train', **kwargs)
    cv2.imwrite(_img_path(root, 6), np.zeros((40, 64, 3), np.uint8))
    with pytest.raises(ValueError, match='000006.JPEG is 64x40'):
        convert_vid(root, 'train', **kwargs)


def test_check_images_lists_every_image_of_another_size(tiny_synthvid_copy):
    root = tiny_synthvid_copy
    for frame_id in (2, 7):
        cv2.imwrite(_img_path(root, frame_id), np.zeros((40, 64, 3), np.uint8))
    with pytest.raises(ValueError) as error:
        convert_vid(
            root,
            'train',
            SYNTHVID_CLASS_TABLE,
            check_images=True,
            show_progress=False)
    lines = str(error.value).splitlines()
    assert lines[0].startswith('VID train: 2 images differ in size')
    assert [line.split('/')[-1] for line in lines[1:]
            ] == ['000002.xml says 64x48', '000007.xml says 64x48']
    assert all(' is 64x40 but ' in line for line in lines[1:])


def test_check_images_reads_the_stored_pixels_not_the_exif_turn(
        tiny_synthvid_copy):
    from PIL import Image
    root = tiny_synthvid_copy
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90 degrees: shown as 48x64
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(
        _img_path(root, 3), format='JPEG', exif=exif.tobytes())
    coco = convert_vid(
        root,
        'train',
        SYNTHVID_CLASS_TABLE,
        check_images=True,
        show_progress=False)
    assert (coco['images'][3]['width'], coco['images'][3]['height']) == (64,
                                                                         48)


def test_size_is_read_from_the_image_when_the_xml_has_none(tiny_synthvid_copy):
    root = tiny_synthvid_copy
    _xml(_xml_path(root, 0), [], size=None)
    coco = convert_vid(
        root, 'train', SYNTHVID_CLASS_TABLE, show_progress=False)
    assert (coco['images'][0]['width'], coco['images'][0]['height']) == (64,
                                                                         48)
    os.remove(_img_path(root, 0))
    with pytest.raises(FileNotFoundError, match='000000.JPEG'):
        convert_vid(root, 'train', SYNTHVID_CLASS_TABLE, show_progress=False)


def _make_det(root):
    """Four DET images: table class, mixed, only-other, negative-listed."""
    names = {
        'ILSVRC2013_train/n90000001/n90000001_1':
        [('n90000001', (1, 2, 11, 12))],
        'ILSVRC2014_train_0000/ILSVRC2014_train_00000001':
        [('n90000003', (0, 0, 5, 5)), ('n77777777', (3, 3, 9, 9))],
        'ILSVRC2014_train_0000/ILSVRC2014_train_00000002':
        [('n77777777', (3, 3, 9, 9))],
        'ILSVRC2014_train_0000/ILSVRC2014_train_00000003':
        [('n90000002', (1, 1, 4, 4))],
    }
    for name, objs in names.items():
        _xml(
            osp.join(root, 'Annotations', 'DET', 'train', name + '.xml'),
            [(s, b, None) for s, b in objs],
            size=(32, 24))
        img_path = osp.join(root, 'Data', 'DET', 'train', name + '.JPEG')
        os.makedirs(osp.dirname(img_path), exist_ok=True)
        cv2.imwrite(img_path, np.zeros((24, 32, 3), np.uint8))
    sets = osp.join(root, 'ImageSets', 'DET')
    os.makedirs(sets)
    keys = list(names)
    with open(osp.join(sets, 'train_1.txt'), 'w') as f:
        f.write(f'{keys[0]} 1\n{keys[1]} 1\n{keys[3]} -1\n')
    with open(osp.join(sets, 'train_7.txt'), 'w') as f:
        f.write(f'{keys[2]} 1\n')
    return keys


def test_det_conversion_restricts_to_the_class_table(tmp_path):
    keys = _make_det(str(tmp_path))
    coco = convert_det(
        str(tmp_path),
        SYNTHVID_CLASS_TABLE,
        check_images=True,
        show_progress=False)
    assert list(coco) == ['categories', 'images', 'annotations']
    assert coco['categories'][-1] == dict(
        id=5, name='other_categeries', encode_name=None)
    assert [im['file_name'] for im in coco['images']
            ] == [f'train/{keys[0]}.JPEG', f'train/{keys[1]}.JPEG']
    for im in coco['images']:
        assert set(im) == {
            'file_name', 'height', 'width', 'id', 'is_vid_train_frame'
        }
        assert im['is_vid_train_frame'] is True
        assert (im['height'], im['width']) == (24, 32)
    assert [(a['image_id'], a['category_id'], a['bbox'], a['instance_id'])
            for a in coco['annotations']] == [(1, 1, [1, 2, 10, 10], -1),
                                              (2, 3, [0, 0, 5, 5], -1),
                                              (2, 5, [3, 3, 6, 6], -1)]
    # Restricting the image sets by class index: train_7.txt lists only an
    # image without a class of the table, and an empty file is refused.
    with pytest.raises(
            ValueError,
            match='none of the 1 listed images .* has an object '
            'of the class table'):
        convert_det(
            str(tmp_path),
            SYNTHVID_CLASS_TABLE,
            class_indices=[7],
            show_progress=False)
    with pytest.raises(FileNotFoundError, match='train_3.txt'):
        convert_det(
            str(tmp_path),
            SYNTHVID_CLASS_TABLE,
            class_indices=[3],
            show_progress=False)


def test_det_image_sets_give_an_image_once_with_or_without_prefix(
        tmp_path, log_records):
    """The per-class ImageSets name an image once per class; one written
    with ``train/`` and once without is still one image entry."""
    keys = _make_det(str(tmp_path))
    sets = tmp_path / 'ImageSets' / 'DET'
    (sets / 'train_2.txt').write_text(f'train/{keys[0]} 1\n{keys[1]} 1\n')
    coco = convert_det(
        str(tmp_path), SYNTHVID_CLASS_TABLE, show_progress=False)
    assert [im['file_name'] for im in coco['images']
            ] == [f'train/{keys[0]}.JPEG', f'train/{keys[1]}.JPEG']
    assert not [r for r in log_records if r.levelno == logging.WARNING]


def test_det_image_list_and_missing_xml(tmp_path):
    keys = _make_det(str(tmp_path))
    lst = tmp_path / 'DET_train_30classes.txt'
    lst.write_text(f'train/{keys[3]} 1\n')
    coco = convert_det(
        str(tmp_path),
        SYNTHVID_CLASS_TABLE,
        image_list=str(lst),
        show_progress=False)
    assert [im['file_name']
            for im in coco['images']] == [f'train/{keys[3]}.JPEG']
    lst.write_text('train/ILSVRC2013_train/n1/missing 1\n')
    with pytest.raises(FileNotFoundError, match='missing.xml'):
        convert_det(
            str(tmp_path),
            SYNTHVID_CLASS_TABLE,
            image_list=str(lst),
            show_progress=False)


def test_det_image_list_keeps_a_repeated_image_as_often_as_listed(
        tmp_path, log_records):
    """A sampling list that names an image twice (with or without the
    ``train/`` prefix) gives two image entries, as mmtrack's converter
    writes them; a warning counts the repeats of the kept images."""
    keys = _make_det(str(tmp_path))
    lst = tmp_path / 'DET_train_30classes.txt'
    lst.write_text(f'train/{keys[3]} 1\ntrain/{keys[0]} 1\n{keys[3]} 3\n'
                   f'{keys[2]} 1\n{keys[2]} 2\n')
    coco = convert_det(
        str(tmp_path),
        SYNTHVID_CLASS_TABLE,
        image_list=str(lst),
        show_progress=False)
    assert [(im['id'], im['file_name'])
            for im in coco['images']] == [(1, f'train/{keys[0]}.JPEG'),
                                          (2, f'train/{keys[3]}.JPEG'),
                                          (3, f'train/{keys[3]}.JPEG')]
    assert [(a['image_id'], a['bbox'])
            for a in coco['annotations']] == [(1, [1, 2, 10, 10]),
                                              (2, [1, 1, 3, 3]),
                                              (3, [1, 1, 3, 3])]
    warnings = [
        r.getMessage() for r in log_records if r.levelno == logging.WARNING
    ]
    # keys[2] has no object of the class table: left out, and not counted
    # as repeated
    assert any(f'DET: 1 images are listed more than once in {lst} (e.g. '
               f'train/{keys[3]}.JPEG)' in w for w in warnings), warnings
    summary = '\n'.join(r.getMessage() for r in log_records)
    assert 'images without table class: 1' in summary


def test_vid_cli_writes_both_splits(tiny_synthvid, tmp_path):
    cli = _load_tool('imagenet2coco_vid')
    cli.main([
        '-i', tiny_synthvid, '-o',
        str(tmp_path), '--classes', 'synthvid', '--check-images'
    ])
    for split in ('train', 'val'):
        with open(tmp_path / f'imagenet_vid_{split}.json') as f:
            ref = json.load(f)
        with open(
                osp.join(tiny_synthvid, 'annotations',
                         f'imagenet_vid_{split}.json')) as f:
            assert json.load(f) == ref


def test_det_cli_writes_30plus1cls(tmp_path):
    _make_det(str(tmp_path))
    classes = tmp_path / 'classes.txt'
    classes.write_text(''.join(f'{s} {n}\n' for s, n in SYNTHVID_CLASS_TABLE))
    cli = _load_tool('imagenet2coco_det')
    cli.main([
        '-i',
        str(tmp_path), '-o',
        str(tmp_path / 'ann'), '--classes',
        str(classes)
    ])
    with open(tmp_path / 'ann' / 'imagenet_det_30plus1cls.json') as f:
        coco = json.load(f)
    assert len(coco['images']) == 2 and len(coco['categories']) == 5


def _convert_train(root, **kwargs):
    return convert_vid(
        root, 'train', SYNTHVID_CLASS_TABLE, show_progress=False, **kwargs)


def _set_object_tag(path, tag, text):
    """Set ``<tag>`` of the first ``<object>`` of an XML file."""
    tree = ET.parse(path)
    obj = tree.getroot().find('object')
    node = obj.find(tag)
    if node is None:
        node = ET.SubElement(obj, tag)
    node.text = text
    tree.write(path)


@pytest.mark.parametrize('box,tag', [(('nan', 5, 9, 9), 'xmin'),
                                     ((5, 'inf', 9, 9), 'ymin'),
                                     ((5, 5, 'Infinity', 9), 'xmax'),
                                     ((5, 5, 9, '-inf'), 'ymax')])
def test_non_finite_box_number_names_the_file_and_field(
        tiny_synthvid_copy, box, tag):
    _xml(_xml_path(tiny_synthvid_copy, 3), [('n90000001', box, 0)])
    with pytest.raises(
            ValueError, match=f'000003.xml: <{tag}> is not a finite number'):
        _convert_train(tiny_synthvid_copy)


@pytest.mark.parametrize('size,tag', [(('64.7', 48), 'width'),
                                      ((64, '47.5'), 'height')])
def test_image_size_of_a_fraction_of_a_pixel_names_the_file(
        tiny_synthvid_copy, size, tag):
    """64.7 would otherwise be cut to 64 without a word."""
    path = _xml_path(tiny_synthvid_copy, 2)
    _xml(path, [('n90000001', (5, 5, 9, 9), 0)], size=size)
    with pytest.raises(
            ValueError,
            match=f'000002.xml: <{tag}> is not a whole number of pixels'):
        parse_voc_xml(path)
    _xml(path, [('n90000001', (5, 5, 9, 9), 0)], size=('64.0', 48))
    assert parse_voc_xml(path)['width'] == 64


@pytest.mark.parametrize('tag', ['occluded', 'generated'])
@pytest.mark.parametrize('text', ['yes', '2', 'true'])
def test_flag_other_than_0_or_1_names_the_file(tiny_synthvid_copy, tag, text):
    path = _xml_path(tiny_synthvid_copy, 4)
    _xml(path, [('n90000001', (5, 5, 9, 9), 0)])
    _set_object_tag(path, tag, text)
    with pytest.raises(
            ValueError,
            match=f"000004.xml: <{tag}> of <object> n90000001 is '{text}'; "
            'expected 0 or 1'):
        _convert_train(tiny_synthvid_copy)
    _set_object_tag(path, tag, '1')
    info = parse_voc_xml(path)
    assert info['objects'][0][tag] is True


def test_same_trackid_twice_in_a_frame_is_kept_in_train_refused_in_val(
        tiny_synthvid_copy, log_records):
    """Training uses no track: the two boxes share the track's instance, as
    mmtrack writes them. A val track's motion IoU would be ambiguous."""
    objects = [('n90000001', (1, 1, 9, 9), 3),
               ('n90000002', (20, 20, 30, 30), 3)]
    _xml(_xml_path(tiny_synthvid_copy, 6), objects)
    coco = _convert_train(tiny_synthvid_copy)
    image_id = next(im['id'] for im in coco['images']
                    if im['file_name'] == f'{TRAIN_VIDEO}/000006.JPEG')
    boxes = [(a['bbox'], a['instance_id']) for a in coco['annotations']
             if a['image_id'] == image_id]
    assert [b for b, _ in boxes] == [[1, 1, 8, 8], [20, 20, 10, 10]]
    assert boxes[0][1] == boxes[1][1]
    warnings = [
        r.getMessage() for r in log_records if r.levelno == logging.WARNING
    ]
    assert any(
        'VID train: 1 frames give a trackid to two or more objects (first: '
        f'{_xml_path(tiny_synthvid_copy, 6)})' in w for w in warnings)
    _xml(_xml_path(tiny_synthvid_copy, 2, VAL_VIDEO), objects)
    with pytest.raises(
            ValueError,
            match='000002.xml: trackid 3 is given to 2 objects of the '
            'frame; a val track has one box per frame'):
        convert_vid(
            tiny_synthvid_copy,
            'val',
            SYNTHVID_CLASS_TABLE,
            show_progress=False)


def test_trackid_that_changes_class_stays_one_instance_as_in_mmtrack(
        tiny_synthvid_copy, log_records):
    """mmtrack maps a <trackid> to one instance whatever its class: the
    boxes follow one object, and the motion IoU uses only the boxes."""
    for frame, synset in ((3, 'n90000001'), (4, 'n90000001'), (5, 'n90000002'),
                          (6, 'n90000001')):
        _xml(
            _xml_path(tiny_synthvid_copy, frame),
            [(synset, (40, 30, 50, 40), 77)])
    coco = _convert_train(tiny_synthvid_copy)
    tracked = [(a['category_id'], a['instance_id'])
               for a in coco['annotations'] if a['bbox'] == [40, 30, 10, 10]]
    assert [c for c, _ in tracked] == [1, 1, 2, 1]
    assert len({i for _, i in tracked}) == 1
    warnings = [
        r.getMessage() for r in log_records if r.levelno == logging.WARNING
    ]
    assert 'VID train: 1 trackids change class within their video; each ' \
        'stays one instance' in '\n'.join(warnings)


def test_boxes_beyond_the_image_warn_once_per_video(tiny_synthvid_copy,
                                                    log_records):
    root = tiny_synthvid_copy  # 64x48 frames
    _xml(
        _xml_path(root, 3), [('n90000001', (10, 10, 500, 30), 0),
                             ('n90000002', (0, 0, 64, 48), 1)])
    _xml(
        _xml_path(root, 5), [('n90000001', (-5, 10, 30, 30), 0),
                             ('n90000002', (-1, 0, 65, 49), 1)])
    coco = _convert_train(root)
    warned = [r for r in log_records if 'beyond the image' in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    # Touching the border or 1 px past it is not counted.
    assert warned[0].getMessage().startswith(
        f'video {TRAIN_VIDEO}: 2 boxes extend more than 1 px beyond')
    assert _xml_path(root, 3) in warned[0].getMessage()
    # Kept as they are, not clipped.
    assert [10, 10, 490, 20] in [a['bbox'] for a in coco['annotations']]


def test_det_boxes_beyond_the_image_warn_once(tmp_path, log_records):
    keys = _make_det(str(tmp_path))  # 32x24 images
    xml_path = osp.join(tmp_path, 'Annotations', 'DET', 'train',
                        keys[0] + '.xml')
    _xml(xml_path, [('n90000001', (1, 2, 40, 12), None)], size=(32, 24))
    convert_det(str(tmp_path), SYNTHVID_CLASS_TABLE, show_progress=False)
    warned = [r for r in log_records if 'beyond the image' in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].getMessage().startswith('DET: 1 boxes extend')


def test_fgfa_key_frame_list_warns_of_missing_videos_and_names_wrong_lengths(
        tiny_synthvid_copy, tmp_path, log_records):
    lst = tmp_path / 'VID_train_15frames.txt'
    other = TRAIN_VIDEO[:-1] + '1'
    # a typo in the video name: one warning (it changes no converted data)
    lst.write_text(f'{TRAIN_VIDEO} 1 3 12\n{other} 1 3 12\n'
                   f'{TRAIN_VIDEO}x 1 4 12\n')
    log_records.clear()
    _convert_train(tiny_synthvid_copy, key_frame_list=str(lst))
    warned = [
        r.getMessage() for r in log_records
        if 'do not exist' in r.getMessage()
    ]
    assert len(warned) == 1, warned
    assert (f'1 listed videos do not exist under Annotations/VID (first: '
            f'{TRAIN_VIDEO}x at line 3' in warned[0])
    # the frame-count column disagrees with the video's 12 frames
    lst.write_text(f'{TRAIN_VIDEO} 1 3 12\n{other} 1 3 300\n')
    with pytest.raises(
            ValueError,
            match='VID_train_15frames.txt, line 2: gives 300 frames for '
            f'video {other}, which has 12 frames'):
        _convert_train(tiny_synthvid_copy, key_frame_list=str(lst))
    # no frame-count column
    lst.write_text(f'{TRAIN_VIDEO} 1 3\n')
    with pytest.raises(
            ValueError, match='VID_train_15frames.txt, line 1: cannot parse'):
        _convert_train(tiny_synthvid_copy, key_frame_list=str(lst))
    # a listed video that exists but is not in ImageSets: one warning
    sets = osp.join(tiny_synthvid_copy, 'ImageSets', 'VID')
    for name in os.listdir(sets):
        if name.startswith('train_'):
            with open(osp.join(sets, name)) as f:
                kept = [ln for ln in f if not ln.startswith(other[6:])]
            with open(osp.join(sets, name), 'w') as f:
                f.writelines(kept)
    lst.write_text(f'{TRAIN_VIDEO} 1 3 12\n{other} 1 3 12\n')
    log_records.clear()
    coco = _convert_train(tiny_synthvid_copy, key_frame_list=str(lst))
    assert [v['name'] for v in coco['videos']] == [TRAIN_VIDEO]
    warned = [r for r in log_records if 'not in ImageSets' in r.getMessage()]
    assert len(warned) == 1 and '1 listed videos' in warned[0].getMessage()


def _remove_object_child(path, tag):
    """Remove ``<tag>`` from the first ``<object>`` of an XML file."""
    tree = ET.parse(path)
    obj = tree.getroot().find('object')
    obj.remove(obj.find(tag))
    tree.write(path)


@pytest.mark.parametrize('tag', ['name', 'bndbox'])
def test_object_without_name_or_box_names_the_file(tiny_synthvid_copy, tag):
    path = _xml_path(tiny_synthvid_copy, 3)
    _xml(path, [('n90000001', (5, 5, 9, 9), 0)])
    _remove_object_child(path, tag)
    match = {
        'name': '000003.xml: <object> has no <name> value',
        'bndbox': '000003.xml: <object> n90000001 has no <bndbox>'
    }[tag]
    with pytest.raises(ValueError, match=match):
        _convert_train(tiny_synthvid_copy)


@pytest.mark.parametrize('size', [(0, 48), (64, -48)])
def test_image_size_that_is_not_positive_names_the_file(
        tiny_synthvid_copy, size):
    path = _xml_path(tiny_synthvid_copy, 2)
    _xml(path, [('n90000001', (5, 5, 9, 9), 0)], size=size)
    with pytest.raises(
            ValueError,
            match=f'000002.xml: image size {size[0]}x{size[1]} is not '
            'positive'):
        _convert_train(tiny_synthvid_copy)


def test_split_other_than_train_or_val_is_refused(tmp_path):
    with pytest.raises(
            ValueError, match="split must be 'train' or 'val', got 'test'"):
        convert_vid(str(tmp_path), 'test', show_progress=False)


def test_unknown_classes_other_than_error_or_skip_is_refused(tmp_path):
    with pytest.raises(
            ValueError,
            match="unknown_classes must be 'error' or 'skip', got 'drop'"):
        convert_vid(
            str(tmp_path),
            'train',
            unknown_classes='drop',
            show_progress=False)


def test_val_frame_list_skips_blank_lines_and_counts_them(tmp_path):
    sets = tmp_path / 'ImageSets' / 'VID'
    sets.mkdir(parents=True)
    (sets / 'val.txt').write_text('v9/000000 1\n\n  \nv9/000001 2\n'
                                  'v8/000000 3\n')
    # frame -> line number, as the messages name the lines
    assert read_val_frame_list(str(tmp_path)) == {
        'val/v9': {
            0: 1,
            1: 4
        },
        'val/v8': {
            0: 5
        }
    }


def test_fgfa_key_frames_are_0_based_per_video(tmp_path):
    lst = tmp_path / 'VID_train_15frames.txt'
    lst.write_text('a/v1 1 3 12\n\na/v1 1 10 12\nb/v2 1 1 5\n')
    assert read_fgfa_key_frames(str(lst)) == {'a/v1': [2, 9], 'b/v2': [0]}


def test_listed_video_without_annotation_directory_names_it(
        tiny_synthvid_copy):
    ann_dir = osp.dirname(_xml_path(tiny_synthvid_copy, 0))
    shutil.rmtree(ann_dir)
    with pytest.raises(
            FileNotFoundError,
            match=f'video annotation dir not found: {re.escape(ann_dir)}$'):
        _convert_train(tiny_synthvid_copy)


def test_det_without_image_sets_names_the_folder(tmp_path):
    with pytest.raises(
            FileNotFoundError,
            match=r'no ImageSets/DET/train_<k>\.txt files in ' +
            re.escape(osp.join(str(tmp_path), 'ImageSets', 'DET'))):
        convert_det(str(tmp_path), SYNTHVID_CLASS_TABLE, show_progress=False)
