# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/test_true_flow_synthvid.py: the true flow in place
of FlowNet, under the stock test loop."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.fileio import load
from mmengine.registry import init_default_scope

from memvid_mm.datasets import (SYNTHVID_CLASS_TABLE, VID_ANN_FILES,
                                convert_vid, generate_synthvid, render_split,
                                save_json)
from memvid_mm.evaluation import dataset_ann_file
from memvid_mm.evaluation.functional import file_sha256
from . import REPO_ROOT, load_tool

MEMNET_CFG = osp.join(
    REPO_ROOT,
    'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/analysis_tools/test_true_flow_synthvid.py')


@pytest.fixture(scope='module')
def motion():
    """The geometry of SynthVID val video 0 (4 frames, 64x48, seed 5)."""
    return next(iter(render_split('val', 1, 4, 64, 48, seed=5)))[3]


def registered_frames(tool, motion, num, padded_shape):
    """A TrueFlow of video 0 (rendered 64x48) with ``num`` frames of
    ``padded_shape`` (H, W) registered; the TrueFlow and the frames."""
    true_flow = tool.TrueFlow({'SynthVID_val_00000000': motion}, (64, 48))
    frames = torch.zeros(num, 1, 3, *padded_shape)
    for t in range(num):
        true_flow.register(frames[t], f'x/SynthVID_val_00000000/{t:06d}.JPEG',
                           t, (48, 64))
    return true_flow, frames


def test_true_flow_returns_the_scene_flow_of_registered_frames(tool, motion):
    true_flow, frames = registered_frames(tool, motion, 4, (48, 64))
    flow = true_flow(frames[3], frames[0])
    assert flow.shape == (1, 2, 48, 64)
    np.testing.assert_array_equal(flow[0].numpy(),
                                  motion.backward_flow(3, 0, 64, 48))
    assert true_flow.num_calls == 1


def test_true_flow_is_zero_on_the_padding(tool, motion):
    # a data preprocessor with pad_size_divisor pads bottom and right
    true_flow, padded = registered_frames(tool, motion, 2, (64, 96))
    flow = true_flow(padded[1], padded[0])
    assert flow.shape == (1, 2, 64, 96)
    np.testing.assert_array_equal(flow[0, :, :48, :64].numpy(),
                                  motion.backward_flow(1, 0, 64, 48))
    assert flow[0, :, 48:].abs().sum() == 0
    assert flow[0, :, :, 64:].abs().sum() == 0
    assert flow[0, :, :48, :64].abs().sum() > 0  # the scene moves


def test_true_flow_refuses_what_it_cannot_know(tool, motion):
    true_flow = tool.TrueFlow({'SynthVID_val_00000000': motion}, (64, 48))
    known, unknown = torch.zeros(2, 1, 3, 48, 64)
    true_flow.register(known, 'x/SynthVID_val_00000000/000000.JPEG', 0,
                       (48, 64))
    with pytest.raises(KeyError, match='not registered'):
        true_flow(known, unknown)
    with pytest.raises(KeyError, match='SynthVID_val_00000007'):
        true_flow.register(unknown, 'x/SynthVID_val_00000007/000000.JPEG', 0,
                           (48, 64))
    other = tool.TrueFlow({'A': motion, 'B': motion}, (64, 48))
    other.register(known, 'x/A/000000.JPEG', 0, (48, 64))
    other.register(unknown, 'x/B/000001.JPEG', 1, (48, 64))
    with pytest.raises(ValueError, match='between videos'):
        other(unknown, known)
    big = torch.zeros(1, 3, 96, 128)
    resized = tool.TrueFlow({'A': motion}, (64, 48))
    with pytest.raises(
            ValueError, match='rendered at 64x48 but are tested '
            'at 128x96'):
        resized.register(big, 'x/A/000001.JPEG', 1, (96, 128))
    with pytest.raises(ValueError, match='smaller than its img_shape'):
        resized.register(big[:, :, :40], 'x/A/000001.JPEG', 1, (48, 64))


