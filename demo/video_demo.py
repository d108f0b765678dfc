# Copyright (c) memvid_mm contributors. All rights reserved.
"""Detect objects in a video online, frame by frame, and draw them.

The memory model sees each frame once, in order, and never a later one
(:class:`memvid_mm.apis.OnlineVideoInferencer`), as a camera would feed it.
The config must be one of a memory model (``MemoryRFCN``, e.g. MemNet or
ClockNet, or ``StrongFeatureRFCN``); any other (a per-frame R-FCN's
``PerFrameVideoDetector``) is refused before its checkpoint is read.

Example::

    python demo/video_demo.py configs/clocknet_r101_vid.py clocknet.pth \\
        input.mp4 --out output.mp4 --device cuda
    # a folder of frames in, a folder of drawn frames out
    python demo/video_demo.py CONFIG CHECKPOINT frames/ --out drawn/

The frames of a folder are fed in the natural order of their names: runs
of digits compare as numbers, so ``frame_2.jpg`` comes before
``frame_10.jpg`` (zero-padded names such as ``000010.JPEG`` keep their
order); two names that differ only in leading zeros (``frame_1.jpg``,
``frame_01.jpg``) or in their extension (``frame_5.jpg``,
``frame_5.png``) have no order and are refused.

Output: a video file (``.mp4`` / ``.avi``, at the input's frame rate, or
``--fps`` for a folder of frames) or a folder of drawn frames, and a line
with the number of frames and the rate of the inferencer's calls (the
test pipeline's resize, the normalisation and the model; reading and
drawing excluded, and the first call, the warm-up, left out: see
:func:`call_rate`). The frames are one video to the model: a frame
whose resized size differs from the first one's (another aspect ratio)
stops the demo with the inferencer's error, as does, for a video file
out, any other size.
A video file out of frames of an odd width or height gets one black
column or row (right, bottom), as its codecs write even sizes only.

An ``--out`` that is the input itself (the same video file, or the same
folder of frames, also through a link) is refused before anything is
written: the drawn frames would overwrite the input. A video or a folder
written inside the input folder is allowed (its frames are listed first).

A video file that yields fewer frames than its container declares
(OpenCV's ``CAP_PROP_FRAME_COUNT``; damaged or cut short) stops the demo
with an error naming both numbers, after the frames decoded were drawn:
``--out`` then holds those frames only (a frame lost in the middle leaves
a gap). Containers that store no count (``.mkv``, ``.webm``) get one
estimated from duration and frame rate, so a variable-rate one may be
refused too: convert it to ``.mp4`` or to a folder of frames. More frames
than declared are all processed.
"""
import argparse
import math
import os
import os.path as osp
import re
import time
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.visualization import DetLocalVisualizer
from mmengine.config import Config
from mmengine.registry import init_default_scope

from memvid_mm.apis import OnlineVideoInferencer, init_video_detector
from memvid_mm.datasets.transforms import STORED_PIXELS
from memvid_mm.models import MemoryRFCN, StrongFeatureRFCN

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
#: The video files the demo writes, and their OpenCV codecs.
VIDEO_SUFFIXES = {'.mp4': 'mp4v', '.avi': 'XVID'}
#: Video files it does not write (an ``--out`` of these is refused rather
#: than taken for a folder name).
OTHER_VIDEO_SUFFIXES = ('.mov', '.mkv', '.webm', '.wmv', '.flv', '.m4v',
                        '.mpg', '.mpeg')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Online video detection')
    parser.add_argument('config', help='config of a memory model')
    parser.add_argument('checkpoint', help='its trained checkpoint')
    parser.add_argument(
        'input',
        help='a video file or a folder of frames (taken in the '
        'natural order of their names: frame_2 before frame_10)')
    parser.add_argument(
        '--out',
        help='a video file (.mp4, .avi) or a folder for the drawn '
        'frames; not the input itself')
    parser.add_argument(
        '--show', action='store_true', help='show the drawn frames')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=0.001,
        help='seconds each shown frame stays (with --show)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw the detections scoring at least this')
    parser.add_argument(
        '--fps',
        type=float,
        default=25.0,
        help='frame rate of a video written from a folder of frames (or '
        'from a video whose container gives no frame rate)')
    parser.add_argument('--device', default='cpu', help='e.g. cuda:0')
    args = parser.parse_args(argv)
    if args.out is None and not args.show:
        parser.error('give --out or --show (or both)')
    # OpenCV's writer fails on 0, < 0 or NaN naming only the codec, and
    # hangs on inf
    if not (math.isfinite(args.fps) and args.fps > 0):
        parser.error(f'--fps must be a finite number > 0, got {args.fps}')
    return args


