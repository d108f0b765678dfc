# Copyright (c) memvid_mm contributors. All rights reserved.
"""Online (streaming) inference with an explicit state per video.

Example::

    from memvid_mm.apis import OnlineVideoInferencer, init_video_detector
    model = init_video_detector('configs/clocknet/...py', 'ckpt.pth')
    inferencer = OnlineVideoInferencer(model)
    for frame_id, frame in enumerate(frames_of_video_a):
        result = inferencer(frame, video_id='a', frame_id=frame_id)
        result.pred_instances.bboxes  # (R, 4) x1y1x2y2, original image

Several videos can be interleaved: each ``video_id`` keeps its own state
(a :class:`MemoryState`; a :class:`SplitHalvesState` with
``test_cfg.split_halves``; a :class:`StrongFeatureState` for a
:class:`StrongFeatureRFCN`), created on its first frame and dropped by
:meth:`OnlineVideoInferencer.close`.
"""
import copy
import logging
import os
from typing import Dict, Hashable, Optional, Union

import numpy as np
import torch
from mmdet.registry import DATASETS, MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from ..models.detectors import MemoryRFCN, StrongFeatureRFCN
from ..models.layers import MemoryState, SplitHalvesState, StrongFeatureState
from ..utils import full_checkpoint_loading, load_fitting_checkpoint
from ..utils.argument_checks import is_int
from ..utils.checkpoint import (check_checkpoint_file, check_num_classes,
                                trained_classes)
from ..utils.trained_settings import other_model_settings


def init_video_detector(config: Union[str, os.PathLike, Config],
                        checkpoint: Optional[Union[str, os.PathLike]] = None,
                        device: str = 'cpu') -> torch.nn.Module:
    """Build a memvid_mm video detector from a config and a checkpoint.

    Args:
        config (str, os.PathLike or Config): Config file or object.
        checkpoint (str or os.PathLike, optional): Checkpoint to load; it
            must fit the model key for key and shape for shape (a
            RuntimeError names what does not). Defaults to None: the
            model keeps the random weights it was built with (no
            ``init_cfg`` is applied either), with a logged warning; for
            tests of the plumbing only.
        device (str): Device to put the model on. Defaults to ``'cpu'``.

    Returns:
        nn.Module: The model in eval mode with ``cfg`` attached, and
        ``dataset_meta`` (the class names of the predicted labels) from the
        checkpoint's ``meta['dataset_meta']`` (as the runner saves it),
        else from the test dataset of ``cfg``.

    Raises:
        IsADirectoryError: If ``checkpoint`` is a directory (a
            ``work_dir``); raised before the model is built.
        ValueError: If those class names are not as many as the classes
            a box head of the model predicts (the strong detector's too).
    """
    if isinstance(config, os.PathLike):
        config = os.fspath(config)
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)  # mmengine takes str paths
        check_checkpoint_file(checkpoint)  # before the model is built
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    # a copy: building may fill nested configs in (TwoStageDetector's
    # roi_head takes its test_cfg), and cfg.model is compared with the
    # checkpoint's below
    model = MODELS.build(copy.deepcopy(cfg.model))
    dataset_meta = None
    if checkpoint is None:
        print_log(
            f'init_video_detector got no checkpoint: the '
            f'{type(model).__name__} keeps the random weights it was built '
            f'with, so its detections mean nothing',
            logger='current',
            level=logging.WARNING)
    else:
        with full_checkpoint_loading():  # only for this trusted load
            loaded = load_fitting_checkpoint(model, checkpoint)
        settings = other_model_settings(loaded, cfg.model, checkpoint)
        if settings is not None:
            print_log(settings, logger='current', level=logging.WARNING)
        if trained_classes(loaded, checkpoint) is not None:
            dataset_meta = loaded['meta']['dataset_meta']
    model.dataset_meta = dataset_meta or _test_dataset_meta(cfg)
    source = (f"checkpoint {checkpoint}'s meta"
              if dataset_meta else "the config's test dataset")
    # every head: a strong detector's boxes reach the output too
    check_num_classes(model, model.dataset_meta['classes'], source)
    model.cfg = cfg
    return model.to(device).eval()


def _test_dataset_meta(cfg: Config) -> dict:
    """``{'classes': ...}`` of the test dataset of ``cfg``."""
    dataset = cfg.test_dataloader.dataset
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None:
        classes = DATASETS.get(dataset.type).METAINFO['classes']
    return dict(classes=tuple(classes))


# Test-pipeline loaders that read ``img_path``; the inferencer is handed
# the frames themselves.
_FILE_LOADERS = ('LoadImageFromFile', 'LoadVIDFrame')


def _inference_pipeline(cfg: Config) -> Compose:
    """The test pipeline of ``cfg`` reading in-memory frames, no labels."""
    pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    for step in pipeline:
        if step['type'] != 'TransformBroadcaster':
            continue
        transforms = []
        for transform in step['transforms']:
            if transform['type'] in _FILE_LOADERS:
                transform = dict(type='mmdet.LoadImageFromNDArray')
            if 'Annotations' not in transform['type']:
                transforms.append(transform)
        step['transforms'] = transforms
    return Compose(pipeline)


