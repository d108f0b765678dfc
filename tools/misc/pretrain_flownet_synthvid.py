# Copyright (c) memvid_mm contributors. All rights reserved.
"""Pre-train a memory config's FlowNet on SynthVID's ground-truth flow.

The paper (and the ImageNet VID configs) start from a FlowNet pre-trained on
Flying Chairs; nothing can be downloaded for SynthVID, so this tool plays
that part. With the generator settings of ``DATA_ROOT/synthvid.json``
(``--data-root``, by default the config's test dataloader's ``data_root``)
it renders ``--num-videos`` videos of SynthVID's ``flow`` stream (never
written, disjoint from train and val, like Flying Chairs for the paper),
samples frame pairs up to ``--max-gap`` frames apart with their exact flow
(:class:`memvid_mm.datasets.SynthVIDFlowPairs`) and trains the config's
``model.motion`` network with FlowNet's multi-scale end-point-error loss
(``FlowNetSimple.loss``); ``--balance-objects`` makes the object pixels
of a pair weigh as much as its background pixels together (objects cover
about a tenth of a frame). Images are normalised with the config's data
preprocessor, as the detector feeds them. It writes a checkpoint
(``state_dict`` of the motion network alone) for
``model.motion.init_cfg=dict(type='Pretrained', ...)`` and a JSON with the
end-point error (EPE) of the trained network and of a zero flow on
SynthVID val pairs (also per degradation of the current frame, on the
pixels of moving objects).

Example::

    python tools/misc/pretrain_flownet_synthvid.py \\
        configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py \\
        --out work_dirs/demo/flownet_synthvid/flownet.pth
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction
from torch import Tensor, nn
from torch.utils.data import DataLoader

import memvid_mm.models  # noqa: F401 (registers FlowNetSimple)
from memvid_mm.apis import build_config_motion
from memvid_mm.datasets import (SynthVIDFlowPairs, config_data_root,
                                load_config_synthvid_settings)
from memvid_mm.datasets.synthvid import SETTINGS_FILE
from memvid_mm.evaluation.functional import flow_epe_report
from memvid_mm.utils import flush_denormals_on_cpu
from memvid_mm.utils.output_paths import check_not_an_input


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pre-train a FlowNet on SynthVID ground-truth flow')
    parser.add_argument('config', help='config whose model.motion to train')
    parser.add_argument('--out', required=True, help='checkpoint to write')
    parser.add_argument(
        '--data-root',
        help='SynthVID root holding synthvid.json (default: the test '
        "dataloader's data_root)")
    parser.add_argument(
        '--num-videos',
        type=int,
        default=300,
        help='videos of the flow stream to train on')
    parser.add_argument('--iters', type=int, default=3000)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument(
        '--max-gap',
        type=int,
        default=8,
        help='largest frame distance of a training pair '
        '(ClockNet warps a memory over up to its stride '
        'in frames)')
    parser.add_argument(
        '--val-pairs',
        type=int,
        default=400,
        help='val pairs to score (evenly spaced)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--balance-objects',
        action='store_true',
        help='weigh object pixels as much as background pixels in the loss')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.motion.width_divisor=4')
    return parser.parse_args(argv)


def build_motion(cfg: Config) -> nn.Module:
    """The config's ``model.motion``, predicting zero flow at first."""
    motion = build_config_motion(cfg, 'pre-train', zero_init_flow=True)
    motion.init_weights()
    return motion


def balanced_pixel_weight(object_mask: Tensor) -> Tensor:
    """Weights ``(N, 1, H, W)`` under which the object pixels of an image
    count as much as its background pixels (all 1 without objects)."""
    mask = object_mask[:, None].float()  # [N, 1, H, W]
    share = mask.mean(dim=(2, 3), keepdim=True)
    weight = torch.where(mask > 0, 0.5 / share.clamp(min=1e-6),
                         0.5 / (1 - share).clamp(min=1e-6))
    no_split = (share == 0) | (share == 1)
    return torch.where(no_split, torch.ones_like(weight), weight)


