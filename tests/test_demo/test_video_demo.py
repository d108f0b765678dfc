# Copyright (c) memvid_mm contributors. All rights reserved.
"""demo/video_demo.py: a video or a folder of frames in, drawn frames out."""
import importlib.util
import os
import os.path as osp

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

CLOCKNET_CFG = ('configs/clocknet/'
                'clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')
SIZE = (64, 96)  # H, W


def load_demo():
    spec = importlib.util.spec_from_file_location('video_demo',
                                                  'demo/video_demo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A randomly initialised tiny ClockNet, saved as the runner saves."""
    cfg = Config.fromfile(CLOCKNET_CFG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'clocknet.pth')
    classes = tuple(f'class{i}' for i in range(
        cfg.model.detector.roi_head.bbox_head.num_classes))
    torch.save(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=classes))), path)
    return path


def frames(num=4):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, SIZE + (3, ), dtype=np.uint8)
            for _ in range(num)]


def test_folder_of_frames_to_a_folder(checkpoint, tmp_path):
    src = tmp_path / 'frames'
    src.mkdir()
    for i, frame in enumerate(frames()):
        mmcv.imwrite(frame, str(src / f'{i:06d}.png'))
    (src / 'notes.txt').write_text('not a frame')
    out = str(tmp_path / 'drawn')
    summary = load_demo().main([
        CLOCKNET_CFG, checkpoint, str(src), '--out', out, '--score-thr', '0'
    ])
    assert summary['frames'] == 4 and summary['fps'] > 0
    assert sorted(os.listdir(out)) == [f'{i:06d}.png' for i in range(4)]
    drawn = mmcv.imread(osp.join(out, '000000.png'))
    assert drawn.shape == SIZE + (3, )
    # every detection drawn (score >= 0): the frame has boxes on it
    assert (drawn != frames()[0]).any()


def test_video_file_to_a_video_file(checkpoint, tmp_path):
    src = str(tmp_path / 'in.avi')
    writer = cv2.VideoWriter(src, cv2.VideoWriter_fourcc(*'MJPG'), 10,
                             SIZE[::-1])
    for frame in frames(5):
        writer.write(frame)
    writer.release()
    out = str(tmp_path / 'out' / 'drawn.mp4')
    summary = load_demo().main([CLOCKNET_CFG, checkpoint, src, '--out', out])
    assert summary['frames'] == 5
    drawn = mmcv.VideoReader(out)
    assert len(drawn) == 5 and (drawn.height, drawn.width) == SIZE
    assert drawn.fps == pytest.approx(10)


def test_bad_inputs_are_named(checkpoint, tmp_path):
    demo = load_demo()
    with pytest.raises(FileNotFoundError, match='input not found: .*nope'):
        demo.main([CLOCKNET_CFG, checkpoint, str(tmp_path / 'nope'),
                   '--out', str(tmp_path / 'o')])
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='empty: no image files'):
        demo.main([CLOCKNET_CFG, checkpoint, str(empty), '--out',
                   str(tmp_path / 'o')])
    (empty / '000000.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(ValueError, match='cannot decode frame .*000000.jpg'):
        demo.main([CLOCKNET_CFG, checkpoint, str(empty), '--out',
                   str(tmp_path / 'o')])
    not_video = tmp_path / 'clip.mp4'
    not_video.write_bytes(b'not a video')
    with pytest.raises(ValueError, match='cannot open video .*clip.mp4'):
        demo.main([CLOCKNET_CFG, checkpoint, str(not_video), '--out',
                   str(tmp_path / 'o')])
    with pytest.raises(ValueError, match=r'out\.mov: write a video as'):
        demo.main([CLOCKNET_CFG, checkpoint, str(empty), '--out',
                   str(tmp_path / 'out.mov')])
    with pytest.raises(SystemExit):  # neither --out nor --show
        demo.main([CLOCKNET_CFG, checkpoint, str(empty)])


def test_a_video_file_refuses_a_frame_of_another_size(tmp_path):
    """OpenCV would drop it from the file without an error."""
    sink = load_demo().FrameSink(str(tmp_path / 'drawn.avi'), fps=10)
    sink.write('000000.jpg', np.zeros(SIZE + (3, ), np.uint8))
    with pytest.raises(ValueError, match='frame 000001.jpg is 64x48, the '
                       'video .*drawn.avi 96x64'):
        sink.write('000001.jpg', np.zeros((48, 64, 3), np.uint8))
    sink.close()
