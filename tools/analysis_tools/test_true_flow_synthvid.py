# Copyright (c) memvid_mm contributors. All rights reserved.
"""Test a SynthVID memory model with its FlowNet replaced by the true flow.

SynthVID knows where every pixel moves (:class:`SceneMotion`), so the memory
can be warped with the exact flow instead of the learned one. Comparing the
VID metrics of the two runs of the same checkpoint tells how much of what
MemNet / ClockNet lose (e.g. on fast objects) is due to FlowNet, and how
much would remain with a perfect flow. The rest of the test is exactly
``tools/test.py``: the stock TestLoop, frames served in video order, the
config's evaluator.

The val videos are re-rendered in memory from ``DATA_ROOT/synthvid.json``
(the generator settings), so the flow belongs to exactly the frames on
disk. Frames must be tested at the size they were generated (the SynthVID
configs' ``Resize`` keeps it); anything else is refused. Padding by the data
preprocessor (``pad_size_divisor``) is allowed: the flow is 0 on it.

Example::

    CFG=configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py
    python tools/analysis_tools/test_true_flow_synthvid.py $CFG \\
        work_dirs/demo/$(basename $CFG .py)/epoch_3.pth \\
        --metrics-out work_dirs/true_flow/clocknet.json \\
        --out work_dirs/true_flow/clocknet_dets.pkl
"""
import argparse
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from torch import Tensor, nn

from memvid_mm.datasets import (SceneMotion, config_data_root,
                                load_synthvid_settings, render_split)
from memvid_mm.evaluation import append_dump_metric, dataset_ann_file
from memvid_mm.evaluation.functional import write_metrics_file
from memvid_mm.utils import (allow_full_checkpoint_loading,
                             check_checkpoint_file, load_test_checkpoint)
from memvid_mm.utils.output_paths import check_test_outputs


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test a SynthVID memory model with the true flow')
    parser.add_argument('config', help='memory model config (MemoryRFCN)')
    parser.add_argument('checkpoint', help='checkpoint to test')
    parser.add_argument(
        '--data-root',
        help='SynthVID root holding synthvid.json (default: the test '
        "dataloader's data_root; given, it must be that root, so the flow "
        'is that of the frames tested)')
    parser.add_argument('--work-dir', default='work_dirs/true_flow')
    parser.add_argument('--metrics-out', help='write the metrics as JSON')
    parser.add_argument(
        '--out',
        help='dump per-frame predictions to this pickle (.pkl), as '
        'tools/test.py --out (e.g. for compare_vid.py --degradation)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as in tools/test.py')
    return parser.parse_args(argv)


class TrueFlow(nn.Module):
    """Stands in for FlowNet: the exact flow between two registered frames.

    The detector hands the motion network only images, so every frame is
    registered (by the storage address of its image tensor, which the
    memory keeps alive as long as it may be asked for) with its video and
    frame index before it is processed.

    Args:
        motions (dict[str, SceneMotion]): Per video name (the frame
            directory, e.g. ``SynthVID_val_00000003``) its geometry.
        image_size (tuple[int, int]): ``(W, H)`` the videos were rendered
            at.
    """

    def __init__(self, motions: Dict[str, SceneMotion],
                 image_size: Tuple[int, int]) -> None:
        super().__init__()
        self.motions = motions
        self.image_size = image_size
        self.frames: Dict[int, Tuple[str, int]] = {}
        self.num_calls = 0

    def register(self, image: Tensor, img_path: str, frame_id: int,
                 img_shape: Tuple[int, int]) -> None:
        """Record that ``image`` (1, 3, H, W) is frame ``frame_id`` of the
        video whose frames lie in ``img_path``'s directory, ``img_shape``
        ``(h, w)`` its size before the data preprocessor's padding."""
        video = osp.basename(osp.dirname(img_path))
        if video not in self.motions:
            raise KeyError(f'{img_path}: video {video!r} is not among the '
                           f'{len(self.motions)} rendered SynthVID val '
                           'videos (does synthvid.json match the data?)')
        width, height = self.image_size
        if tuple(img_shape) != (height, width):
            raise ValueError(
                f'frames of {video} were rendered at {width}x{height} but '
                f'are tested at {img_shape[1]}x{img_shape[0]}; test them at '
                'their own size')
        if (image.shape[-2] < height or image.shape[-1] < width):
            raise ValueError(
                f'{img_path}: the image tensor {tuple(image.shape)} is '
                f'smaller than its img_shape {tuple(img_shape)}')
        self.frames[image.data_ptr()] = (video, int(frame_id))

    def forward(self, img_cur: Tensor, img_prev: Tensor) -> Tensor:
        """Backward flow ``(1, 2, H, W)`` from ``img_cur`` to ``img_prev``
        in image pixels (FlowNetSimple's convention), ``H, W`` the padded
        size of the images; the flow is 0 on the padding (bottom and
        right), which shows no scene."""
        (video, t_cur), (prev_video, t_prev) = (self._lookup(img_cur),
                                                self._lookup(img_prev))
        if video != prev_video:
            raise ValueError(f'flow asked between videos {video} and '
                             f'{prev_video}')
        self.num_calls += 1
        width, height = self.image_size
        flow = self.motions[video].backward_flow(t_cur, t_prev, width, height)
        padded = img_cur.new_zeros((1, 2) + tuple(img_cur.shape[-2:]))
        padded[0, :, :height, :width] = torch.from_numpy(flow)
        return padded

    def _lookup(self, image: Tensor) -> Tuple[str, int]:
        try:
            return self.frames[image.data_ptr()]
        except KeyError:
            raise KeyError('TrueFlow got an image that was not registered; '
                           'only frames passed to predict_frame have a '
                           'known flow') from None