def normalise(img: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """RGB [0, 255] -> the detector's normalisation."""
    return (img - mean) / std


def hflip(batch: Dict[str, Tensor], flip: Tensor) -> Dict[str, Tensor]:
    """Mirror the selected samples of a batch (flow dx changes sign)."""
    out = dict(batch)
    for key in ('img_cur', 'img_prev', 'flow', 'object_mask'):
        mirrored = batch[key].flip(-1)
        if key == 'flow':
            mirrored = mirrored * mirrored.new_tensor([-1.0, 1.0]).view(
                1, 2, 1, 1)
        where = flip.view(-1, *([1] * (mirrored.dim() - 1)))
        out[key] = torch.where(where, mirrored, batch[key])
    return out


def _normalisation(preprocessor: dict) -> Tuple[Tensor, Tensor]:
    """The data preprocessor's ``mean`` and ``std`` as ``(1, 3, 1, 1)``
    float32 tensors, for :func:`normalise`."""
    mean = torch.tensor(
        preprocessor.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(preprocessor.std, dtype=torch.float32).view(1, 3, 1, 1)
    return mean, std


def _flow_pairs(args: argparse.Namespace,
                settings: dict) -> Tuple[SynthVIDFlowPairs, SynthVIDFlowPairs]:
    """The training pairs (SynthVID's ``flow`` stream) and the val pairs.

    Args:
        args (Namespace): The tool's arguments (``num_videos``,
            ``max_gap``, ``batch_size``).
        settings (dict): The generator settings of ``synthvid.json``.

    Returns:
        tuple[SynthVIDFlowPairs, SynthVIDFlowPairs]: Train and val pairs.

    Raises:
        ValueError: If the training pairs cannot fill one batch.
    """
    train_pairs = SynthVIDFlowPairs.from_settings(
        'flow', args.num_videos, settings, max_gap=args.max_gap)
    val_pairs = SynthVIDFlowPairs.from_settings(
        'val', settings['num_val_videos'], settings, max_gap=args.max_gap)
    if len(train_pairs) < args.batch_size:
        raise ValueError(f'{len(train_pairs)} training pairs cannot fill a '
                         f'batch of {args.batch_size}; raise --num-videos')
    return train_pairs, val_pairs


def _train_motion(motion: nn.Module, loader: DataLoader,
                  generator: torch.Generator, optimizer: torch.optim.Optimizer,
                  scheduler: torch.optim.lr_scheduler.LRScheduler,
                  mean: Tensor, std: Tensor, args: argparse.Namespace,
                  start: float) -> None:
    """Train ``motion`` for ``args.iters`` iterations, epoch after epoch.

    Each batch is mirrored per sample with probability 1/2 (drawn from
    ``generator`` after the loader's own draws) and its images
    normalised; the train EPE is printed every 100 iterations.

    Args:
        motion (nn.Module): The FlowNet to train.
        loader (DataLoader): Shuffled batches of :class:`SynthVIDFlowPairs`
            (``img_cur``, ``img_prev`` ``(N, 3, H, W)``, ``flow``
            ``(N, 2, H, W)``, ``object_mask`` ``(N, H, W)``).
        generator (torch.Generator): The loader's generator, which also
            draws the flips.
        optimizer (Optimizer): Over ``motion``'s parameters.
        scheduler (LRScheduler): Stepped every iteration.
        mean (Tensor): ``(1, 3, 1, 1)`` normalisation mean.
        std (Tensor): ``(1, 3, 1, 1)`` normalisation std.
        args (Namespace): The tool's arguments (``iters``, ``batch_size``,
            ``balance_objects``).
        start (float): ``time.time()`` at the start, for the log.
    """
    it, running = 0, 0.0
    while it < args.iters:
        for batch in loader:
            flip = torch.rand(args.batch_size, generator=generator) < 0.5
            batch = hflip(batch, flip)
            losses = motion.loss(
                normalise(batch['img_cur'], mean, std),
                normalise(batch['img_prev'], mean, std), batch['flow'],
                balanced_pixel_weight(batch['object_mask'])
                if args.balance_objects else None)
            optimizer.zero_grad()
            losses['loss_flow'].backward()
            optimizer.step()
            scheduler.step()
            it += 1
            running += losses['epe'].item()
            if it % 100 == 0:
                print(
                    f'iter {it}/{args.iters}: train EPE '
                    f'{running / 100:.3f} px, '
                    f'{time.time() - start:.0f} s',
                    flush=True)
                running = 0.0
            if it == args.iters:
                break


def _save_results(args: argparse.Namespace, motion: nn.Module,
                  results: Dict[str, object]) -> None:
    """Write the checkpoint (``state_dict`` of ``motion`` and ``meta``) to
    ``args.out`` and ``results`` to the JSON beside it, and print them.

    Args:
        args (Namespace): The tool's arguments (``out``, ``config``).
        motion (nn.Module): The trained FlowNet.
        results (dict): :func:`flow_epe_report`'s val results, with
            ``iters``, ``train_s`` and ``seed``.
    """
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(
        dict(
            state_dict=motion.state_dict(),
            meta=dict(config=args.config, val=results)), args.out)
    with open(report_file(args.out), 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=1)
    print(f'val EPE {results["epe"]:.3f} px (zero flow '
          f'{results["zero_flow_epe"]:.3f}); on moving objects '
          f'{results["moving_epe"]:.3f} px (zero flow '
          f'{results["moving_zero_flow_epe"]:.3f}); wrote {args.out}')
    for kind, epe in results['moving_epe_by_degradation'].items():
        print(f'  moving objects, current frame {kind}: {epe["epe"]:.3f} px '
              f'(zero flow {epe["zero_flow_epe"]:.3f}, {epe["pixels"]} px)')


def report_file(out: str) -> str:
    """The JSON report written beside the checkpoint ``out``."""
    return osp.splitext(out)[0] + '.json'


def check_outputs(out: str, config: str, settings_file: str) -> None:
    """Refuse a checkpoint or report path that would overwrite an input,
    or each other, before any work.

    Args:
        out (str): ``--out``, the checkpoint.
        config (str): The config file.
        settings_file (str): The SynthVID root's ``synthvid.json``, read
            for the flow pairs (the report of ``--out ROOT/synthvid.pth``
            would replace it and leave the root unusable).

    Raises:
        ValueError: Naming the output and the input it would replace.
    """
    report = report_file(out)
    if osp.realpath(report) == osp.realpath(out):
        raise ValueError(
            f'--out {out}: the report is written beside the checkpoint as '
            f'{report}, which would replace the checkpoint; give --out '
            'another extension (e.g. .pth)')
    inputs = {'the config': config, 'the SynthVID settings': settings_file}
    check_not_an_input(out, '--out', inputs)
    check_not_an_input(report, f'the report of --out {out},', inputs)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    args = parse_args(argv)
    if args.iters < 1:
        # 0 would write an untrained FlowNet as a pre-trained one
        raise ValueError(f'--iters must be >= 1, got {args.iters}')
    check_not_an_input(args.out, '--out', {'the config': args.config})
    flush_denormals_on_cpu()
    torch.manual_seed(args.seed)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    root = config_data_root(cfg) if args.data_root is None else args.data_root
    check_outputs(args.out, args.config, osp.join(root, SETTINGS_FILE))
    settings = load_config_synthvid_settings(cfg, args.data_root)
    preprocessor = cfg.model.data_preprocessor
    mean, std = _normalisation(preprocessor)
    train_pairs, val_pairs = _flow_pairs(args, settings)
    motion = build_motion(cfg)
    optimizer = torch.optim.Adam(motion.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.iters)
    generator = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(
        train_pairs,
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        generator=generator)
    start = time.time()
    _train_motion(motion, loader, generator, optimizer, scheduler, mean, std,
                  args, start)
    results = flow_epe_report(motion, val_pairs, preprocessor.mean,
                              preprocessor.std, args.val_pairs)
    results.update(
        iters=args.iters, train_s=time.time() - start, seed=args.seed)
    _save_results(args, motion, results)
    return results


if __name__ == '__main__':
    main()