@pytest.mark.parametrize('pad_size_divisor', [1, 64])
def test_tool_tests_a_memory_model_with_the_true_flow(tool, tmp_path,
                                                      pad_size_divisor,
                                                      monkeypatch):
    root = str(tmp_path / 'synthvid')
    # 160x96: the size the SynthVID configs test at, so no resizing.
    settings = dict(
        num_train_videos=1,
        num_val_videos=2,
        num_frames=5,
        width=160,
        height=96,
        seed=2)
    generate_synthvid(root, **settings)
    save_json(settings, osp.join(root, 'synthvid.json'))
    save_json(
        convert_vid(root, 'val', SYNTHVID_CLASS_TABLE),
        osp.join(root, 'annotations', VID_ANN_FILES['val']))
    cfg = Config.fromfile(MEMNET_CFG)
    cfg.model.motion.init_cfg = None
    # 64 pads the 160x96 frames to 192x128
    cfg.model.data_preprocessor.pad_size_divisor = pad_size_divisor
    cfg.test_dataloader.dataset.data_root = root + '/'
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    config_file = str(tmp_path / 'memnet.py')
    cfg.dump(config_file)
    init_default_scope('mmdet')
    checkpoint = str(tmp_path / 'memnet.pth')
    torch.manual_seed(0)
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()},
               checkpoint)
    flow_shapes = set()
    true_forward = tool.TrueFlow.forward

    def recorded_forward(self, img_cur, img_prev):
        flow = true_forward(self, img_cur, img_prev)
        flow_shapes.add(tuple(flow.shape))
        return flow

    monkeypatch.setattr(tool.TrueFlow, 'forward', recorded_forward)
    metrics = tool.main([
        config_file, checkpoint, '--data-root', root, '--work-dir',
        str(tmp_path / 'work'), '--metrics-out',
        str(tmp_path / 'metrics.json'), '--out',
        str(tmp_path / 'dets.pkl')
    ])
    assert 'vid/mAP' in metrics
    # the per-frame dump, as tools/test.py --out writes it
    frames = load(str(tmp_path / 'dets.pkl'))
    assert sorted((f['video_id'], f['frame_id']) for f in frames) == [
        (video, frame) for video in (1, 2) for frame in range(5)
    ]
    # MemNet: one flow per frame after the first of each video.
    assert metrics['true_flow_calls'] == 2 * (5 - 1)
    # at the padded size: 192x128 with pad_size_divisor 64
    assert flow_shapes == ({(1, 2, 96,
                             160)} if pad_size_divisor == 1 else {(1, 2, 128,
                                                                   192)})
    # the file records the tested annotation file, for seed_spread.py
    with open(tmp_path / 'metrics.json') as f:
        written = json.load(f)
    ann_file = dataset_ann_file(cfg.test_dataloader.dataset)
    assert written['ann_file'] == dict(
        path=ann_file, sha256=file_sha256(ann_file))
    assert written['vid/mAP'] == metrics['vid/mAP']
    # another root than the frames tested: their flow would be wrong
    with pytest.raises(
            ValueError, match='is not the data_root of the '
            'frames tested'):
        tool.main([
            config_file, checkpoint, '--data-root',
            str(tmp_path), '--work-dir',
            str(tmp_path / 'work')
        ])
    # a checkpoint of the same classes in another label order
    reordered = tuple(name for _, name in reversed(SYNTHVID_CLASS_TABLE))
    trained = dict(
        state_dict=torch.load(checkpoint)['state_dict'],
        meta=dict(dataset_meta=dict(classes=reordered)))
    torch.save(trained, str(tmp_path / 'reordered.pth'))
    with pytest.raises(
            ValueError, match='the same classes in another '
            'order'):
        tool.main([
            config_file,
            str(tmp_path / 'reordered.pth'), '--work-dir',
            str(tmp_path / 'work')
        ])
    # settings that render other videos than the frames on disk
    save_json(dict(settings, seed=3), osp.join(root, 'synthvid.json'))
    with pytest.raises(
            ValueError,
            match='000000.JPEG is not the frame .*'
            'synthvid.json renders'):
        tool.main(
            [config_file, checkpoint, '--work-dir',
             str(tmp_path / 'work')])
    with pytest.raises(FileNotFoundError, match='synthvid.json'):
        tool.main([
            config_file, checkpoint, '--work-dir',
            str(tmp_path / 'work'), '--cfg-options',
            f'test_dataloader.dataset.data_root={tmp_path}/'
        ])


def test_tool_refuses_a_per_frame_config(tool, tmp_path):
    rfcn_cfg = osp.join(REPO_ROOT,
                        'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py')
    with pytest.raises(ValueError, match='model.type MemoryRFCN'):
        tool.main([rfcn_cfg, str(tmp_path / 'unused.pth')])


def test_tool_refuses_a_config_with_an_ema_hook(tool, tmp_path):
    """Loaded before runner.test(), the checkpoint would meet an EMAHook
    without its EMA model, and the hook would swap weights by parameter
    order, which the replaced FlowNet changes."""
    cfg = Config.fromfile(MEMNET_CFG)
    cfg.custom_hooks = [dict(type='EMAHook', momentum=0.001)]
    path = str(tmp_path / 'with_ema.py')
    cfg.dump(path)
    with pytest.raises(ValueError, match='custom_hooks has an EMAHook'):
        tool.main([path, str(tmp_path / 'unused.pth')])


def test_tool_refuses_outputs_over_the_test_annotations(tool, tmp_path):
    cfg = Config.fromfile(MEMNET_CFG)
    ann_file = osp.join(cfg.test_dataloader.dataset.data_root,
                        cfg.test_dataloader.dataset.ann_file)
    with pytest.raises(
            ValueError,
            match=f'--metrics-out {ann_file} is the test annotation file'):
        tool.main([
            MEMNET_CFG,
            str(tmp_path / 'unused.pth'), '--metrics-out', ann_file
        ])


def test_tool_refuses_a_directory_before_building(tool, tmp_path):
    with pytest.raises(IsADirectoryError, match='is a directory'):
        tool.main([MEMNET_CFG, str(tmp_path)])
