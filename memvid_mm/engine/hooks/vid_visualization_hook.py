# Copyright (c) memvid_mm contributors. All rights reserved.
"""Draw the per-frame detections of video detectors, frame by frame."""
import logging
import os.path as osp
import warnings
from typing import Optional

import mmcv
from mmdet.registry import HOOKS
from mmdet.structures import DetDataSample, TrackSampleList
from mmengine.dist import get_world_size, is_main_process
from mmengine.fileio import get
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import BaseLoop, Runner
from mmengine.utils import mkdir_or_exist
from mmengine.visualization import Visualizer

from ...datasets.transforms import STORED_PIXELS
from ...utils.argument_checks import is_int


def video_and_frame_name(img_path: str) -> tuple:
    """Split a frame path ``.../<video>/<frame file>`` into its two names.

    Args:
        img_path (str): Path of a frame, e.g.
            ``data/ILSVRC/Data/VID/val/<video>/000000.JPEG``.

    Returns:
        tuple[str, str]: The video folder name (the frame's parent
        directory) and the frame file name.
    """
    video_dir, frame_name = osp.split(img_path)
    return osp.basename(video_dir), frame_name


def backend_step(runner: Runner, batch_idx: int) -> int:
    """The step a drawing is recorded at in the ``vis_backends``.

    In a training's validation it is the training iteration
    (``runner.iter``), as mmengine's hooks record it. In a test, or a
    validation on its own, it is the batch's index in the loop:
    ``runner.iter`` there would build the train loop, training data set
    included (slow for ImageNet VID, and an error where only the test data
    is at hand).

    Args:
        runner (:obj:`Runner`): The runner.
        batch_idx (int): Index of the batch in the val or test loop.

    Returns:
        int: The step.
    """
    train_loop = getattr(runner, '_train_loop', None)
    return runner.iter if isinstance(train_loop, BaseLoop) else batch_idx


