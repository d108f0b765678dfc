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
from mmengine.registry import DefaultScope

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
    # in mmdet's scope whatever an earlier test left as the current one
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'clocknet.pth')
    classes = tuple(
        f'class{i}'
        for i in range(cfg.model.detector.roi_head.bbox_head.num_classes))
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=classes))), path)
    return path


def frames(num=4):
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, SIZE + (3, ), dtype=np.uint8) for _ in range(num)
    ]


def test_call_rate_leaves_the_warm_up_call_out():
    call_rate = load_demo().call_rate
    assert call_rate([2.0, 0.5, 0.25, 0.25]) == pytest.approx(3.0)
    assert call_rate([0.5]) == pytest.approx(2.0)  # the only call
    assert np.isnan(call_rate([]))


def test_folder_of_frames_to_a_folder(checkpoint, tmp_path):
    src = tmp_path / 'frames'
    src.mkdir()
    for i, frame in enumerate(frames()):
        mmcv.imwrite(frame, str(src / f'{i:06d}.png'))
    (src / 'notes.txt').write_text('not a frame')
    out = str(tmp_path / 'drawn')
    summary = load_demo().main(
        [CLOCKNET_CFG, checkpoint,
         str(src), '--out', out, '--score-thr', '0'])
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


def test_bad_inputs_are_named(checkpoint, tmp_path, capsys):
    demo = load_demo()
    with pytest.raises(FileNotFoundError, match='input not found: .*nope'):
        demo.main([
            CLOCKNET_CFG, checkpoint,
            str(tmp_path / 'nope'), '--out',
            str(tmp_path / 'o')
        ])
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='empty: no image files'):
        demo.main([
            CLOCKNET_CFG, checkpoint,
            str(empty), '--out',
            str(tmp_path / 'o')
        ])
    (empty / '000000.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(ValueError, match='cannot decode frame .*000000.jpg'):
        demo.main([
            CLOCKNET_CFG, checkpoint,
            str(empty), '--out',
            str(tmp_path / 'o')
        ])
    (empty / '000000.jpg').write_bytes(b'')  # OpenCV raises on no bytes
    with pytest.raises(ValueError, match='cannot decode frame .*000000.jpg'):
        demo.main([
            CLOCKNET_CFG, checkpoint,
            str(empty), '--out',
            str(tmp_path / 'o')
        ])
    not_video = tmp_path / 'clip.mp4'
    not_video.write_bytes(b'not a video')
    with pytest.raises(ValueError, match='cannot open video .*clip.mp4'):
        demo.main([
            CLOCKNET_CFG, checkpoint,
            str(not_video), '--out',
            str(tmp_path / 'o')
        ])
    with pytest.raises(ValueError, match=r'out\.mov: write a video as'):
        demo.main([
            CLOCKNET_CFG, checkpoint,
            str(empty), '--out',
            str(tmp_path / 'out.mov')
        ])
    capsys.readouterr()
    with pytest.raises(SystemExit):  # neither --out nor --show
        demo.main([CLOCKNET_CFG, checkpoint, str(empty)])
    assert 'give --out or --show (or both)' in capsys.readouterr().err
    # OpenCV's writer blamed the codec for these (after the model had
    # loaded) and hung on inf
    for fps in ('0', '-5', 'nan', 'inf'):
        with pytest.raises(SystemExit):
            demo.main([
                CLOCKNET_CFG, checkpoint,
                str(empty), '--out',
                str(tmp_path / 'o.mp4'), '--fps', fps
            ])
        assert '--fps must be a finite number > 0' in capsys.readouterr().err


def test_a_video_file_refuses_a_frame_of_another_size(tmp_path):
    """OpenCV would drop it from the file without an error."""
    sink = load_demo().FrameSink(str(tmp_path / 'drawn.avi'), fps=10)
    sink.write('000000.jpg', np.zeros(SIZE + (3, ), np.uint8))
    with pytest.raises(
            ValueError,
            match='frame 000001.jpg is 64x48, the '
            'video .*drawn.avi 96x64'):
        sink.write('000001.jpg', np.zeros((48, 64, 3), np.uint8))
    sink.close()


@pytest.mark.parametrize('suffix', ['.mp4', '.avi'])
def test_a_video_file_keeps_the_last_row_and_column_of_odd_sizes(
        tmp_path, suffix, capsys):
    """The codecs write even sizes only: odd frames are padded, not
    cropped."""
    frame = np.zeros((65, 97, 3), np.uint8)
    frame[-1, :] = frame[:, -1] = 255
    path = str(tmp_path / f'drawn{suffix}')
    sink = load_demo().FrameSink(path, fps=10)
    for i in range(3):
        sink.write(f'{i:06d}.jpg', frame)
    sink.close()
    assert 'frames of 97x65 are written as 98x66' in capsys.readouterr().out
    capture = cv2.VideoCapture(path)
    ok, read = capture.read()
    capture.release()
    assert ok and read.shape == (66, 98, 3)
    assert read[64, :96].mean() > 200 and read[:64, 96].mean() > 200
    assert read[30, 30].mean() < 30


def write_avi(path, num):
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10, SIZE[::-1])
    for frame in frames(num):
        writer.write(frame)
    writer.release()