def check_frame(image: np.ndarray, video_id: Hashable, frame_id: int) -> None:
    """Raise a ValueError naming what is wrong with a frame to detect in.

    Args:
        image (np.ndarray): Must be (H, W, 3) uint8 (BGR, as OpenCV reads
            it), H, W >= 1; a float image in [0, 1] or an RGBA one would give
            detections without a warning.
        video_id (Hashable): Must be hashable and not None.
        frame_id (int): Must be an int >= 0.
    """
    where = f'video {video_id!r}, frame {frame_id!r}'
    if not isinstance(image, np.ndarray) or image.ndim != 3 or \
            image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f'{where}: image must be an (H, W, 3) BGR array, '
                         f'H, W >= 1, got '
                         f'{getattr(image, "shape", type(image))}')
    if image.dtype != np.uint8:
        raise ValueError(f'{where}: image must be uint8 (0-255, BGR), got '
                         f'{image.dtype}')
    if video_id is None:
        raise ValueError(f'{where}: video_id must not be None')
    try:  # it keys the video's state
        hash(video_id)
    except TypeError:
        raise ValueError(f'{where}: video_id must be hashable (a str or an '
                         f'int), got a {type(video_id).__name__}') from None
    if not is_int(frame_id) or frame_id < 0:
        raise ValueError(f'{where}: frame_id must be an int >= 0')


class OnlineVideoInferencer:
    """Feed frames one at a time; keep one online state per video.

    Args:
        model (nn.Module): A :class:`MemoryRFCN` or
            :class:`StrongFeatureRFCN` built with :func:`init_video_detector`
            (``model.cfg`` gives the pipeline); its ``new_online_state``
            makes each video's state.
    """

    def __init__(self, model: Union[MemoryRFCN, StrongFeatureRFCN]) -> None:
        if not isinstance(model, (MemoryRFCN, StrongFeatureRFCN)):
            raise TypeError(f'OnlineVideoInferencer needs a MemoryRFCN or a '
                            f'StrongFeatureRFCN, got {type(model).__name__}')
        self.model = model
        self.pipeline = _inference_pipeline(model.cfg)
        self.states: Dict[Hashable, Union[MemoryState, SplitHalvesState,
                                          StrongFeatureState]] = {}

    def close(self, video_id: Hashable) -> None:
        """Forget the state of ``video_id``.

        A video without a state (never fed, or closed already) is ignored.

        Args:
            video_id (Hashable): The stream whose state is dropped.
        """
        self.states.pop(video_id, None)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, video_id: Hashable,
                 frame_id: int) -> DetDataSample:
        """Detect objects in one frame of a video.

        Each video's state lives until :meth:`close` (or a restart of the
        video at frame 0, which resets it): close the videos that ended.

        Args:
            image (np.ndarray): The frame, (H, W, 3) uint8 BGR.
            video_id (Hashable): Which stream the frame belongs to (not
                None).
            frame_id (int): Its index in the stream, from 0; any id but
                the next (a gap, a repeat, an earlier one or a restart at
                0) resets the stream's memory, and the model logs the first
                such restart mid-video of each video.

        Returns:
            :obj:`DetDataSample`: ``pred_instances`` in image coordinates.

        Raises:
            RuntimeError: When the model is in training mode.
            TypeError: When the model's weights are not float32 (cast to
                half or double; ``torch.autocast`` keeps them float32).
            ValueError: For an image that is not an (H, W, 3) uint8 array,
                a ``video_id`` of None or a negative ``frame_id``; and,
                from the model, with the image's own (H, W) in the message:
                for a frame whose resized size (before padding) differs
                from the earlier frames' of its video (another aspect
                ratio, also one that pads to the same input), which
                leaves the state as it was before the frame (send the frame
                again at the video's size, or the next frame id is a gap
                and resets the memory); and for a frame whose flow held NaN
                or infinite values, which resets the video's state.
        """
        check_frame(image, video_id, frame_id)
        if self.model.training:
            raise RuntimeError(
                'OnlineVideoInferencer got a model in training mode (its '
                'BatchNorm layers would use and update the statistics of '
                'each frame); call model.eval() first (init_video_detector '
                'returns it so)')
        weight_dtype = next(self.model.parameters()).dtype
        if weight_dtype != torch.float32:
            raise TypeError(
                'OnlineVideoInferencer runs float32 models (the data '
                "preprocessor gives float32 frames), but the model's weights "
                f'are {weight_dtype}; keep them float32 (torch.autocast runs '
                'half precision with float32 weights)')
        try:
            data = self.pipeline(
                dict(
                    img=[image],
                    img_id=[frame_id],
                    img_path=[None],
                    frame_id=[frame_id],
                    video_id=[video_id]))
        except Exception as err:  # e.g. OpenCV's resize of a 1-pixel side
            raise ValueError(
                f'video {video_id!r}, frame {frame_id!r}: the test pipeline '
                f'failed on this {image.shape[0]}x{image.shape[1]} (H x W) '
                f'frame: {type(err).__name__}: {err}') from err
        data = self.model.data_preprocessor(
            dict(inputs=[data['inputs']], data_samples=[data['data_samples']]),
            False)
        if video_id not in self.states:
            self.states[video_id] = self.model.new_online_state()
        state = self.states[video_id]
        try:
            return self.model.predict_frame(data['inputs'][0],
                                            data['data_samples'][0][0], state)
        except ValueError as error:
            # the model sees the resized network input; name the caller's
            raise ValueError(f'{error} (the image passed in is '
                             f'{tuple(image.shape[:2])} (H, W) before '
                             f'resizing)') from error