@HOOKS.register_module()
class VIDVisualizationHook(Hook):
    """Draw GT and predictions of every ``frame_interval``-th video frame.

    The video detectors (``MemoryRFCN``, ``PerFrameVideoDetector``) return
    one :obj:`TrackDataSample` per video clip whose frames are
    :obj:`DetDataSample` with ``pred_instances``. After each val and test
    iteration this hook draws each output frame whose per-video
    ``frame_id`` (metainfo) is a multiple of ``frame_interval``, whatever
    the sampler and however many frames an iteration serves, with the
    runner's visualizer (a ``DetLocalVisualizer``): ground truth on the
    left, predictions above ``score_thr`` on the right.

    In testing, with ``test_out_dir`` the drawings are written to
    ``<work_dir>/<timestamp>/<test_out_dir>/<video>/<frame file>``, the
    video being the frame's parent directory (as in the ILSVRC VID layout
    ``Data/VID/val/<video>/<frame>.JPEG``), so frames of different videos
    do not collide. With ``show`` they are displayed; otherwise (and in
    validation) they go to the visualizer's ``vis_backends``. MMDetection's
    visualizer draws on rank 0 only (``master_only``, its ``dataset_meta``
    too), and ``TrackImgSampler`` gives each rank whole videos, so a
    distributed test draws rank 0's videos only: test with one process to
    draw them all.

    Args:
        draw (bool): Whether to draw at all. Defaults to False.
        frame_interval (int): Draw the frames whose ``frame_id`` is a
            multiple of it. Defaults to 30.
        score_thr (float): Score threshold of the drawn predictions.
            Defaults to 0.3.
        show (bool): Whether to display the drawings in a window (the
            visualizer's ``vis_backends`` are then dropped). Defaults to
            False.
        wait_time (float): Seconds each shown drawing stays. Defaults
            to 0.
        test_out_dir (str, optional): Folder, relative to
            ``<work_dir>/<timestamp>``, for the test drawings. Defaults
            to None.
        backend_args (dict, optional): Arguments of the file backend that
            reads the frames. Defaults to None.
    """

    def __init__(self,
                 draw: bool = False,
                 frame_interval: int = 30,
                 score_thr: float = 0.3,
                 show: bool = False,
                 wait_time: float = 0.,
                 test_out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        if not is_int(frame_interval) or frame_interval < 1:
            raise ValueError(f'frame_interval must be a positive int, got '
                             f'{frame_interval!r}')
        self._visualizer: Visualizer = Visualizer.get_current_instance()
        self.draw = draw
        self.frame_interval = frame_interval
        self.score_thr = score_thr
        self.show = show
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        self.backend_args = backend_args
        # whether the rank-0-only drawing of a distributed test was logged
        self.warned_distributed = False
        if show:
            self._visualizer._vis_backends = {}
            warnings.warn('VIDVisualizationHook: show=True displays the '
                          'drawings and stores nothing in vis_backends.')

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                       outputs: TrackSampleList) -> None:
        """Draw the selected frames of a val iteration to the backends.

        Args:
            runner (:obj:`Runner`): The runner of the validation.
            batch_idx (int): Index of the batch in the val loop.
            data_batch (dict): Data from the dataloader.
            outputs (Sequence[:obj:`TrackDataSample`]): Model outputs, one
                per clip, each holding T frames.
        """
        if self.draw:
            self._draw_outputs(
                runner,
                outputs,
                out_dir=None,
                step=backend_step(runner, batch_idx))

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                        outputs: TrackSampleList) -> None:
        """Draw the selected frames of a test iteration.

        Args:
            runner (:obj:`Runner`): The runner of the test.
            batch_idx (int): Index of the batch in the test loop.
            data_batch (dict): Data from the dataloader.
            outputs (Sequence[:obj:`TrackDataSample`]): Model outputs, one
                per clip, each holding T frames.
        """
        if not self.draw:
            return
        if get_world_size() > 1 and not self.warned_distributed:
            print_log(
                'VIDVisualizationHook: in a distributed test only rank 0 '
                "draws (MMDetection's visualizer is master_only), so only "
                'its videos are drawn; test with one process to draw all',
                logger='current',
                level=logging.WARNING)
            self.warned_distributed = True
        out_dir = None
        if self.test_out_dir is not None:
            out_dir = osp.join(runner.work_dir, runner.timestamp,
                               self.test_out_dir)
        self._draw_outputs(runner, outputs, out_dir,
                           backend_step(runner, batch_idx))

    def _draw_outputs(self, runner: Runner, outputs: TrackSampleList,
                      out_dir: Optional[str], step: int) -> None:
        """Draw every frame of ``outputs`` whose ``frame_id`` is selected.

        Args:
            runner (:obj:`Runner`): The runner.
            outputs (Sequence[:obj:`TrackDataSample`]): Model outputs.
            out_dir (str, optional): Folder of the drawn files; None draws
                to the display or the ``vis_backends``.
            step (int): Step recorded in the ``vis_backends``
                (:func:`backend_step`).

        Raises:
            ValueError: When a frame has no ``frame_id`` metainfo.
        """
        for track_sample in outputs:
            for t in range(len(track_sample)):
                frame = track_sample[t]
                frame_id = frame.metainfo.get('frame_id')
                if frame_id is None:
                    raise ValueError(
                        f'VIDVisualizationHook needs "frame_id" in the '
                        f'metainfo of frame {frame.metainfo.get("img_path")}')
                if frame_id % self.frame_interval == 0:
                    self._draw_frame(frame, step, out_dir)

    def _draw_frame(self, frame: DetDataSample, step: int,
                    out_dir: Optional[str]) -> None:
        """Read one frame from its ``img_path`` and draw GT and predictions.

        Args:
            frame (:obj:`DetDataSample`): The frame with ``img_path``,
                ``gt_instances`` and ``pred_instances``.
            step (int): Step recorded in the ``vis_backends``.
            out_dir (str, optional): Folder of the drawn file, written to
                ``<out_dir>/<video>/<frame file>``.
        """
        if not is_main_process():
            return  # the visualizer draws on rank 0 only (master_only)
        img_bytes = get(frame.img_path, backend_args=self.backend_args)
        # the stored pixels, as LoadVIDFrame reads them for the model
        img = mmcv.imfrombytes(
            img_bytes, flag=STORED_PIXELS, channel_order='rgb')
        video_name, frame_name = video_and_frame_name(frame.img_path)
        out_file = None
        if out_dir is not None:
            mkdir_or_exist(osp.join(out_dir, video_name))
            out_file = osp.join(out_dir, video_name, frame_name)
        self._visualizer.add_datasample(
            f'{video_name}_{osp.splitext(frame_name)[0]}',
            img,
            data_sample=frame,
            show=self.show,
            wait_time=self.wait_time,
            out_file=out_file,
            pred_score_thr=self.score_thr,
            step=step)
