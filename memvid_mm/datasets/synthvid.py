# Copyright (c) memvid_mm contributors. All rights reserved.
"""SynthVID: a small synthetic video detection set in the ILSVRC2015 layout.

It exists so that the whole pipeline (conversion, training, online
evaluation) can run in minutes on a CPU, on data where looking at the recent
past pays off:

* 4 classes (:data:`SYNTHVID_CLASS_TABLE`), each with its own shape, texture
  and hue, so one clean frame identifies the class: ``disc`` (orange,
  concentric rings), ``box`` (blue, checkerboard), ``triangle`` (green,
  horizontal stripes), ``cross`` (magenta, dark centre and tips).
* 1-3 objects per video on a cluttered background. Object j of video i has
  the speed class ``SPEED_CLASSES[(i + j) % 3]`` (fast, medium, slow, so
  the classes are balanced over a split): its image-space speed per frame
  is a fraction of its size drawn from :data:`SPEED_RANGES`, chosen so that
  the ILSVRC motion IoU (mean IoU of a box with the same object's boxes
  within +-10 frames) falls below 0.7 (fast), in [0.7, 0.9] (medium) or
  above 0.9 (slow). Fast and medium objects also zoom (up to +-0.4% of
  their size per frame). Later objects are drawn in front; an object whose
  box is more than 10% covered by a front object's box is ``occluded``.
* A camera pan per video (static, slow or fast): the background moves; the
  objects' image motion is drawn independently (the camera may follow them).
* Objects enter and leave the frame; a box is annotated while at least a
  quarter of it is inside the image (boxes are clipped to the image).
* Per-frame degradations, in runs of 1-4 frames separated by 3-8 clean
  frames (the first 2+ frames of each video are clean): ``blur`` (half
  desaturated and, with ``blur='frame'``, the default, the whole frame
  smeared 9-17 px in a random direction; with ``blur='motion'`` every
  object smeared along its own motion and the background along the
  camera's, over 4-8 frames of displacement, see :data:`BLUR_MODES`),
  ``noise`` (Gaussian, sigma 70-100, half of it in 2x2 pixel blocks),
  ``occlusion`` (a textured grey patch over 50-75% of every object's box,
  from one side; the object is then ``occluded``) and ``dim``
  (x0.06-0.15 brightness plus noise). About 30% of frames are degraded;
  ``degradations`` narrows the kinds a run draws from (e.g. only ``blur``,
  so that fast objects are the hard ones, as in real video).
  Each frame's XML has a ``<degradation>`` tag (``none`` when clean), which
  the converter copies into the CocoVID images as ``degradation``.

Boxes are the full object extent (also when occluded), ``generated`` is 0.
The generator knows where every pixel moves, so :class:`SceneMotion` gives
the exact (ground-truth) flow between any two frames of a video, e.g. to
pre-train FlowNet (:mod:`memvid_mm.datasets.synthvid_flow`).
Randomness comes only from ``numpy.random.Generator``: split ``train`` uses
``SeedSequence([seed, 0])`` and ``val`` ``SeedSequence([seed, 1])``, spawned
into one child per video, so a video does not depend on how many are made.
"""
import glob
import json
import math
import os
import os.path as osp
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from ..evaluation.functional import compute_motion_iou
from .class_tables import SYNTHVID_CLASS_TABLE, SYNTHVID_CLASSES, ClassTable
from .ilsvrc_converters import (VID_ANN_FILES, parse_voc_xml,
                                read_vid_video_list)
from .imagenet_vid_dataset import load_json_object

DEGRADATIONS: Tuple[str, ...] = ('blur', 'noise', 'occlusion', 'dim')
"""Per-frame degradation kinds (``'none'`` marks a clean frame). A degraded
run draws its kind uniformly from these, or from the subset a split is
generated with (``degradations``)."""

BLUR_MODES: Tuple[str, ...] = ('frame', 'motion')
"""How a ``blur`` frame is smeared. ``'frame'``: the whole frame by one
random linear kernel (9-17 px, any direction), whatever moves in it.
``'motion'``: a long exposure, every object along its own image motion and
the background along the camera's, over :data:`MOTION_BLUR_EXPOSURE`
frames of displacement, so fast objects smear and slow ones stay sharp, as
motion blur strikes real video."""

MOTION_BLUR_EXPOSURE: Tuple[float, float] = (4.0, 8.0)
"""Range of a ``'motion'`` blur frame's exposure, in frame intervals: a
fast object (2.1 px per frame on average) then smears 13 px on average,
as far as ``'frame'`` blur smears everything. Longer than a real shutter
(at most one frame interval), because SynthVID's frames are small: a fast
object moves only a few pixels per frame."""

SPEED_RANGES: Dict[str, Tuple[float, float]] = dict(
    fast=(0.045, 0.12), medium=(0.012, 0.024), slow=(0.0, 0.003))
"""Image-space speed per frame, as a fraction of the object size."""

SPLIT_STREAMS: Dict[str, int] = dict(train=0, val=1, flow=2)
"""Random stream of each split: ``SeedSequence([seed, SPLIT_STREAMS[split]])``.
``flow`` videos are never written; they pre-train FlowNet (like Flying
Chairs for the paper's FlowNet) without touching the detection splits."""

SPEED_CLASSES: Tuple[str, ...] = ('fast', 'medium', 'slow')
"""Object ``j`` of video ``i`` gets ``SPEED_CLASSES[(i + j) % 3]``."""

# Hue (degrees) of each class, BGR conversion below.
_CLASS_HUES = (20.0, 215.0, 120.0, 300.0)
_MIN_VISIBLE = 0.25
#: Largest object size, as a fraction of the frame height.
_MAX_SIZE = 0.36
#: Least distance of an object's centre from the frame border at ``t_mid``,
#: as a fraction of its size.
_MARGIN = 0.6
#: The narrowest frame, per pixel of height, that fits the largest object
#: with its margins.
_MIN_WIDTH_PER_HEIGHT = 2 * _MARGIN * _MAX_SIZE
# the generator settings of a SynthVID root, which
# tools/misc/gen_synthvid.py writes and load_synthvid_settings reads
SETTINGS_FILE = 'synthvid.json'


@dataclass
class _Track:
    """Motion of one object in image coordinates.

    Attributes:
        label (int): Class index.
        size (float): Side length at ``t_mid`` in pixels.
        aspect (float): Width / height.
        centre (np.ndarray): ``(2,)`` centre (x, y) at ``t_mid``.
        t_mid (float): Reference time.
        velocity (np.ndarray): ``(2,)`` pixels per frame.
        zoom (float): Relative size change per frame.
        bright (tuple): BGR colour of the light texture parts.
        dark (tuple): BGR colour of the dark texture parts.
    """
    label: int
    size: float
    aspect: float
    centre: np.ndarray
    t_mid: float
    velocity: np.ndarray
    zoom: float
    bright: Tuple[int, int, int]
    dark: Tuple[int, int, int]

    def box(self, t: int) -> np.ndarray:
        """Integer box ``(x1, y1, x2, y2)`` at frame t (not clipped).

        Args:
            t (int): Frame index.

        Returns:
            np.ndarray: ``(4,)`` int64 box; its sides are at least 3
            pixels.
        """
        dt = t - self.t_mid
        scale = float(np.clip(1.0 + self.zoom * dt, 0.5, 1.6))
        w = max(3, int(round(self.size * scale * np.sqrt(self.aspect))))
        h = max(3, int(round(self.size * scale / np.sqrt(self.aspect))))
        cx, cy = self.centre + self.velocity * dt
        x1, y1 = int(round(cx - w / 2)), int(round(cy - h / 2))
        return np.array([x1, y1, x1 + w, y1 + h], dtype=np.int64)