def tested_data_root(cfg: Config, data_root: Optional[str]) -> str:
    """The SynthVID root of the frames that ``cfg`` tests.

    Args:
        cfg (Config): The test config (after ``--cfg-options``).
        data_root (str, optional): The root the user named, if any.

    Returns:
        str: The test dataloader's ``data_root``.

    Raises:
        ValueError: When ``data_root`` is another directory: its flow would
            be applied to frames it was not rendered for.
    """
    tested = config_data_root(cfg)
    if data_root is not None and (osp.realpath(data_root) !=
                                  osp.realpath(tested)):
        raise ValueError(
            f'--data-root {data_root} is not the data_root of the frames '
            f'tested ({tested}); their exact flow comes from their own '
            f'synthvid.json. Set test_dataloader.dataset.data_root with '
            f'--cfg-options, or leave --data-root out')
    return tested


#: Largest mean absolute difference (0-255) between a re-rendered frame and
#: its JPEG (quality 90) on disk, both smoothed by a Gaussian of sigma 3
#: pixels first (JPEG's error on a noisy frame is mostly high-frequency).
#: On the 640 val frames of 16 videos of a ``make demo BLUR=motion`` root:
#: 0.28-1.07 with its own settings, 3.86-131 with another seed.
MAX_RENDER_DIFFERENCE = 2.5


def check_rendered_frame(data_root: str, name: str, frame_id: int,
                         rendered: np.ndarray) -> None:
    """Error if a re-rendered frame is not the one on disk.

    ``synthvid.json`` says how the frames were made; a root whose settings
    were edited or copied from another root would re-render other videos,
    and the tool would test with their flow.

    Args:
        data_root (str): The SynthVID root.
        name (str): The video (``SynthVID_val_00000000``).
        frame_id (int): The frame.
        rendered (np.ndarray): The re-rendered frame, (H, W, 3) uint8 BGR.

    Raises:
        ValueError: Naming the frame, when it cannot be read or differs.
    """
    path = osp.join(data_root, 'Data', 'VID', 'val', name,
                    f'{frame_id:06d}.JPEG')
    on_disk = cv2.imread(path, cv2.IMREAD_COLOR)
    if on_disk is None:
        raise ValueError(f'{path}: cannot be read, so the re-rendered video '
                         f'cannot be checked against it')
    if on_disk.shape != rendered.shape:
        raise ValueError(f'{path} is {on_disk.shape[1]}x{on_disk.shape[0]}, '
                         f'but {data_root}/synthvid.json renders it at '
                         f'{rendered.shape[1]}x{rendered.shape[0]}')
    smoothed = [
        cv2.GaussianBlur(image.astype(np.float32), (0, 0), 3)
        for image in (on_disk, rendered)
    ]
    difference = float(np.abs(smoothed[0] - smoothed[1]).mean())
    if difference > MAX_RENDER_DIFFERENCE:
        raise ValueError(
            f'{path} is not the frame {data_root}/synthvid.json renders '
            f'(mean difference {difference:.1f} of 255, smoothed): were the '
            f'settings edited, or taken from another root? Its true flow '
            f'would be another video\'s')


