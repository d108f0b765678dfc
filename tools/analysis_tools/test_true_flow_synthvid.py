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
import json
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from mmengine.utils import mkdir_or_exist
from torch import Tensor, nn

from memvid_mm.datasets import (SceneMotion, load_synthvid_settings,
                                render_split)
from memvid_mm.evaluation import append_dump_metric
from memvid_mm.utils import (allow_full_checkpoint_loading,
                             load_fitting_checkpoint)


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
        flow = self.motions[video].backward_flow(t_cur, t_prev, width,
                                                 height)
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
    tested = cfg.test_dataloader.dataset.data_root
    if data_root is not None and (osp.realpath(data_root) !=
                                  osp.realpath(tested)):
        raise ValueError(
            f'--data-root {data_root} is not the data_root of the frames '
            f'tested ({tested}); their exact flow comes from their own '
            f'synthvid.json. Set test_dataloader.dataset.data_root with '
            f'--cfg-options, or leave --data-root out')
    return tested


def load_motions(data_root: str) -> Tuple[Dict[str, SceneMotion], tuple]:
    """Re-render SynthVID val from its settings; per video its geometry."""
    settings = load_synthvid_settings(data_root)
    size = (settings['width'], settings['height'])
    videos = render_split('val', settings['num_val_videos'],
                          settings['num_frames'], *size, settings['seed'],
                          settings['blur'], settings['degradations'])
    motions = {
        f'SynthVID_val_{index:08d}': video[3]
        for index, video in enumerate(videos)
    }
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


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    allow_full_checkpoint_loading()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('type') != 'MemoryRFCN':
        raise ValueError(f'{args.config}: the true flow replaces the FlowNet '
                         f'of a memory model (model.type MemoryRFCN), got '
                         f'model.type {cfg.model.get("type")}')
    cfg.model.motion.init_cfg = None  # replaced; nothing to load for it
    cfg.work_dir = args.work_dir
    cfg.load_from = None  # loaded below, strictly
    if args.out is not None:
        cfg.test_evaluator = append_dump_metric(cfg.test_evaluator, args.out)
    motions, size = load_motions(tested_data_root(cfg, args.data_root))
    runner = Runner.from_cfg(cfg)
    # the checkpoint, FlowNet included, must fit; its FlowNet is then ...
    load_fitting_checkpoint(runner, args.checkpoint)
    true_flow = TrueFlow(motions, size)
    install_true_flow(runner.model, true_flow)  # ... replaced
    metrics = runner.test()
    metrics['true_flow_calls'] = true_flow.num_calls
    print(f'true flow computed {true_flow.num_calls} times')
    if args.metrics_out:
        mkdir_or_exist(osp.dirname(osp.abspath(args.metrics_out)))
        with open(args.metrics_out, 'w', encoding='utf-8') as f:
            json.dump(metrics, f, indent=1)
    return metrics


if __name__ == '__main__':
    main()