@dataclass
class SceneMotion:
    """The geometry of one rendered video: enough for its exact flow.

    Attributes:
        tracks (list[_Track]): The objects in drawing order (later ones in
            front).
        camera_offsets (np.ndarray): ``(L, 2)`` int64 offset (x, y) of each
            frame's window into the background canvas, in pixels.
    """
    tracks: List[_Track]
    camera_offsets: np.ndarray

    def backward_flow(self, t_cur: int, t_prev: int, width: int,
                      height: int) -> np.ndarray:
        """Ground-truth backward flow from frame ``t_cur`` to ``t_prev``.

        Same convention as ``FlowNetSimple``: the content at pixel
        ``p = (x, y)`` of frame ``t_cur`` is at ``p + flow[:, y, x]`` in
        frame ``t_prev``. Background pixels move with the camera; pixels
        on an object's shape (the front-most one) follow that object's
        translation and zoom, pixel centres mapped through the sprite.
        Degradations do not move content, so they do not change the flow.

        Args:
            t_cur (int): Frame the flow is defined on.
            t_prev (int): Frame it points into (any frame of the video).
            width (int): Frame width W.
            height (int): Frame height H.

        Returns:
            np.ndarray: ``(2, H, W)`` float32, channel 0 = dx, 1 = dy.
        """
        self._check_frames(t_cur, t_prev)
        flow = np.empty((2, height, width), np.float32)
        flow[:] = (self.camera_offsets[t_cur] -
                   self.camera_offsets[t_prev])[:, None, None]
        for track, (x1, y1, x2,
                    y2), mask in self._object_pixels(t_cur, width, height):
            cur, prev = track.box(t_cur), track.box(t_prev)
            w, h = cur[2] - cur[0], cur[3] - cur[1]
            xs, ys = np.arange(x1, x2), np.arange(y1, y2)
            # Sprite pixel i (centre (i + 0.5) / w of the shape) at size w
            # sits where the same shape point is at size w' in t_prev.
            dx = (
                prev[0] + (xs - cur[0] + 0.5) * (prev[2] - prev[0]) / w - 0.5 -
                xs)
            dy = (
                prev[1] + (ys - cur[1] + 0.5) * (prev[3] - prev[1]) / h - 0.5 -
                ys)
            region = flow[:, y1:y2, x1:x2]
            region[0][mask] = np.broadcast_to(dx[None, :], mask.shape)[mask]
            region[1][mask] = np.broadcast_to(dy[:, None], mask.shape)[mask]
        return flow

    def object_mask(self, t: int, width: int, height: int) -> np.ndarray:
        """Pixels of frame ``t`` covered by an object's shape.

        Args:
            t (int): Frame index.
            width (int): Frame width W.
            height (int): Frame height H.

        Returns:
            np.ndarray: ``(H, W)`` bool.
        """
        self._check_frames(t)
        out = np.zeros((height, width), bool)
        for _, (x1, y1, x2, y2), mask in self._object_pixels(t, width, height):
            out[y1:y2, x1:x2] |= mask
        return out

    def _check_frames(self, *frames: int) -> None:
        num_frames = len(self.camera_offsets)
        for t in frames:
            if not 0 <= t < num_frames:
                raise ValueError(f'frame {t} is outside the video '
                                 f'(0..{num_frames - 1})')

    def _object_pixels(self, t: int, width: int, height: int) -> Iterator:
        """Per visible object, back to front: ``(track, (x1, y1, x2, y2),
        mask)``, the box clipped to the image and the ``(y2 - y1, x2 - x1)``
        bool mask of its shape inside it."""
        for track in self.tracks:  # later tracks are drawn in front
            box = track.box(t)
            x1, y1 = max(box[0], 0), max(box[1], 0)
            x2, y2 = min(box[2], width), min(box[3], height)
            if x2 <= x1 or y2 <= y1:
                continue
            _, mask = render_sprite(track.label, box[2] - box[0],
                                    box[3] - box[1], (0, 0, 0), (0, 0, 0))
            yield track, (x1, y1, x2, y2), mask[y1 - box[1]:y2 - box[1],
                                                x1 - box[0]:x2 - box[0]]


def _hsv_to_bgr(hue: float, sat: float, val: float) -> Tuple[int, int, int]:
    """Convert one HSV colour (hue in degrees, s/v in [0, 1]) to BGR."""
    hsv = np.array([[[hue / 2.0, sat * 255.0, val * 255.0]]], np.float32)
    bgr = cv2.cvtColor(hsv.round().astype(np.uint8), cv2.COLOR_HSV2BGR)
    return tuple(int(c) for c in bgr[0, 0])


