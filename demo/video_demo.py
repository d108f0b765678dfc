# Copyright (c) memvid_mm contributors. All rights reserved.
"""Detect objects in a video online, frame by frame, and draw them.

The memory model sees each frame once, in order, and never a later one
(:class:`memvid_mm.apis.OnlineVideoInferencer`), as a camera would feed it.

Example::

    python demo/video_demo.py configs/clocknet_r101_vid.py clocknet.pth \\
        input.mp4 --out output.mp4 --device cuda
    # a folder of frames (sorted by name) in, a folder of drawn frames out
    python demo/video_demo.py CONFIG CHECKPOINT frames/ --out drawn/

Output: a video file (``.mp4`` / ``.avi``, at the input's frame rate, or
``--fps`` for a folder of frames) or a folder of drawn frames, and a line
with the number of frames and the frame rate of detection (model time
only). The frames are one video to the model: a frame whose resized size
differs from the first one's (another aspect ratio) stops the demo with
the inferencer's error, as does, for a video file out, any other size.
"""
import argparse
import os
import os.path as osp
import time
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmdet.visualization import DetLocalVisualizer

from memvid_mm.apis import OnlineVideoInferencer, init_video_detector

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
    parser.add_argument('input', help='a video file or a folder of frames')
    parser.add_argument(
        '--out', help='a video file (.mp4, .avi) or a folder for the drawn '
        'frames')
    parser.add_argument(
        '--show', action='store_true', help='show the drawn frames')
    parser.add_argument(
        '--wait-time', type=float, default=0.001,
        help='seconds each shown frame stays (with --show)')
    parser.add_argument(
        '--score-thr', type=float, default=0.3,
        help='draw the detections scoring at least this')
    parser.add_argument(
        '--fps', type=float, default=25.0,
        help='frame rate of a video written from a folder of frames')
    parser.add_argument('--device', default='cpu', help='e.g. cuda:0')
    args = parser.parse_args(argv)
    if args.out is None and not args.show:
        parser.error('give --out or --show (or both)')
    return args


def frame_files(folder: str) -> List[str]:
    """The image files of ``folder``, sorted by name.

    Args:
        folder (str): A folder of frames.

    Returns:
        list[str]: Their paths.

    Raises:
        ValueError: When the folder holds no image file.
    """
    names = sorted(name for name in os.listdir(folder)
                   if osp.splitext(name)[1].lower() in IMAGE_SUFFIXES)
    if not names:
        raise ValueError(f'{folder}: no image files ({IMAGE_SUFFIXES})')
    return [osp.join(folder, name) for name in names]


def read_frames(source: str) -> Tuple[Iterator[Tuple[str, np.ndarray]],
                                      Optional[float]]:
    """The frames of a video file or a folder, in order, as BGR uint8.

    Args:
        source (str): A video file or a folder of frames.

    Returns:
        tuple: An iterator of ``(name, frame)`` (the frame's file name, or
        its index in the video) and the video's frame rate (None for a
        folder).

    Raises:
        FileNotFoundError: When ``source`` does not exist.
        ValueError: When a video cannot be opened, or a frame file cannot
            be decoded (raised when that frame is reached).
    """
    if not osp.exists(source):
        raise FileNotFoundError(f'input not found: {source}')
    if osp.isdir(source):
        files = frame_files(source)

        def from_files() -> Iterator[Tuple[str, np.ndarray]]:
            for path in files:
                frame = mmcv.imread(path)
                if frame is None:
                    raise ValueError(f'cannot decode frame {path}')
                yield osp.basename(path), frame

        return from_files(), None
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise ValueError(f'cannot open video {source}')

    def from_video() -> Iterator[Tuple[str, np.ndarray]]:
        index = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield f'{index:06d}.jpg', frame
                index += 1
        finally:
            capture.release()

    return from_video(), capture.get(cv2.CAP_PROP_FPS) or None


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

        Raises:
            ValueError: When a frame of a video file is not of the first
                frame's size (OpenCV would drop it without an error).
        """
        if self.codec is None:
            mmcv.imwrite(frame, osp.join(self.out, name))
            return
        size = (frame.shape[1], frame.shape[0])
        if self.writer is None:
            self.size = size
            self.writer = cv2.VideoWriter(
                self.out, cv2.VideoWriter_fourcc(*self.codec), self.fps,
                size)
            if not self.writer.isOpened():
                raise ValueError(f'cannot write video {self.out} (codec '
                                 f'{self.codec})')
        if size != self.size:
            raise ValueError(
                f'frame {name} is {size[0]}x{size[1]}, the video {self.out} '
                f'{self.size[0]}x{self.size[1]}: write a folder instead')
        self.writer.write(frame)

    def close(self) -> None:
        """Finish the video file."""
        if self.writer is not None:
            self.writer.release()


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the demo; returns the number of frames and the detection rate.

    Returns:
        dict: ``frames`` (int) and ``fps`` (frames per second of the
        model's calls, reading and drawing excluded).
    """
    args = parse_args(argv)
    model = init_video_detector(args.config, args.checkpoint, args.device)
    inferencer = OnlineVideoInferencer(model)
    visualizer = DetLocalVisualizer.get_instance('memvid_mm_video_demo')
    visualizer.dataset_meta = model.dataset_meta
    frames, video_fps = read_frames(args.input)
    sink = FrameSink(args.out, video_fps or args.fps) if args.out else None
    count, model_seconds = 0, 0.0
    try:
        for frame_id, (name, frame) in enumerate(frames):
            start = time.perf_counter()
            result = inferencer(frame, video_id=args.input, frame_id=frame_id)
            if args.device.startswith('cuda'):
                torch.cuda.synchronize()
            model_seconds += time.perf_counter() - start
            visualizer.add_datasample(
                name, mmcv.bgr2rgb(frame), data_sample=result, draw_gt=False,
                show=args.show, wait_time=args.wait_time,
                pred_score_thr=args.score_thr)
            if sink is not None:
                sink.write(name, mmcv.rgb2bgr(visualizer.get_image()))
            count += 1
    finally:
        if sink is not None:
            sink.close()
    fps = count / model_seconds if model_seconds else float('nan')
    print(f'{count} frames of {args.input}: {fps:.1f} frames/s of '
          f'detection on {args.device}' +
          (f'; drawn to {args.out}' if args.out else ''))
    return dict(frames=count, fps=fps)


if __name__ == '__main__':
    main()
