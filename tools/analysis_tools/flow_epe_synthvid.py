# Copyright (c) memvid_mm contributors. All rights reserved.
"""End-point error of a SynthVID FlowNet, per degradation of the frame.

Scores the FlowNet of a memory config on SynthVID val frame pairs (of the
root ``--data-root``, by default the config's test dataloader's
``data_root``) against the exact flow, as ``pretrain_flownet_synthvid.py``
does after training, and breaks the error on moving objects down by the
degradation of the current frame (``none``, ``blur``, ``noise``,
``occlusion``, ``dim``). The checkpoint is either a pre-trained FlowNet
(the ``state_dict`` of the motion network alone, as
``pretrain_flownet_synthvid.py`` writes it) or a trained memory model,
whose ``motion.*`` weights are scored, so one can see what end-to-end
detector training did to the flow.

Example::

    python tools/analysis_tools/flow_epe_synthvid.py \\
        configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py \\
        work_dirs/demo/flownet_synthvid/flownet.pth --max-gap 1
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence

from mmengine.config import Config, DictAction
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor, nn

import memvid_mm.models  # noqa: F401 (registers FlowNetSimple)
from memvid_mm.apis import build_config_motion
from memvid_mm.datasets import SynthVIDFlowPairs, load_config_synthvid_settings
from memvid_mm.evaluation.functional import flow_epe_report
from memvid_mm.utils import allow_full_checkpoint_loading
from memvid_mm.utils.output_paths import check_not_an_input


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='EPE of a SynthVID FlowNet per frame degradation')
    parser.add_argument('config', help='config whose model.motion to build')
    parser.add_argument(
        'checkpoint',
        help='pre-trained FlowNet or trained memory model checkpoint')
    parser.add_argument(
        '--data-root',
        help='SynthVID root holding synthvid.json (default: the test '
        "dataloader's data_root)")
    parser.add_argument(
        '--max-gap',
        type=int,
        default=8,
        help='largest frame distance of a scored pair')
    parser.add_argument(
        '--val-pairs',
        type=int,
        default=400,
        help='val pairs to score (evenly spaced)')
    parser.add_argument('--out', help='also write the report here (JSON)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'model.motion.img_contrast_std=0.25')
    return parser.parse_args(argv)


def motion_state_dict(checkpoint: str) -> Dict[str, Tensor]:
    """The FlowNet weights of a FlowNet or memory model checkpoint; a
    checkpoint of a detector without FlowNet is a ValueError naming it."""
    loaded = _load_checkpoint(checkpoint, map_location='cpu')
    state = loaded.get('state_dict', loaded) if isinstance(loaded,
                                                           dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'{checkpoint} holds no state dict')
    prefixed = {
        key[len('motion.'):]: value
        for key, value in state.items() if key.startswith('motion.')
    }
    if not prefixed and any(key.startswith('detector.') for key in state):
        raise ValueError(f'{checkpoint} holds no FlowNet weights: no '
                         'motion.* keys, but detector.* ones (a per-frame '
                         'detector?); give a FlowNet or a memory model '
                         'checkpoint')
    return prefixed or state


def build_motion(cfg: Config, checkpoint: str) -> nn.Module:
    """The config's ``model.motion`` with the checkpoint's weights."""
    motion = build_config_motion(cfg, 'score')
    try:
        motion.load_state_dict_from(motion_state_dict(checkpoint), checkpoint)
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    return motion


def format_report(report: Dict[str, object]) -> str:
    """The report as a Markdown table."""
    lines = [
        f'EPE over all pixels {report["epe"]:.3f} px (zero flow '
        f'{report["zero_flow_epe"]:.3f}), {report["pairs"]} pairs', '',
        '| current frame | moving-object EPE | zero flow | pixels |',
        '|---|---|---|---|'
    ]
    for kind, epe in report['moving_epe_by_degradation'].items():
        lines.append(f'| {kind} | {epe["epe"]:.3f} | '
                     f'{epe["zero_flow_epe"]:.3f} | {epe["pixels"]} |')
    lines.append(f'| all | {report["moving_epe"]:.3f} | '
                 f'{report["moving_zero_flow_epe"]:.3f} | |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    args = parse_args(argv)
    check_not_an_input(args.out, '--out', {
        'the config': args.config,
        'the checkpoint': args.checkpoint
    })
    allow_full_checkpoint_loading()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    settings = load_config_synthvid_settings(cfg, args.data_root)
    motion = build_motion(cfg, args.checkpoint)
    pairs = SynthVIDFlowPairs.from_settings(
        'val', settings['num_val_videos'], settings, max_gap=args.max_gap)
    preprocessor = cfg.model.data_preprocessor
    report = flow_epe_report(motion, pairs, preprocessor.mean,
                             preprocessor.std, args.val_pairs)
    report.update(checkpoint=args.checkpoint, max_gap=args.max_gap)
    print(format_report(report))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == '__main__':
    main()