def render_sprite(label: int, width: int, height: int, bright: Sequence[int],
                  dark: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Draw the class-specific shape and texture of one object.

    Args:
        label (int): Class index into :data:`SYNTHVID_CLASS_TABLE`.
        width (int): Sprite width in pixels.
        height (int): Sprite height in pixels.
        bright (Sequence[int]): BGR colour of the light parts.
        dark (Sequence[int]): BGR colour of the dark parts.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(height, width, 3)`` uint8 BGR
        image and ``(height, width)`` bool mask of the shape.
    """
    u = (np.arange(width) + 0.5) / width * 2.0 - 1.0
    v = (np.arange(height) + 0.5) / height * 2.0 - 1.0
    u, v = np.meshgrid(u, v)  # [h, w] each, in [-1, 1]
    if label == 0:  # disc with concentric rings
        r = np.sqrt(u**2 + v**2)
        mask, light = r <= 1.0, np.floor(r * 3.0) % 2 == 0
    elif label == 1:  # box with a 4x4 checkerboard
        mask = np.ones_like(u, dtype=bool)
        light = (np.floor((u + 1) * 2) + np.floor((v + 1) * 2)) % 2 == 0
    elif label == 2:  # apex-up triangle with horizontal stripes
        mask = np.abs(u) <= (v + 1.0) / 2.0 + 1.0 / width
        light = np.floor((v + 1.0) * 2.5) % 2 == 1
    elif label == 3:  # plus sign, dark centre and tips
        mask = (np.abs(u) <= 0.36) | (np.abs(v) <= 0.36)
        m = np.maximum(np.abs(u), np.abs(v))
        light = (m > 0.36) & (m <= 0.75)
    else:
        raise ValueError(f'label must be in [0, 3], got {label}')
    img = np.where(light[..., None], np.asarray(bright, np.uint8),
                   np.asarray(dark, np.uint8)).astype(np.uint8)
    return img, mask


def _sample_track(rng: np.random.Generator, width: int, height: int,
                  num_frames: int, speed: str) -> _Track:
    """Draw one object of a speed class: class, size, colour and path."""
    label = int(rng.integers(len(SYNTHVID_CLASS_TABLE)))
    size = float(rng.uniform(0.16, _MAX_SIZE) * height)
    aspect = float(rng.uniform(0.8, 1.25)) if label != 0 else float(
        rng.uniform(0.9, 1.1))
    ratio = rng.uniform(*SPEED_RANGES[speed])
    angle = rng.uniform(0, 2 * np.pi)
    velocity = ratio * size * np.array([np.cos(angle), np.sin(angle)])
    zoom = 0.0 if speed == 'slow' else float(rng.uniform(-0.004, 0.004))
    margin = size * _MARGIN
    centre = np.array([
        rng.uniform(margin, width - margin),
        rng.uniform(margin, height - margin)
    ])
    hue = (_CLASS_HUES[label] + rng.uniform(-12, 12)) % 360
    sat, val = rng.uniform(0.65, 1.0), rng.uniform(0.75, 1.0)
    return _Track(
        label=label,
        size=size,
        aspect=aspect,
        centre=centre,
        t_mid=float(rng.uniform(0, num_frames - 1)),
        velocity=velocity,
        zoom=zoom,
        bright=_hsv_to_bgr(hue, sat, val),
        dark=_hsv_to_bgr(hue, sat, val * 0.4))


def visible_box(box: np.ndarray, width: int,
                height: int) -> Optional[np.ndarray]:
    """Clip a box to the image; None when less than a quarter is inside.

    Args:
        box (np.ndarray): ``(4,)`` box ``(x1, y1, x2, y2)``.
        width (int): Image width.
        height (int): Image height.

    Returns:
        np.ndarray, optional: The box clipped to ``[0, width]`` x
        ``[0, height]``; None when the clipped box is less than 2 pixels
        wide or high, or holds less than a quarter of the box's area.
    """
    clipped = np.clip(box, 0, [width, height, width, height])
    area = (box[2] - box[0]) * (box[3] - box[1])
    inside = (clipped[2] - clipped[0]) * (clipped[3] - clipped[1])
    if clipped[2] - clipped[0] < 2 or clipped[3] - clipped[1] < 2:
        return None
    return clipped if inside >= _MIN_VISIBLE * area else None


def check_degradations(degradations: Sequence[str]) -> None:
    """Raise a ValueError unless ``degradations`` is a non-empty sequence of
    distinct kinds of :data:`DEGRADATIONS`.

    Args:
        degradations (Sequence[str]): The degradation kinds to check (a
            single string is refused).

    Raises:
        ValueError: Naming the allowed kinds and ``degradations``.
    """
    if isinstance(degradations, str) or not degradations or any(
            kind not in DEGRADATIONS for kind in degradations) or len(
                set(degradations)) != len(degradations):
        raise ValueError('degradations must be distinct kinds of '
                         f'{DEGRADATIONS}, at least one, got {degradations!r}')


def degradation_schedule(
        rng: np.random.Generator,
        num_frames: int,
        degradations: Sequence[str] = DEGRADATIONS) -> List[str]:
    """Per-frame degradation kinds: runs of 1-4 frames, 3-8 clean between.

    With the default it draws the schedules of every SynthVID written
    before ``degradations`` existed. The order of ``degradations`` matters:
    the same draws pick other kinds in another order.

    Args:
        rng (np.random.Generator): Random generator.
        num_frames (int): Video length.
        degradations (Sequence[str]): The kinds a run draws from,
            uniformly. Defaults to :data:`DEGRADATIONS`.

    Returns:
        list[str]: One of ``degradations`` or ``'none'`` per frame.
    """
    check_degradations(degradations)
    schedule = ['none'] * num_frames
    t = 2 + int(rng.integers(0, 4))
    while t < num_frames:
        run = int(rng.integers(1, 5))
        kind = degradations[int(rng.integers(len(degradations)))]
        schedule[t:t + run] = [kind] * len(schedule[t:t + run])
        t += run + int(rng.integers(3, 9))
    return schedule


def _background(rng: np.random.Generator, width: int,
                height: int) -> np.ndarray:
    """A muted, smooth, cluttered background canvas (uint8 BGR)."""
    base = np.array(
        _hsv_to_bgr(
            rng.uniform(0, 360), rng.uniform(0.05, 0.3),
            rng.uniform(0.35, 0.65)), np.float32)
    low = rng.standard_normal(
        (max(2, height // 8), max(2, width // 8), 3)).astype(np.float32)
    low = 0.8 * low.mean(axis=2, keepdims=True) + 0.35 * low  # mostly grey
    canvas = base + 22.0 * cv2.resize(
        low, (width, height), interpolation=cv2.INTER_CUBIC)
    canvas = np.clip(canvas, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(6, 14)) * max(1, width // 160)):
        colour = _hsv_to_bgr(
            rng.uniform(0, 360), rng.uniform(0.0, 0.3), rng.uniform(0.2, 0.8))
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        axes = (int(rng.integers(3, 14)), int(rng.integers(3, 14)))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                    colour, -1)
    grain = rng.standard_normal(canvas.shape).astype(np.float32) * 3.0
    return np.clip(canvas + grain, 0, 255).astype(np.uint8)


def _camera_path(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """Camera offsets ``(num_frames, 2)`` (x, y) in pixels, starting at 0."""
    mode = rng.choice(['static', 'slow', 'fast'], p=[0.35, 0.35, 0.3])
    speed = dict(
        static=0.0, slow=rng.uniform(0.2, 0.6), fast=rng.uniform(0.8,
                                                                 2.0))[mode]
    angle = rng.normal(0.0, 0.35) + np.pi * float(rng.random() < 0.5)
    step = speed * np.array([np.cos(angle), np.sin(angle)])
    return np.arange(num_frames)[:, None] * step[None]


def _paste(frame: np.ndarray, sprite: np.ndarray, mask: np.ndarray,
           box: np.ndarray) -> None:
    """Paste a sprite at ``box`` (x1, y1, x2, y2), clipped, in place."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = box
    cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if cx2 <= cx1 or cy2 <= cy1:
        return
    src = (slice(cy1 - y1, cy2 - y1), slice(cx1 - x1, cx2 - x1))
    region = frame[cy1:cy2, cx1:cx2]
    region[mask[src]] = sprite[src][mask[src]]


def _motion_blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Linear motion blur (9-17 px, any angle), half desaturated."""
    length = int(rng.integers(4, 9)) * 2 + 1
    kernel = np.zeros((length, length), np.float32)
    c, angle = length // 2, rng.uniform(0, np.pi)
    dx, dy = c * np.cos(angle), c * np.sin(angle)
    cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))),
             (int(round(c + dx)), int(round(c + dy))), 1.0, 1)
    return _desaturate_half(cv2.filter2D(img, -1, kernel / kernel.sum()))


def _desaturate_half(img: np.ndarray) -> np.ndarray:
    """Blend a BGR frame half-and-half with its grey version."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None]
    return (0.5 * img + 0.5 * grey).astype(np.uint8)


def smear(img: np.ndarray,
          displacement: np.ndarray,
          border: int = cv2.BORDER_REFLECT) -> np.ndarray:
    """Linear motion blur along a displacement.

    Every pixel becomes the mean of ``img`` along the segment of length
    ``|displacement|`` centred on it, in the displacement's direction.

    Args:
        img (np.ndarray): ``(H, W)`` or ``(H, W, C)`` image.
        displacement (np.ndarray): ``(2,)`` (dx, dy) in pixels.
        border (int): OpenCV border mode. Defaults to reflection.

    Returns:
        np.ndarray: float32 image of ``img``'s shape; unblurred when the
        displacement is shorter than one pixel.
    """
    img = img.astype(np.float32)
    length = float(np.hypot(*displacement))
    if length < 1.0:
        return img
    size = int(np.ceil(length)) // 2 * 2 + 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = (float(v) / 2.0 for v in displacement)
    cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))),
             (int(round(c + dx)), int(round(c + dy))), 1.0, 1, cv2.LINE_AA)
    return cv2.filter2D(img, -1, kernel / kernel.sum(), borderType=border)