def natural_key(name: str) -> Tuple[Union[str, int], ...]:
    """A sort key that compares the runs of digits of a name as numbers.

    ``name`` is split into runs of ASCII digits and the text between them;
    the digit runs become ints, so ``frame_2`` sorts before ``frame_10``
    and ``000002`` before ``000010``.

    Args:
        name (str): A file name.

    Returns:
        tuple: Text and numbers alternating, always text first (maybe
        empty), so any two keys compare.
    """
    parts = re.split(r'([0-9]+)', name)
    return tuple(int(part) if i % 2 else part for i, part in enumerate(parts))


def check_memory_config(cfg: Config, config: str) -> None:
    """Refuse a config of a model the demo cannot run online, from its
    ``model.type`` alone (before the checkpoint is read).

    Args:
        cfg (Config): The demo's config.
        config (str): Its file, for the message.

    Raises:
        TypeError: When ``model.type`` is no :class:`MemoryRFCN` nor
            :class:`StrongFeatureRFCN` (an unknown type is left to the
            build to name).
    """
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_type = cfg.model.get('type')
    model_class = (
        model_type if isinstance(model_type, type) else MODELS.get(model_type))
    if model_class is None or issubclass(model_class,
                                         (MemoryRFCN, StrongFeatureRFCN)):
        return
    raise TypeError(
        f'{config}: the online demo needs a memory model (a MemoryRFCN or a '
        f'StrongFeatureRFCN config, e.g. configs/memnet/ or '
        f'configs/clocknet/), got model.type {model_class.__name__}; test a '
        f'per-frame detector with tools/test.py')


def frame_files(folder: str) -> List[str]:
    """The image files of ``folder``, in the natural order of their names.

    Args:
        folder (str): A folder of frames.

    Returns:
        list[str]: Their paths, sorted by :func:`natural_key` of their
        names without the extension.

    Raises:
        ValueError: When the folder holds no image file, or two names that
            differ only in leading zeros (``frame_1.jpg``, ``frame_01.jpg``)
            or in their extension (``frame_5.jpg``, ``frame_5.png``): no
            order between them.
    """
    keyed = sorted(
        (natural_key(osp.splitext(name)[0]), natural_key(name), name)
        for name in os.listdir(folder)
        if osp.splitext(name)[1].lower() in IMAGE_SUFFIXES)
    if not keyed:
        raise ValueError(f'{folder}: no image files ({IMAGE_SUFFIXES})')
    for (key, _, first), (next_key, _, second) in zip(keyed, keyed[1:]):
        if key == next_key:
            (stem, suffix), (next_stem, next_suffix) = (osp.splitext(first),
                                                        osp.splitext(second))
            differences = [
                what for what, differ in (('leading zeros', stem != next_stem),
                                          ('extension', suffix != next_suffix))
                if differ
            ]
            raise ValueError(
                f'{folder}: frames {first} and {second} have the same '
                f'number (they differ in {" and ".join(differences)} only): '
                'no order between them')
    return [osp.join(folder, name) for _, _, name in keyed]


def check_out(source: str, out: Optional[str]) -> None:
    """Refuse an ``--out`` that is the input itself.

    The drawn frames would overwrite the input: a folder's frames their
    drawn copies, a video file itself while it is still being read.
    Anything else is allowed, a video or a folder inside the input folder
    too: its frames are listed before anything is written, and neither is
    an image file of it.

    Args:
        source (str): The input video file or folder of frames.
        out (str, optional): The ``--out`` path (None: nothing written).

    Raises:
        ValueError: When ``out`` is ``source``, by its real path (links
            followed) or, both existing, as the same file.
    """
    if out is None:
        return
    same = osp.realpath(out) == osp.realpath(source) or (
        osp.exists(out) and osp.exists(source) and osp.samefile(out, source))
    if same:
        kind = 'folder of frames' if osp.isdir(source) else 'video'
        raise ValueError(f'--out {out} is the input {kind} {source}: the '
                         'drawn frames would overwrite it; give another '
                         '--out')


