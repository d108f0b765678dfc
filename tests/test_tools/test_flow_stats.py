# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/flow_stats.py: a memory model's FlowNet against the
motion of the objects."""
import math
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.fileio import load
from mmengine.registry import init_default_scope

from memvid_mm.datasets import (SYNTHVID_CLASS_TABLE, VID_ANN_FILES,
                                convert_vid, generate_synthvid, save_json)
from . import REPO_ROOT, load_tool

MEMNET_CFG = osp.join(
    REPO_ROOT,
    'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')
RFCN_CFG = osp.join(REPO_ROOT,
                    'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py')


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/analysis_tools/flow_stats.py')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """SynthVID val: 1 video of 4 frames at 160x96."""
    root = str(tmp_path_factory.mktemp('synthvid'))
    generate_synthvid(
        root,
        num_train_videos=1,
        num_val_videos=1,
        num_frames=4,
        width=160,
        height=96,
        seed=3)
    save_json(
        convert_vid(root, 'val', SYNTHVID_CLASS_TABLE),
        osp.join(root, 'annotations', VID_ANN_FILES['val']))
    return root


def centre_motions(ann_file, frame_pairs):
    """Box-centre motion of every track between the frames of each pair."""
    coco = load(ann_file)
    image_id = {img['frame_id']: img['id'] for img in coco['images']}
    boxes = {}
    for ann in coco['annotations']:
        boxes.setdefault(ann['image_id'], {})[ann['instance_id']] = ann['bbox']
    motions = []
    for cur, prev in frame_pairs:
        for track, (x, y, w, h) in boxes.get(image_id[cur], {}).items():
            if track in boxes.get(image_id[prev], {}) and w >= 1 and h >= 1:
                px, py, pw, ph = boxes[image_id[prev]][track]
                motions.append(
                    math.hypot(px + pw / 2 - x - w / 2,
                               py + ph / 2 - y - h / 2))
    return motions


def test_reports_flow_and_object_motion(tool, data_root, tmp_path, capsys):
    init_default_scope('mmdet')
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'memnet.pth')
    torch.save(
        dict(
            state_dict=MODELS.build(Config.fromfile(
                MEMNET_CFG).model).state_dict()), checkpoint)
    stats = tool.main(
        [MEMNET_CFG, checkpoint, '--data-root', data_root, '--pairs', '2'])
    # 3 consecutive pairs; the first 2: frames (1, 0) and (2, 1)
    assert len(stats['flow_image']) == 2
    assert (stats['flow_image'] >= 0).all()
    expected = centre_motions(
        osp.join(data_root, 'annotations', VID_ANN_FILES['val']), [(1, 0),
                                                                   (2, 1)])
    assert expected and sorted(stats['object_motion']) == pytest.approx(
        sorted(expected))
    assert '2 consecutive frame pairs' in capsys.readouterr().out


def test_refuses_a_model_without_flownet_and_no_pairs(tool, data_root):
    with pytest.raises(ValueError, match='model has no motion network'):
        tool.main([RFCN_CFG, 'unused.pth', '--data-root', data_root])
    with pytest.raises(SystemExit):
        tool.main([MEMNET_CFG, 'unused.pth', '--pairs', '0'])


def test_names_a_frame_it_cannot_read(tool, tmp_path):
    broken = tmp_path / 'broken.JPEG'
    broken.write_bytes(b'\xff\xd8 not a jpeg')
    with pytest.raises(ValueError, match=f'cannot read the frame {broken}'):
        tool.read_frame(str(broken))