def render_long_exposure(background: np.ndarray, tracks: Sequence[_Track],
                         t: int, camera_velocity: np.ndarray,
                         exposure: float) -> np.ndarray:
    """Render frame ``t`` with motion blur from the scene's own motion.

    The background is smeared along the camera's motion and each object,
    back to front, along its own (sprite and shape mask alike, so its
    edges blend into what is behind), over ``exposure`` frames of
    displacement; the frame is then half desaturated.

    Args:
        background (np.ndarray): ``(H, W, 3)`` uint8 background of frame t.
        tracks (Sequence[_Track]): Objects in drawing order.
        t (int): Frame index.
        camera_velocity (np.ndarray): ``(2,)`` camera motion in pixels per
            frame.
        exposure (float): Exposure in frame intervals.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR frame.
    """
    height, width = background.shape[:2]
    frame = smear(background, camera_velocity * exposure)
    for track in tracks:
        box = track.box(t)
        sprite, mask = render_sprite(track.label, box[2] - box[0],
                                     box[3] - box[1], track.bright, track.dark)
        layer = np.zeros((height, width, 3), np.float32)
        cover = np.zeros((height, width), np.float32)
        _paste(layer, sprite, mask, box)
        _paste(cover, np.ones(mask.shape, np.float32), mask, box)
        path = track.velocity * exposure
        layer = smear(layer, path, cv2.BORDER_CONSTANT)
        cover = smear(cover, path, cv2.BORDER_CONSTANT)
        frame = frame * (1.0 - cover[..., None]) + layer
    return _desaturate_half(np.clip(frame, 0, 255).round().astype(np.uint8))