def test_frames_are_taken_in_natural_order(tmp_path):
    """frame_10 after frame_9 (not after frame_1), as the memory needs."""
    demo = load_demo()
    for i in range(12):
        (tmp_path / f'frame_{i}.jpg').touch()
    assert [osp.basename(p) for p in demo.frame_files(str(tmp_path))
            ] == [f'frame_{i}.jpg' for i in range(12)]
    padded = tmp_path / 'vid'  # ImageNet VID's names keep their order
    padded.mkdir()
    for i in (10, 2, 0, 1):
        (padded / f'{i:06d}.JPEG').touch()
    assert [osp.basename(p) for p in demo.frame_files(str(padded))
            ] == [f'{i:06d}.JPEG' for i in (0, 1, 2, 10)]
    (tmp_path / 'frame_01.jpg').touch()
    with pytest.raises(
            ValueError,
            match='frames frame_01.jpg and frame_1.jpg have the '
            'same number'):
        demo.frame_files(str(tmp_path))


def test_one_frame_number_under_two_extensions_is_refused(tmp_path):
    """Both were fed, one after the other, as two frames."""
    demo = load_demo()
    for name in ('frame_4.jpg', 'frame_5.jpg', 'frame_5.png', 'frame_6.png'):
        (tmp_path / name).touch()
    with pytest.raises(ValueError) as err:
        demo.frame_files(str(tmp_path))
    assert str(err.value) == (
        f'{tmp_path}: frames frame_5.jpg and frame_5.png have the same '
        'number (they differ in extension only): no order between them')
    (tmp_path / 'frame_5.png').unlink()
    (tmp_path / 'frame_05.png').touch()
    with pytest.raises(
            ValueError,
            match=r'frames frame_5.jpg and '
            r'frame_05.png .* \(they differ in leading zeros and '
            r'extension only\)'):
        demo.frame_files(str(tmp_path))


def test_a_per_frame_config_is_refused_before_its_checkpoint(tmp_path):
    rfcn = 'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py'
    never_read = str(tmp_path / 'missing.pth')
    with pytest.raises(TypeError) as err:
        load_demo().main([
            rfcn, never_read,
            str(tmp_path), '--out',
            str(tmp_path / 'drawn')
        ])
    assert str(err.value) == (
        f'{rfcn}: the online demo needs a memory model (a MemoryRFCN or a '
        'StrongFeatureRFCN config, e.g. configs/memnet/ or '
        'configs/clocknet/), got model.type PerFrameVideoDetector; test a '
        'per-frame detector with tools/test.py')


def test_out_over_the_input_is_refused(checkpoint, tmp_path):
    """Nothing is written: the input frames and video stay as they were."""
    demo = load_demo()
    src = tmp_path / 'frames'
    src.mkdir()
    mmcv.imwrite(frames(1)[0], str(src / '000000.png'))
    before = (src / '000000.png').read_bytes()
    for out in (str(src), str(src) + '/', str(src / '..' / 'frames')):
        with pytest.raises(
                ValueError,
                match=f'--out {out} is the input '
                f'folder of frames {src}: the drawn frames'):
            demo.main([CLOCKNET_CFG, checkpoint, str(src), '--out', out])
    video = tmp_path / 'in.avi'
    write_avi(video, 2)
    video_bytes = video.read_bytes()
    link = tmp_path / 'link.avi'
    link.symlink_to(video)
    for out in (video, link):
        with pytest.raises(
                ValueError, match=f'--out {out} is the input video {video}'):
            demo.main(
                [CLOCKNET_CFG, checkpoint,
                 str(video), '--out',
                 str(out)])
    assert os.listdir(src) == ['000000.png']
    assert (src / '000000.png').read_bytes() == before
    assert video.read_bytes() == video_bytes
    # written inside the input folder, after its frames were listed: fine
    demo.check_out(str(src), str(src / 'drawn.mp4'))
    demo.check_out(str(src), str(src / 'drawn'))


def test_a_video_short_of_its_declared_frames_is_an_error(
        checkpoint, tmp_path):
    """A cut video: the frames decoded are drawn, then the loss is named."""
    src = tmp_path / 'cut.avi'
    write_avi(src, 6)
    data = src.read_bytes()
    src.write_bytes(data[:int(len(data) * 0.6)])
    assert cv2.VideoCapture(str(src)).get(cv2.CAP_PROP_FRAME_COUNT) == 6
    out = str(tmp_path / 'drawn.avi')
    with pytest.raises(
            ValueError,
            match=r'cut.avi: (\d) frames decoded, '
            r'but its container declares 6') as error:
        load_demo().main([CLOCKNET_CFG, checkpoint, str(src), '--out', out])
    decoded = int(error.value.args[0].split(': ')[1].split()[0])
    assert 0 < decoded < 6
    assert len(mmcv.VideoReader(out)) == decoded


def test_a_video_of_no_frames_is_an_error(checkpoint, tmp_path):
    """A container that opens but decodes no frame is not a finished run of
    0 frames (nothing would be written to --out)."""
    src = tmp_path / 'empty.avi'
    write_avi(src, 0)
    assert cv2.VideoCapture(str(src)).isOpened()
    out = tmp_path / 'drawn.avi'
    with pytest.raises(
            ValueError, match=r'empty.avi: no frame could be decoded'):
        load_demo().main(
            [CLOCKNET_CFG, checkpoint,
             str(src), '--out',
             str(out)])
    assert not out.exists()


def test_folder_frames_are_read_as_stored_like_load_vid_frame(tmp_path):
    """The demo draws the pixels the test pipeline detects in: a JPEG's
    EXIF orientation tag does not turn it."""
    from PIL import Image

    from memvid_mm.datasets.transforms import LoadVIDFrame
    stored = np.zeros((48, 64, 3), np.uint8)
    stored[:10, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = 3  # turn by 180 degrees
    path = tmp_path / '000000.jpg'
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=100)
    frames_read, _ = load_demo().read_frames(str(tmp_path))
    (_, frame), = list(frames_read)
    loaded = LoadVIDFrame()(dict(img_path=str(path)))['img']
    assert np.array_equal(frame, loaded)
    assert frame[:10, :10].mean() > 200
