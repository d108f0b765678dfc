# Copyright (c) memvid_mm contributors. All rights reserved.
"""Join a per-frame fast detector and a memory model into one
``StrongFeatureRFCN`` checkpoint.

The two-detector system's "BoxProp" baseline
(``model.test_cfg.propagate=boxes``) runs a per-frame fast R-FCN beside
the strong memory detector, neither trained with the other. This tool
writes the checkpoint ``tools/test.py`` loads for it: the fast
checkpoint's ``detector.*`` weights and its meta (classes; the strong
checkpoint's classes when only it records them), and the strong
checkpoint's weights under ``strong.``. Every key of the fast checkpoint
must be a ``detector.*`` key (a ``PerFrameVideoDetector``'s), and the
two must record the same classes when both record them.

Example::

    CLOCKNET=work_dirs/demo/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid
    python tools/misc/join_strong_feature_checkpoint.py \\
        FAST_WORK_DIR/epoch_3.pth $CLOCKNET/epoch_3.pth work_dirs/boxprop.pth
"""
import argparse
import os
import os.path as osp
from typing import Mapping

import torch

from memvid_mm.utils import (allow_full_checkpoint_loading,
                             naming_unreadable_checkpoint)
from memvid_mm.utils.checkpoint import trained_classes
from memvid_mm.utils.output_paths import check_not_an_input


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Join a per-frame fast detector and a memory model '
        'into one StrongFeatureRFCN checkpoint')
    parser.add_argument(
        'fast', help='checkpoint of a per-frame detector '
        '(keys detector.*)')
    parser.add_argument('strong', help='checkpoint of a MemoryRFCN')
    parser.add_argument('out', help='the joined checkpoint to write')
    return parser.parse_args()


def read_checkpoint(path: str) -> Mapping:
    """``torch.load`` a checkpoint, naming the file when it fails."""
    with naming_unreadable_checkpoint(path):
        return torch.load(path, map_location='cpu', weights_only=False)


def join_checkpoints(fast: Mapping, strong: Mapping, fast_name: str,
                     strong_name: str) -> dict:
    """The ``StrongFeatureRFCN`` checkpoint of a fast and a strong one.

    Args:
        fast (Mapping): The per-frame detector's checkpoint.
        strong (Mapping): The memory model's checkpoint.
        fast_name (str): Its file, for the messages.
        strong_name (str): Its file, for the messages.

    Returns:
        dict: ``state_dict`` (the fast ``detector.*`` and the strong
        weights under ``strong.``) and the fast checkpoint's ``meta``
        but its ``cfg`` (the per-frame model's), with the strong
        checkpoint's ``dataset_meta`` when only that one records
        classes.

    Raises:
        ValueError: When the fast checkpoint holds keys outside
            ``detector.``, or the two record other classes.
    """
    fast_state = fast.get('state_dict', fast)
    strong_state = strong.get('state_dict', strong)
    foreign = [key for key in fast_state if not key.startswith('detector.')]
    if foreign:
        raise ValueError(f'{fast_name} is not a per-frame detector\'s '
                         f'checkpoint: {len(foreign)} keys are not '
                         f'detector.* (e.g. {foreign[0]})')
    fast_classes = trained_classes(fast, fast_name)
    strong_classes = trained_classes(strong, strong_name)
    if None not in (fast_classes, strong_classes) and \
            tuple(fast_classes) != tuple(strong_classes):
        raise ValueError(f'{fast_name} was trained on {tuple(fast_classes)}'
                         f', {strong_name} on {tuple(strong_classes)}')
    state_dict = dict(fast_state)
    state_dict.update(
        {f'strong.{key}': value
         for key, value in strong_state.items()})
    joined = dict(state_dict=state_dict)
    if fast.get('meta') is not None:  # a dict: trained_classes checked
        # the fast detector's training config is not the joined model's
        joined['meta'] = {
            key: value
            for key, value in fast['meta'].items() if key != 'cfg'
        }
    if fast_classes is None and strong_classes is not None:
        # the strong detector's classes are the only record (its labels
        # and the fast ones meet in one class-wise NMS)
        joined['meta'] = dict(
            joined.get('meta') or {},
            dataset_meta=strong['meta']['dataset_meta'])
    return joined


def main() -> None:
    args = parse_args()
    check_not_an_input(args.out, 'out', {
        'the fast checkpoint': args.fast,
        'the strong checkpoint': args.strong
    })
    allow_full_checkpoint_loading()
    joined = join_checkpoints(
        read_checkpoint(args.fast), read_checkpoint(args.strong), args.fast,
        args.strong)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(joined, args.out)
    print(f'{args.out}: {len(joined["state_dict"])} tensors')


if __name__ == '__main__':
    main()