def _add_noise(img: np.ndarray,
               rng: np.random.Generator,
               sigma: float,
               coarse: bool = False) -> np.ndarray:
    """Gaussian noise; ``coarse`` adds half of it as 2x2 pixel blocks."""
    h, w = img.shape[:2]
    noise = rng.standard_normal(img.shape).astype(np.float32) * sigma
    if coarse:
        blocks = rng.standard_normal(((h + 1) // 2, (w + 1) // 2, 3))
        blocks = blocks.repeat(2, axis=0).repeat(2, axis=1)[:h, :w]
        noise = (noise + sigma * blocks.astype(np.float32)) / np.sqrt(2.0)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _occlude(img: np.ndarray, boxes: Sequence[np.ndarray],
             rng: np.random.Generator) -> np.ndarray:
    """Cover 50-75% of each box from a random side with a grey patch."""
    out = img.copy()
    for box in boxes:
        x1, y1, x2, y2 = (int(v) for v in box)
        frac = rng.uniform(0.5, 0.75)
        side = int(rng.integers(4))
        if side == 0:
            x2 = x1 + int(round((x2 - x1) * frac))
        elif side == 1:
            x1 = x2 - int(round((x2 - x1) * frac))
        elif side == 2:
            y2 = y1 + int(round((y2 - y1) * frac))
        else:
            y1 = y2 - int(round((y2 - y1) * frac))
        grey = rng.uniform(60, 190)
        patch = grey + 25.0 * rng.standard_normal(
            (max(y2 - y1, 0), max(x2 - x1, 0), 1)).astype(np.float32)
        out[y1:y2, x1:x2] = np.clip(patch, 0, 255).astype(np.uint8)
    return out


def apply_degradation(img: np.ndarray, kind: str, boxes: Sequence[np.ndarray],
                      rng: np.random.Generator) -> np.ndarray:
    """Degrade a frame.

    Args:
        img (np.ndarray): ``(H, W, 3)`` uint8 BGR frame.
        kind (str): ``'none'`` or one of :data:`DEGRADATIONS`.
        boxes (Sequence[np.ndarray]): Visible object boxes (x1, y1, x2, y2),
            used by ``'occlusion'``.
        rng (np.random.Generator): Random generator.

    Returns:
        np.ndarray: The degraded ``(H, W, 3)`` uint8 frame.
    """
    if kind == 'none':
        return img
    if kind == 'blur':  # 'frame' blur; render_long_exposure makes 'motion'
        return _motion_blur(img, rng)
    if kind == 'noise':
        return _add_noise(img, rng, rng.uniform(70, 100), coarse=True)
    if kind == 'occlusion':
        return _occlude(img, boxes, rng)
    if kind == 'dim':
        dimmed = (img.astype(np.float32) * rng.uniform(0.06, 0.15))
        return _add_noise(dimmed.astype(np.uint8), rng, 5.0)
    raise ValueError(f"kind must be 'none' or one of {DEGRADATIONS}, "
                     f'got {kind!r}')


def check_blur_mode(blur: str) -> None:
    """Raise a ValueError unless ``blur`` is one of :data:`BLUR_MODES`.

    Args:
        blur (str): The blur mode to check.

    Raises:
        ValueError: Naming the allowed modes and ``blur``.
    """
    if blur not in BLUR_MODES:
        raise ValueError(f'blur must be one of {BLUR_MODES}, got {blur!r}')


def _covered_fraction(box: np.ndarray, others: Sequence[np.ndarray]) -> float:
    """Largest fraction of ``box`` covered by one of ``others``."""
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1.0)
    best = 0.0
    for o in others:
        iw = min(box[2], o[2]) - max(box[0], o[0])
        ih = min(box[3], o[3]) - max(box[1], o[1])
        if iw > 0 and ih > 0:
            best = max(best, iw * ih / area)
    return best


def render_video(
    rng: np.random.Generator,
    num_frames: int,
    width: int,
    height: int,
    speed_offset: int = 0,
    blur: str = 'frame',
    degradations: Sequence[str] = DEGRADATIONS
) -> Tuple[List[np.ndarray], List[List[dict]], List[str], SceneMotion]:
    """Render one SynthVID video.

    Args:
        rng (np.random.Generator): The video's own random generator.
        num_frames (int): Number of frames L.
        width (int): Frame width W.
        height (int): Frame height H.
        speed_offset (int): Object j gets the speed class
            ``SPEED_CLASSES[(speed_offset + j) % 3]`` (the video index, so
            speeds are balanced over a split). Defaults to 0.
        blur (str): How ``blur`` frames are smeared, one of
            :data:`BLUR_MODES`. Defaults to ``'frame'``.
        degradations (Sequence[str]): The kinds degraded runs draw from
            (:func:`degradation_schedule`). The objects, their motion, the
            camera and the background are drawn before the schedule, so
            they do not depend on it (unless the video is drawn again
            because no object ever comes into view). Defaults to
            :data:`DEGRADATIONS`.

    Returns:
        tuple: ``frames`` (L arrays ``(H, W, 3)`` uint8 BGR), ``objects``
        (per frame a list of dicts ``trackid``, ``label``, ``bbox``
        (x1, y1, x2, y2) ints clipped to the image, ``occluded``),
        ``degradations`` (per frame ``'none'`` or a degradation kind) and
        the :class:`SceneMotion` (ground-truth flow between any two
        frames). At least one frame has an object.
    """
    check_blur_mode(blur)
    tracks, canvas, camera_velocity, schedule, motion = _draw_scene(
        rng, num_frames, width, height, speed_offset, degradations)
    frames, objects = [], []
    for t in range(num_frames):
        ox, oy = motion.camera_offsets[t]
        background = canvas[oy:oy + height, ox:ox + width]
        frame = background.copy()
        frame_objects = _paste_objects(frame, tracks, t, width, height)
        frame = _degrade_frame(rng, frame, background, frame_objects,
                               schedule[t], tracks, t, camera_velocity, blur)
        frames.append(frame)
        objects.append(frame_objects)
    if not any(objects):  # nothing ever in view: draw the video again
        return render_video(rng, num_frames, width, height, speed_offset, blur,
                            degradations)
    return frames, objects, schedule, motion


def _draw_scene(
    rng: np.random.Generator, num_frames: int, width: int, height: int,
    speed_offset: int, degradations: Sequence[str]
) -> Tuple[List[_Track], np.ndarray, np.ndarray, List[str], SceneMotion]:
    """Draw what a video shows, in this order: the objects and their
    motion, the camera path, the background and the degradation schedule.

    Args:
        rng (np.random.Generator): The video's own random generator.
        num_frames (int): Number of frames L.
        width (int): Frame width W.
        height (int): Frame height H.
        speed_offset (int): Object j gets the speed class
            ``SPEED_CLASSES[(speed_offset + j) % 3]``.
        degradations (Sequence[str]): The kinds degraded runs draw from.

    Returns:
        tuple: ``tracks`` (1 to 3 :class:`_Track`, in drawing order), the
        background ``canvas`` ``(H + 2 Py, W + 2 Px, 3)`` uint8 BGR (``P``
        the camera's largest offset plus 2 px), the camera's velocity
        ``(2, )`` (x, y) in pixels per frame, the
        ``schedule`` (per frame ``'none'`` or a degradation kind) and the
        :class:`SceneMotion`.
    """
    tracks = [
        _sample_track(rng, width, height, num_frames,
                      SPEED_CLASSES[(speed_offset + j) % len(SPEED_CLASSES)])
        for j in range(int(rng.integers(1, 4)))
    ]
    camera = _camera_path(rng, num_frames)
    camera_velocity = camera[1] - camera[0] if num_frames > 1 else np.zeros(2)
    pan = np.abs(camera).max(axis=0).astype(int) + 2
    canvas = _background(rng, width + 2 * pan[0], height + 2 * pan[1])
    schedule = degradation_schedule(rng, num_frames, degradations)
    motion = SceneMotion(
        tracks=tracks,
        camera_offsets=(pan[None] + np.round(camera)).astype(np.int64))
    return tracks, canvas, camera_velocity, schedule, motion


def _paste_objects(frame: np.ndarray, tracks: Sequence[_Track], t: int,
                   width: int, height: int) -> List[dict]:
    """Paste every track's sprite into frame ``t``, later tracks in front,
    and annotate the objects in view.

    An object is marked occluded when a later (front) object's visible box
    covers more than a tenth of its own.

    Args:
        frame (np.ndarray): ``(H, W, 3)`` uint8 BGR background of the frame,
            painted in place.
        tracks (Sequence[_Track]): The objects, in drawing order.
        t (int): The frame index.
        width (int): Frame width W.
        height (int): Frame height H.

    Returns:
        list[dict]: Per object in view, ``trackid``, ``label``, ``bbox``
        (x1, y1, x2, y2) clipped to the image and ``occluded``.
    """
    frame_objects = []
    for trackid, track in enumerate(tracks):  # later tracks are in front
        box = track.box(t)
        sprite, mask = render_sprite(track.label, box[2] - box[0],
                                     box[3] - box[1], track.bright, track.dark)
        _paste(frame, sprite, mask, box)
        shown = visible_box(box, width, height)
        for obj in frame_objects:
            if shown is not None and _covered_fraction(obj['bbox'],
                                                       [shown]) > 0.1:
                obj['occluded'] = True
        if shown is not None:
            frame_objects.append(
                dict(
                    trackid=trackid,
                    label=track.label,
                    bbox=shown,
                    occluded=False))
    return frame_objects


def _degrade_frame(rng: np.random.Generator, frame: np.ndarray,
                   background: np.ndarray, frame_objects: List[dict],
                   kind: str, tracks: Sequence[_Track], t: int,
                   camera_velocity: np.ndarray, blur: str) -> np.ndarray:
    """Apply frame ``t``'s scheduled degradation.

    An ``occlusion`` frame marks all its objects occluded (in place). A
    ``blur`` frame with ``blur == 'motion'`` is rendered again as a long
    exposure of ``background`` and ``tracks``; every other kind goes
    through :func:`apply_degradation`.

    Args:
        rng (np.random.Generator): The video's own random generator.
        frame (np.ndarray): ``(H, W, 3)`` uint8 BGR rendered frame.
        background (np.ndarray): ``(H, W, 3)`` uint8 BGR background
            without objects.
        frame_objects (list[dict]): The frame's objects
            (:func:`_paste_objects`).
        kind (str): ``'none'`` or a degradation kind.
        tracks (Sequence[_Track]): The objects, in drawing order.
        t (int): The frame index.
        camera_velocity (np.ndarray): ``(2, )`` camera motion per frame.
        blur (str): One of :data:`BLUR_MODES`.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR degraded frame.
    """
    if kind == 'occlusion':
        for obj in frame_objects:
            obj['occluded'] = True
    if kind == 'blur' and blur == 'motion':
        return render_long_exposure(background, tracks, t, camera_velocity,
                                    float(rng.uniform(*MOTION_BLUR_EXPOSURE)))
    return apply_degradation(frame, kind, [o['bbox'] for o in frame_objects],
                             rng)


def _frame_xml(folder: str, frame_id: int, width: int, height: int,
               objects: List[dict], degradation: str,
               class_table: ClassTable) -> ET.ElementTree:
    """Build the ILSVRC-style annotation of one frame."""
    root = ET.Element('annotation')
    ET.SubElement(root, 'folder').text = folder
    ET.SubElement(root, 'filename').text = f'{frame_id:06d}'
    source = ET.SubElement(root, 'source')
    ET.SubElement(source, 'database').text = 'SynthVID'
    size = ET.SubElement(root, 'size')
    ET.SubElement(size, 'width').text = str(width)
    ET.SubElement(size, 'height').text = str(height)
    ET.SubElement(root, 'degradation').text = degradation
    for obj in objects:
        node = ET.SubElement(root, 'object')
        ET.SubElement(node, 'trackid').text = str(obj['trackid'])
        ET.SubElement(node, 'name').text = class_table[obj['label']][0]
        box = ET.SubElement(node, 'bndbox')
        for tag, value in zip(('xmin', 'ymin', 'xmax', 'ymax'), obj['bbox']):
            ET.SubElement(box, tag).text = str(int(value))
        ET.SubElement(node, 'occluded').text = str(int(obj['occluded']))
        ET.SubElement(node, 'generated').text = '0'
    return ET.ElementTree(root)


def _video_name(split: str, index: int) -> str:
    """Video path relative to ``Data/VID`` (ILSVRC2015 naming)."""
    if split == 'train':
        return (f'train/SynthVID_VID_train_{index // 1000:04d}/'
                f'SynthVID_train_{index:08d}')
    return f'val/SynthVID_val_{index:08d}'


def render_split(
        split: str,
        num_videos: int,
        num_frames: int = 40,
        width: int = 160,
        height: int = 96,
        seed: int = 0,
        blur: str = 'frame',
        degradations: Sequence[str] = DEGRADATIONS) -> Iterator[tuple]:
    """Render the videos of one split in order, without writing them.

    Video ``i`` of a split is drawn from child ``i`` of
    ``SeedSequence([seed, SPLIT_STREAMS[split]])`` with ``speed_offset=i``:
    for ``train`` and ``val`` exactly the videos :func:`generate_split`
    writes; ``flow`` is a third, disjoint stream of videos for FlowNet
    pre-training.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'flow'``.
        num_videos (int): Number of videos.
        num_frames (int): Frames per video. Defaults to 40.
        width (int): Frame width. Defaults to 160.
        height (int): Frame height. Defaults to 96.
        seed (int): Data set seed. Defaults to 0.
        blur (str): One of :data:`BLUR_MODES`. Defaults to ``'frame'``.
        degradations (Sequence[str]): The kinds degraded runs draw from.
            Defaults to :data:`DEGRADATIONS`.

    Yields:
        tuple: :func:`render_video`'s output, one video at a time.
    """
    if split not in SPLIT_STREAMS:
        raise ValueError(f'split must be one of {sorted(SPLIT_STREAMS)}, '
                         f'got {split!r}')
    children = np.random.SeedSequence([seed,
                                       SPLIT_STREAMS[split]]).spawn(num_videos)
    for index, child in enumerate(children):
        yield render_video(
            np.random.default_rng(child),
            num_frames,
            width,
            height,
            speed_offset=index,
            blur=blur,
            degradations=degradations)


def check_split_arguments(split: str, num_videos: int, num_frames: int,
                          width: int, height: int, blur: str,
                          degradations: Sequence[str]) -> None:
    """Raise a ValueError for arguments :func:`generate_split` cannot use.

    Args:
        split (str): ``'train'`` or ``'val'``.
        num_videos (int): Number of videos, ``>= 1``.
        num_frames (int): Frames per video, ``>= 1``.
        width (int): Frame width, at least 16 and wide enough for the
            objects at ``height``.
        height (int): Frame height, at least 16.
        blur (str): One of :data:`BLUR_MODES`.
        degradations (Sequence[str]): Kinds of :data:`DEGRADATIONS`.
    """
    if split not in ('train', 'val'):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if num_videos < 1 or num_frames < 1 or min(width, height) < 16:
        raise ValueError(f'the {split} split needs num_videos >= 1, '
                         'num_frames >= 1 and frames of at least 16x16, got '
                         f'{num_videos}, {num_frames}, {width}x{height}')
    if width < _MIN_WIDTH_PER_HEIGHT * height:
        raise ValueError(
            f'frames of {width}x{height} are too narrow for the objects '
            f'(up to {_MAX_SIZE} of the height, {_MARGIN} of their size '
            f'from each side): need a width of at least '
            f'{math.ceil(_MIN_WIDTH_PER_HEIGHT * height)}')
    check_blur_mode(blur)
    check_degradations(degradations)


def generate_split(out_dir: str,
                   split: str,
                   num_videos: int,
                   num_frames: int = 40,
                   width: int = 160,
                   height: int = 96,
                   seed: int = 0,
                   overwrite: bool = False,
                   show_progress: bool = False,
                   blur: str = 'frame',
                   degradations: Sequence[str] = DEGRADATIONS) -> dict:
    """Write one split of SynthVID in the ILSVRC2015 VID layout.

    Args:
        out_dir (str): Data set root.
        split (str): ``'train'`` or ``'val'``.
        num_videos (int): Number of videos.
        num_frames (int): Frames per video. Defaults to 40.
        width (int): Frame width. Defaults to 160.
        height (int): Frame height. Defaults to 96.
        seed (int): Data set seed; the split's stream is
            ``SeedSequence([seed, 0 if train else 1])``. Defaults to 0.
        overwrite (bool): Replace an existing SynthVID split (its
            ``Data/VID``, ``Annotations/VID`` folders, image sets and
            converted CocoVID file) instead of raising ``FileExistsError``.
            A split of other data is never deleted: it raises
            ``FileExistsError`` naming what is not SynthVID's. Defaults to
            False.
        show_progress (bool): Show a tqdm bar. Defaults to False.
        blur (str): One of :data:`BLUR_MODES`. Defaults to ``'frame'``.
        degradations (Sequence[str]): The kinds degraded runs draw from.
            Defaults to :data:`DEGRADATIONS`.

    Returns:
        dict: Counts: ``videos``, ``frames``, ``boxes`` and per degradation
        kind of :data:`DEGRADATIONS` the number of frames.
    """
    check_split_arguments(split, num_videos, num_frames, width, height, blur,
                          degradations)  # before an existing split is cleared
    _clear_split(out_dir, split, overwrite)
    stats = dict(videos=num_videos, frames=0, boxes=0)
    stats.update({kind: 0 for kind in DEGRADATIONS})
    class_videos: Dict[int, List[str]] = {}
    val_lines = []
    videos = render_split(split, num_videos, num_frames, width, height, seed,
                          blur, degradations)
    for index, (frames, objects, schedule, _) in enumerate(
            tqdm(
                videos,
                total=num_videos,
                desc=f'SynthVID {split}',
                disable=not show_progress)):
        name = _video_name(split, index)
        for d in ('Data', 'Annotations'):
            os.makedirs(osp.join(out_dir, d, 'VID', name), exist_ok=True)
        for t, (frame, objs) in enumerate(zip(frames, objects)):
            cv2.imwrite(
                osp.join(out_dir, 'Data', 'VID', name, f'{t:06d}.JPEG'), frame,
                [cv2.IMWRITE_JPEG_QUALITY, 90])
            _frame_xml(name, t, width, height, objs, schedule[t],
                       SYNTHVID_CLASS_TABLE).write(
                           osp.join(out_dir, 'Annotations', 'VID', name,
                                    f'{t:06d}.xml'))
            if split == 'val':
                val_lines.append(f'{name[len("val/"):]}/{t:06d}')
            stats['boxes'] += len(objs)
            for obj in objs:
                class_videos.setdefault(obj['label'], []).append(name)
        stats['frames'] += num_frames
        for kind in schedule:
            if kind != 'none':
                stats[kind] += 1
    _write_image_sets(out_dir, split, class_videos, val_lines)
    return stats


# The parts of a SynthVID video's path below ``Data/VID`` (see
# :func:`_video_name`), one pattern per folder level.
_VIDEO_PATH_PARTS: Dict[str, Tuple[str, ...]] = {
    'train': ('train', r'SynthVID_VID_train_\d{4}', r'SynthVID_train_\d{8}'),
    'val': ('val', r'SynthVID_val_\d{8}'),
}


def _split_paths(out_dir: str, split: str) -> Tuple[List[str], List[str]]:
    """The folders and files of a split that exist under ``out_dir``.

    Returns:
        tuple[list[str], list[str]]: The split's ``Data/VID`` and
        ``Annotations/VID`` folders, and its image set files and the
        CocoVID file converted from it
        (``annotations/imagenet_vid_<split>.json``).
    """
    dirs = [
        osp.join(out_dir, d, 'VID', split) for d in ('Data', 'Annotations')
    ]
    files = glob.glob(
        osp.join(out_dir, 'ImageSets', 'VID',
                 'train_*.txt' if split == 'train' else 'val.txt'))
    converted = osp.join(out_dir, 'annotations', VID_ANN_FILES[split])
    if osp.exists(converted):
        files.append(converted)
    return [d for d in dirs if osp.exists(d)], sorted(files)


def _first_foreign_path(split_dir: str, split: str) -> Optional[str]:
    """The first entry of a split folder that SynthVID did not name.

    SynthVID writes only its video folders (``SynthVID_VID_train_0000/
    SynthVID_train_00000000``, ``SynthVID_val_00000000``) into a split
    folder; what is inside a video folder is not checked.

    Returns:
        str, optional: The path of an entry of another name, or a file
        where a folder belongs; None if there is none.
    """
    levels = [split_dir]
    for part in _VIDEO_PATH_PARTS[split][1:]:
        below = []
        for folder in levels:
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if not (entry.is_dir() and re.fullmatch(part, entry.name)):
                    return entry.path
                below.append(entry.path)
        levels = below
    return None


def _is_synthvid_file(path: str, split: str) -> bool:
    """Whether an image set or converted CocoVID file lists only SynthVID
    videos of ``split``."""
    name = '/'.join(_VIDEO_PATH_PARTS[split][1:])
    if path.endswith('.txt'):
        line = re.compile(name + (r'/\d{6} \d+' if split == 'val' else r' 1'))
        with open(path) as f:
            return all(
                line.fullmatch(text.strip()) for text in f if text.strip())
    try:
        with open(path) as f:
            videos = json.load(f)['videos']
        return all(
            re.fullmatch(f'{split}/{name}', video['name']) for video in videos)
    except (ValueError, KeyError, TypeError):
        return False


def _clear_split(out_dir: str, split: str, overwrite: bool) -> None:
    """Remove an existing split (if ``overwrite``) so no stale frame stays.

    The split is its frames, XMLs and image set files, and the CocoVID
    file converted from them (``annotations/imagenet_vid_<split>.json``),
    which would otherwise pair the old boxes with the new frames. Without
    ``overwrite`` it only checks that there is none. With it, only what
    SynthVID wrote is removed (see :func:`_check_split_is_synthvid`).

    Raises:
        FileExistsError: If the split exists and ``overwrite`` is False, or
            if any of it was not written by SynthVID.
    """
    dirs, files = _split_paths(out_dir, split)
    if not dirs and not files:
        return
    if not overwrite:
        raise FileExistsError(
            f'{out_dir} already holds a {split} split ({(dirs + files)[0]}); '
            'pass overwrite=True (--overwrite) to replace it if it is '
            "SynthVID's")
    _check_split_is_synthvid(out_dir, split, dirs, files)
    for d in dirs:
        shutil.rmtree(d)
    for f in files:
        os.remove(f)


def _check_split_is_synthvid(out_dir: str, split: str, dirs: List[str],
                             files: List[str]) -> None:
    """Refuse to replace a split of which anything is not SynthVID's.

    An ``out_dir`` that points at a real ILSVRC root (or any other data)
    must not lose its frames, XMLs, image sets or converted annotations to
    ``overwrite``: every folder entry has to carry a SynthVID video name,
    every image set line has to list a SynthVID video, and the converted
    file has to be a CocoVID file of SynthVID videos.

    Args:
        out_dir (str): Data set root.
        split (str): ``'train'`` or ``'val'``.
        dirs (list[str]): The split's folders (:func:`_split_paths`).
        files (list[str]): The split's files (:func:`_split_paths`).

    Raises:
        FileExistsError: Naming the first path that is not SynthVID's.
    """
    foreign = [_first_foreign_path(d, split) for d in dirs]
    foreign += [f for f in files if not _is_synthvid_file(f, split)]
    foreign = [path for path in foreign if path is not None]
    if foreign:
        raise FileExistsError(
            f'{foreign[0]} is not SynthVID\'s: {out_dir} holds a {split} '
            'split of other data, which overwrite does not delete; '
            'generate SynthVID into another folder')


def _write_image_sets(out_dir: str, split: str, class_videos: Dict[int,
                                                                   List[str]],
                      val_lines: List[str]) -> None:
    """Write ``ImageSets/VID/train_<k>.txt`` or ``val.txt``."""
    set_dir = osp.join(out_dir, 'ImageSets', 'VID')
    os.makedirs(set_dir, exist_ok=True)
    if split == 'val':
        with open(osp.join(set_dir, 'val.txt'), 'w') as f:
            f.writelines(f'{line} {i}\n'
                         for i, line in enumerate(val_lines, 1))
        return
    for label in range(len(SYNTHVID_CLASS_TABLE)):
        names = sorted(set(class_videos.get(label, [])))
        with open(osp.join(set_dir, f'train_{label + 1}.txt'), 'w') as f:
            f.writelines(f'{n[len("train/"):]} 1\n' for n in names)


def generate_synthvid(out_dir: str,
                      num_train_videos: int = 24,
                      num_val_videos: int = 32,
                      num_frames: int = 40,
                      width: int = 160,
                      height: int = 96,
                      seed: int = 0,
                      overwrite: bool = False,
                      show_progress: bool = False,
                      blur: str = 'frame',
                      degradations: Sequence[str] = DEGRADATIONS) -> dict:
    """Write SynthVID (train and val) in the ILSVRC2015 VID layout.

    Args:
        out_dir (str): Data set root (gets ``Data``, ``Annotations``,
            ``ImageSets``).
        num_train_videos (int): Training videos. Defaults to 24.
        num_val_videos (int): Validation videos. Defaults to 32 (about
            70 object tracks, so every speed split has about 20).
        num_frames (int): Frames per video. Defaults to 40.
        width (int): Frame width. Defaults to 160.
        height (int): Frame height. Defaults to 96.
        seed (int): Seed; train and val use different streams of it.
            Defaults to 0.
        overwrite (bool): Replace existing SynthVID splits, and delete
            the settings file of the old data (``synthvid.json``, which
            ``tools/misc/gen_synthvid.py`` writes when both splits are
            done). Splits of other data (a real ILSVRC root given by
            mistake) are refused before anything is deleted. Defaults to
            False.
        show_progress (bool): Show tqdm bars. Defaults to False.
        blur (str): How ``blur`` frames are smeared, one of
            :data:`BLUR_MODES`. Defaults to ``'frame'``.
        degradations (Sequence[str]): The kinds degraded runs draw from,
            e.g. ``('blur', )`` for a SynthVID whose every degraded frame
            is blurred. Defaults to :data:`DEGRADATIONS`.

    Returns:
        dict: ``{'train': counts, 'val': counts}``, see
        :func:`generate_split`.
    """
    # both splits are checked, and refused, before either is written, so
    # that a refused run leaves no new train split beside an old val one,
    # and overwrite deletes neither if either is another data set's
    for split, n in (('train', num_train_videos), ('val', num_val_videos)):
        check_split_arguments(split, n, num_frames, width, height, blur,
                              degradations)
        if overwrite:
            _check_split_is_synthvid(out_dir, split,
                                     *_split_paths(out_dir, split))
        else:
            _clear_split(out_dir, split, overwrite=False)
    settings_path = osp.join(out_dir, SETTINGS_FILE)
    if overwrite and osp.exists(settings_path):
        # the settings of the data being replaced: a run stopped midway
        # would leave them to describe frames they did not make
        os.remove(settings_path)
    return {
        split:
        generate_split(out_dir, split, n, num_frames, width, height, seed,
                       overwrite, show_progress, blur, degradations)
        for split, n in (('train', num_train_videos), ('val', num_val_videos))
    }


def load_synthvid_settings(data_root: str) -> dict:
    """The generator settings of a SynthVID root (its ``synthvid.json``).

    A root written before blur modes existed has no ``blur`` entry; its
    ``blur`` frames were smeared as ``'frame'``, which is filled in. One
    written before ``degradations`` existed drew from every kind, which is
    filled in likewise (as a list, as the generator writes it).

    Args:
        data_root (str): Root written by ``tools/misc/gen_synthvid.py``.

    Returns:
        dict: The settings, at least ``num_train_videos``,
        ``num_val_videos``, ``num_frames``, ``width``, ``height``, ``seed``,
        ``blur`` and ``degradations``.
    """
    path = osp.join(data_root, SETTINGS_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: generate SynthVID first '
            '(python tools/misc/gen_synthvid.py --out DATA_ROOT)')
    settings = load_json_object(path, path)
    keys = ('num_train_videos', 'num_val_videos', 'num_frames', 'width',
            'height', 'seed')
    missing = [k for k in keys if k not in settings]
    if missing:
        raise KeyError(f'{path} lacks the generator settings {missing}')
    settings.setdefault('blur', 'frame')
    if settings['blur'] not in BLUR_MODES:
        raise ValueError(f'{path}: blur must be one of {BLUR_MODES}, got '
                         f'{settings["blur"]!r}')
    settings.setdefault('degradations', list(DEGRADATIONS))
    try:
        check_degradations(settings['degradations'])
    except ValueError as err:
        raise ValueError(f'{path}: {err}') from None
    return settings


def box_motion_ious(coco_vid: dict, window: int = 10) -> np.ndarray:
    """Motion IoU of every box of a CocoVID dict, as the VID metric's speed
    splits take it (:func:`compute_motion_iou`).

    The motion IoU of a box is the mean IoU (the devkit's inclusive
    convention) with the boxes of the same track in the frames of its video
    within ``+-window`` (the box itself excluded); a box whose track has
    no box there gets 0, and so counts as fast, as in the metric. Speed
    classes: fast < 0.7 <= medium <= 0.9 < slow.

    Args:
        coco_vid (dict): CocoVID ``images`` (with ``video_id`` and
            ``frame_id``) and ``annotations`` (with ``instance_id``).
        window (int): Half window in frames. Defaults to 10.

    Returns:
        np.ndarray: ``(B,)`` float64 motion IoUs, one per annotation, in
        the order of the images and, within one, of the annotations.
    """
    boxes_of: Dict[Any, List[dict]] = {}
    for ann in coco_vid['annotations']:
        boxes_of.setdefault(ann['image_id'], []).append(ann)
    frames = []
    for img in coco_vid['images']:
        anns = boxes_of.get(img['id'], [])
        frames.append(
            dict(
                video_id=img['video_id'],
                frame_id=img['frame_id'],
                bboxes=np.array([[x, y, x + w, y + h]
                                 for x, y, w, h in (a['bbox'] for a in anns)],
                                dtype=np.float64).reshape(-1, 4),
                instance_ids=np.array([a['instance_id'] for a in anns],
                                      dtype=np.int64)))
    return np.concatenate(
        [np.zeros(0), *compute_motion_iou(frames, window=window)])


def speed_split(motion_ious: np.ndarray) -> Dict[str, float]:
    """Fractions of fast (< 0.7), medium and slow (> 0.9) boxes.

    Args:
        motion_ious (np.ndarray): ``(G,)`` motion IoU of each box.

    Returns:
        dict[str, float]: ``fast``, ``medium`` (0.7 to 0.9, both
        included) and ``slow``, each a fraction of the G boxes (all 0.0
        when there is none).
    """
    n = max(len(motion_ious), 1)
    return dict(
        fast=float((motion_ious < 0.7).sum()) / n,
        medium=float(((motion_ious >= 0.7) & (motion_ious <= 0.9)).sum()) / n,
        slow=float((motion_ious > 0.9).sum()) / n)


def _class_colours(num_classes: int) -> List[Tuple[int, int, int]]:
    return [
        _hsv_to_bgr(_CLASS_HUES[i % len(_CLASS_HUES)], 0.9, 1.0)
        for i in range(num_classes)
    ]


def _preview_frames(schedule: List[str], num_cols: int,
                    kind: str) -> List[int]:
    """Consecutive frames from 2 before the first ``kind`` frame."""
    num_frames = len(schedule)
    if num_frames <= num_cols:
        return list(range(num_frames))
    first = schedule.index(kind) if kind in schedule else 2
    start = int(np.clip(first - 2, 0, num_frames - num_cols))
    return list(range(start, start + num_cols))


def _preview_rows(schedules: Dict[str, List[str]], num_rows: int,
                  num_cols: int) -> List[Tuple[str, List[int]]]:
    """Pick ``(video, frames)`` per row; row r shows degradation r % 4."""
    rows, used = [], set()
    for r in range(num_rows):
        kind = DEGRADATIONS[r % len(DEGRADATIONS)]
        fresh = [n for n in schedules if n not in used]
        name = ([n for n in fresh if kind in schedules[n]] or fresh
                or list(schedules))[0]
        used.add(name)
        rows.append((name, _preview_frames(schedules[name], num_cols, kind)))
    return rows


def _draw_tile(img: np.ndarray, info: dict, title: str,
               scale: int) -> np.ndarray:
    """Upscale a frame, draw its boxes, class names and a title."""
    synset2label = {s: i for i, (s, _) in enumerate(SYNTHVID_CLASS_TABLE)}
    colours = _class_colours(len(SYNTHVID_CLASS_TABLE))
    img = cv2.resize(
        img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    for obj in info['objects']:
        label = synset2label[obj['name']]
        x1, y1, x2, y2 = (int(v * scale) for v in obj['bbox'])
        cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), colours[label], 1)
        cv2.putText(img, SYNTHVID_CLASSES[label], (x1, max(y1 - 2, 8)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, colours[label], 1)
    cv2.putText(img, title, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (255, 255, 255), 1)
    return cv2.copyMakeBorder(img, 1, 1, 1, 1, cv2.BORDER_CONSTANT)


def render_preview(root: str,
                   out_file: str,
                   split: str = 'val',
                   num_rows: int = 4,
                   num_cols: int = 6,
                   scale: int = 2) -> np.ndarray:
    """Render a contact sheet of SynthVID frames with their boxes (PNG).

    Row r shows ``num_cols`` consecutive frames of a video around its first
    frame with degradation ``DEGRADATIONS[r % 4]`` (a different video per
    row where possible), with boxes, class names, frame number and
    degradation kind.

    Args:
        root (str): SynthVID root.
        out_file (str): Output image path (e.g. ``docs/synthvid.png``).
        split (str): Split to show. Defaults to ``'val'``.
        num_rows (int): Number of rows. Defaults to 4.
        num_cols (int): Frames per row. Defaults to 6.
        scale (int): Upscaling factor. Defaults to 2.

    Returns:
        np.ndarray: The sheet, ``(rows*(scale*H+2), cols*(scale*W+2), 3)``
        uint8 BGR.
    """
    infos = {}
    for name in read_vid_video_list(root, split):
        ann_dir = osp.join(root, 'Annotations', 'VID', name)
        infos[name] = [
            parse_voc_xml(osp.join(ann_dir, f))
            for f in sorted(os.listdir(ann_dir))
        ]
    schedules = {
        n: [i['degradation'] or 'none' for i in v]
        for n, v in infos.items()
    }
    rows = []
    for name, frames in _preview_rows(schedules, num_rows, num_cols):
        tiles = [
            _draw_tile(
                cv2.imread(
                    osp.join(root, 'Data', 'VID', name, f'{t:06d}.JPEG')),
                infos[name][t], f'frame {t}: {schedules[name][t]}', scale)
            for t in frames
        ]
        while len(tiles) < num_cols:
            tiles.append(np.zeros_like(tiles[0]))
        rows.append(np.concatenate(tiles, axis=1))
    sheet = np.concatenate(rows, axis=0)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    try:
        written = cv2.imwrite(out_file, sheet,
                              [cv2.IMWRITE_PNG_COMPRESSION, 9])
    except cv2.error as err:  # e.g. no writer for the file's extension
        raise ValueError(f'cannot write preview image {out_file}: '
                         f'{err}') from err
    if not written:
        raise ValueError(f'cannot write preview image {out_file}')
    return sheet