def read_frames(
        source: str
) -> Tuple[Iterator[Tuple[str, np.ndarray]], Optional[float]]:
    """The frames of a video file or a folder, in order, as BGR uint8.

    A folder's frames are decoded as stored, not turned by their EXIF
    orientation tag, as ``LoadVIDFrame`` (so ``tools/test.py``) reads them.

    Args:
        source (str): A video file or a folder of frames.

    Returns:
        tuple: An iterator of ``(name, frame)`` (the frame's file name, or
        its index in the video) and the video's frame rate (None for a
        folder, or a video whose container gives none: 0, or a value that
        is not a finite number > 0).

    Raises:
        FileNotFoundError: When ``source`` does not exist.
        ValueError: When a video cannot be opened, or a frame file cannot
            be decoded (raised when that frame is reached), or a video
            yields no frame, or fewer frames than its container declares
            (damaged or cut short; raised after the last frame decoded).
    """
    if not osp.exists(source):
        raise FileNotFoundError(f'input not found: {source}')
    if osp.isdir(source):
        files = frame_files(source)

        def from_files() -> Iterator[Tuple[str, np.ndarray]]:
            for path in files:
                try:
                    # the stored pixels, as LoadVIDFrame reads them
                    frame = mmcv.imread(path, flag=STORED_PIXELS)
                except Exception as error:  # OpenCV on an empty file
                    raise ValueError(
                        f'cannot decode frame {path}: '
                        f'{type(error).__name__}: {error}') from error
                if frame is None:
                    raise ValueError(f'cannot decode frame {path}')
                yield osp.basename(path), frame

        return from_files(), None
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise ValueError(f'cannot open video {source}')

    # 0 where the container has no count (a stream); estimated from the
    # duration where it stores none (.mkv, .webm)
    declared = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    declared = int(declared) if declared > 0 else 0

    def from_video() -> Iterator[Tuple[str, np.ndarray]]:
        index = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                yield f'{index:06d}.jpg', frame
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise ValueError(
                f'video {source}: no frame could be decoded (its container '
                f'declares {declared})')
        if index < declared:
            raise ValueError(
                f'video {source}: {index} frames decoded, but its container '
                f'declares {declared} (damaged or cut short); the {index} '
                'decoded were processed')

    fps = capture.get(cv2.CAP_PROP_FPS)
    return from_video(), fps if math.isfinite(fps) and fps > 0 else None


class FrameSink:
    """Write drawn frames to a video file or a folder of JPEGs.

    Args:
        out (str): A path ending in ``.mp4`` / ``.avi``, else a folder.
        fps (float): Frame rate of a video file.

    Raises:
        ValueError: For a video file of another kind (``.mov``, ...).
    """

    def __init__(self, out: str, fps: float) -> None:
        self.out, self.fps = out, fps
        suffix = osp.splitext(out)[1].lower()
        if suffix in OTHER_VIDEO_SUFFIXES:
            raise ValueError(f'--out {out}: write a video as one of '
                             f'{tuple(VIDEO_SUFFIXES)}, or give a folder')
        self.codec = VIDEO_SUFFIXES.get(suffix)
        self.writer = None
        self.size = None  # (width, height) of the video's frames
        if self.codec is None:
            os.makedirs(out, exist_ok=True)
        else:
            os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)

    def write(self, name: str, frame: np.ndarray) -> None:
        """Append one frame.

        Args:
            name (str): The frame's file name (in a folder).
            frame (np.ndarray): (H, W, 3) BGR uint8.

        A video file's frames of an odd width or height get one black
        column or row on the right or at the bottom (said once): the
        codecs write even sizes only and would crop the last one.

        Raises:
            ValueError: When a frame of a video file is not of the first
                frame's size (OpenCV would drop it without an error).
        """
        if self.codec is None:
            mmcv.imwrite(frame, osp.join(self.out, name))
            return
        size = (frame.shape[1], frame.shape[0])
        even = (size[0] + size[0] % 2, size[1] + size[1] % 2)
        if self.writer is None:
            self.size = size
            if even != size:
                print(f'{self.out}: frames of {size[0]}x{size[1]} are '
                      f'written as {even[0]}x{even[1]}, padded with black '
                      f'(the {self.codec} codec writes even sizes only)')
            self.writer = cv2.VideoWriter(self.out,
                                          cv2.VideoWriter_fourcc(*self.codec),
                                          self.fps, even)
            if not self.writer.isOpened():
                raise ValueError(f'cannot write video {self.out} (codec '
                                 f'{self.codec})')
        if size != self.size:
            raise ValueError(
                f'frame {name} is {size[0]}x{size[1]}, the video {self.out} '
                f'{self.size[0]}x{self.size[1]}: write a folder instead')
        if even != size:
            frame = cv2.copyMakeBorder(
                frame,
                0,
                even[1] - size[1],
                0,
                even[0] - size[0],
                cv2.BORDER_CONSTANT,
                value=0)
        self.writer.write(frame)

    def close(self) -> None:
        """Finish the video file."""
        if self.writer is not None:
            self.writer.release()