def load_motions(data_root: str) -> Tuple[Dict[str, SceneMotion], tuple]:
    """Re-render SynthVID val from its settings; per video its geometry.

    Each video's re-rendered first and last frames must be those on disk
    (:func:`check_rendered_frame`).
    """
    settings = load_synthvid_settings(data_root)
    size = (settings['width'], settings['height'])
    videos = render_split('val', settings['num_val_videos'],
                          settings['num_frames'], *size, settings['seed'],
                          settings['blur'], settings['degradations'])
    motions = {}
    for index, (frames, _, _, motion) in enumerate(videos):
        name = f'SynthVID_val_{index:08d}'
        for frame_id in (0, len(frames) - 1):
            check_rendered_frame(data_root, name, frame_id, frames[frame_id])
        motions[name] = motion
    return motions, size


def install_true_flow(model: nn.Module, true_flow: TrueFlow) -> None:
    """Replace ``model.motion`` and register every frame before it runs."""
    if not hasattr(model, 'motion') or not hasattr(model, 'predict_frame'):
        raise TypeError('the config must build a memory model (MemoryRFCN) '
                        f'with a motion network, got {type(model).__name__}')
    model.motion = true_flow
    predict_frame = model.predict_frame

    def registered_predict_frame(image, data_sample, state):
        true_flow.register(image, data_sample.metainfo['img_path'],
                           data_sample.metainfo['frame_id'],
                           data_sample.metainfo['img_shape'])
        return predict_frame(image, data_sample, state)

    model.predict_frame = registered_predict_frame


def check_no_ema_hook(cfg: Config, config: str) -> None:
    """Refuse a config with mmengine's ``EMAHook``.

    The checkpoint is loaded before ``runner.test()`` (its FlowNet must fit
    before the true flow replaces it), where the hook has no EMA model yet,
    and the hook swaps the EMA weights in by the order of the parameters,
    which the replaced FlowNet changes. The runner saves the EMA weights as
    the checkpoint's ``state_dict``, so the test needs no hook.

    Args:
        cfg (Config): The config.
        config (str): Its file, for the message.
    """
    hook_types = [hook.get('type') for hook in cfg.get('custom_hooks') or []]
    names = [
        getattr(hook_type, '__name__', str(hook_type)).split('.')[-1]
        for hook_type in hook_types
    ]
    if 'EMAHook' in names:
        raise ValueError(
            f'{config}: custom_hooks has an EMAHook, which this tool cannot '
            'run; the checkpoint\'s state_dict holds the EMA weights '
            'already, so test without it (--cfg-options custom_hooks=[] or '
            'a config without the hook)')


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    check_checkpoint_file(args.checkpoint)  # a work dir, before building
    check_test_outputs(args.config, args.checkpoint, args.out,
                       args.metrics_out)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # again, with the annotation file the config reads
    check_test_outputs(args.config, args.checkpoint, args.out,
                       args.metrics_out,
                       dataset_ann_file(cfg.test_dataloader.dataset))
    check_no_ema_hook(cfg, args.config)
    allow_full_checkpoint_loading()
    if cfg.model.get('type') != 'MemoryRFCN':
        raise ValueError(f'{args.config}: the true flow replaces the FlowNet '
                         f'of a memory model (model.type MemoryRFCN), got '
                         f'model.type {cfg.model.get("type")}')
    cfg.model.motion.init_cfg = None  # replaced; nothing to load for it
    cfg.work_dir = args.work_dir
    cfg.load_from = None  # loaded below, strictly
    if args.out is not None:
        cfg.test_evaluator = append_dump_metric(
            cfg.test_evaluator, args.out,
            dataset_ann_file(cfg.test_dataloader.dataset))
    motions, size = load_motions(tested_data_root(cfg, args.data_root))
    runner = Runner.from_cfg(cfg)
    # the checkpoint, FlowNet included, must fit; its FlowNet is then ...
    load_test_checkpoint(runner, args.checkpoint)
    true_flow = TrueFlow(motions, size)
    install_true_flow(runner.model, true_flow)  # ... replaced
    metrics = runner.test()
    metrics['true_flow_calls'] = true_flow.num_calls
    print(f'true flow computed {true_flow.num_calls} times')
    if args.metrics_out:
        write_metrics_file(args.metrics_out, metrics,
                           dataset_ann_file(cfg.test_dataloader.dataset))
    return metrics


if __name__ == '__main__':
    main()