def call_rate(call_seconds: Sequence[float]) -> float:
    """Calls per second, the first call left out unless it is the only one.

    The first frame's call pays for the set-up (the first allocations, on
    CUDA the kernels' and cuDNN's), which the later frames do not. This is
    the rate of the inferencer's calls, its test pipeline (the resize of
    the frame) and normalisation included; ``tools/analysis_tools/
    benchmark.py`` times the model alone.

    Args:
        call_seconds (Sequence[float]): The seconds of each call, in order.

    Returns:
        float: Calls per second; ``nan`` without a timed call.
    """
    timed = list(call_seconds[1:]) or list(call_seconds)
    total = sum(timed)
    return len(timed) / total if total > 0 else float('nan')


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the demo; returns the number of frames and the detection rate.

    Args:
        argv (Sequence[str], optional): The command line (default: the
            process's).

    Returns:
        dict: ``frames`` (int) and ``fps`` (:func:`call_rate` of the
        inferencer's calls).

    Raises:
        TypeError: For a config of no memory model (before its checkpoint
            is read, see :func:`check_memory_config`).
        ValueError: For an ``--out`` that is the input (before anything
            is written, see :func:`check_out`), and for the bad inputs of
            :func:`read_frames` and :class:`FrameSink`. A video short of
            its declared frames raises after its decoded frames were drawn
            and ``--out`` closed: it holds those frames only.
    """
    args = parse_args(argv)
    check_out(args.input, args.out)
    cfg = Config.fromfile(args.config)
    check_memory_config(cfg, args.config)
    model = init_video_detector(cfg, args.checkpoint, args.device)
    inferencer = OnlineVideoInferencer(model)
    visualizer = DetLocalVisualizer.get_instance('memvid_mm_video_demo')
    visualizer.dataset_meta = model.dataset_meta
    frames, video_fps = read_frames(args.input)
    sink = FrameSink(args.out, video_fps or args.fps) if args.out else None
    count, call_seconds = 0, []
    try:
        for frame_id, (name, frame) in enumerate(frames):
            start = time.perf_counter()
            result = inferencer(frame, video_id=args.input, frame_id=frame_id)
            if args.device.startswith('cuda'):
                torch.cuda.synchronize(args.device)  # the model's device
            call_seconds.append(time.perf_counter() - start)
            visualizer.add_datasample(
                name,
                mmcv.bgr2rgb(frame),
                data_sample=result,
                draw_gt=False,
                show=args.show,
                wait_time=args.wait_time,
                pred_score_thr=args.score_thr)
            if sink is not None:
                sink.write(name, mmcv.rgb2bgr(visualizer.get_image()))
            count += 1
    finally:
        if sink is not None:
            sink.close()
    fps = call_rate(call_seconds)
    print(f'{count} frames of {args.input}: {fps:.1f} frames/s of '
          f'detection on {args.device} (resize, normalisation and model; '
          f'the first frame left out)' +
          (f'; drawn to {args.out}' if args.out else ''))
    return dict(frames=count, fps=fps)


if __name__ == '__main__':
    main()
