# Copyright (c) memvid_mm contributors. All rights reserved.
"""Activation memory (and time) of one training step, per clip length.

Training a memory model back-propagates through the whole clip, so what a
GPU must hold grows with the clip's length T and with how many of its
frames keep their image evidence (each kept frame runs the backbone; every
frame after the first runs FlowNet, the warp and the aggregator). This tool
runs one training step (``model.loss`` and, with ``--backward``, the
backward pass) of a config's model on a synthetic clip at any input size
and reports the bytes that autograd keeps for the backward pass: every
distinct tensor storage that the step's operations saved and the graph
still holds when the forward pass ends (recorded with
``torch.autograd.graph.saved_tensors_hooks``), without the model's own
parameters and buffers, which convolutions also save. These bytes depend
on the computation, not on the device, except where the two run different
operations: a memory model's FlowWarp ``sampler='auto'`` is ``gather`` on
the CPU and ``grid_sample`` on CUDA, and ``gather`` saves more (set
``--warp-sampler grid_sample`` on the CPU for a GPU's figures). On CUDA the
tool also gives the peak of ``torch.cuda.max_memory_allocated`` over the
step, which adds the parameters, their gradients and the transient
buffers (e.g. a checkpointed block recomputed in the backward pass).

Evidence dropout draws which frames keep their features; the tool fixes
it: ``--kept k`` keeps the first k frames of the clip (``all``: every
frame, the worst case, which a long training meets sooner or later;
``1``: only the first, the least). The weights are freshly initialised
(nothing is loaded), the images are random and each frame has two boxes.

Examples::

    # the ImageNet VID ClockNet: 6- and 10-frame clips, every frame kept
    python tools/analysis_tools/train_memory.py \\
        configs/clocknet/clocknet_rfcn_r101-dc5_4xb1-7e_imagenetvid.py \\
        --shape 600 1000 --frames 6 10 --kept all 1
    # the same with gradient checkpointing in the backbone's blocks
    python tools/analysis_tools/train_memory.py \\
        configs/clocknet/clocknet_rfcn_r101-dc5_4xb1-7e_imagenetvid.py \\
        --shape 600 1000 --frames 10 --kept all --with-cp
    # time the backward pass too
    python tools/analysis_tools/train_memory.py CONFIG --shape 600 1000 \\
        --frames 6 --kept 2 --backward
"""
import argparse
import math
import os.path as osp
import sys
import time
import weakref
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.registry import MODELS
from mmdet.structures import TrackDataSample
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from torch import Tensor, nn

from memvid_mm.models.layers import WARP_SAMPLERS
from memvid_mm.models.layers.flow_warp import resolve_sampler

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark  # noqa: E402

MIB = 2**20


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Activation memory of one training step per clip length')
    parser.add_argument('config', help='config of a video detector')
    benchmark.add_shape_argument(parser, default=(600, 1000))
    parser.add_argument(
        '--frames',
        nargs='+',
        type=int,
        default=None,
        help='clip lengths T (default: 1)')
    parser.add_argument(
        '--kept',
        nargs='+',
        default=None,
        help="frames that keep their image evidence, from the clip's "
        "first: numbers, or 'all' (default: all; memory models only)")
    parser.add_argument(
        '--clip-stride',
        type=int,
        default=1,
        help='frames between clip positions (default 1)')
    parser.add_argument(
        '--with-cp',
        action='store_true',
        help="gradient checkpointing in the detector's backbone blocks "
        '(backbone.with_cp=True; a config may set it itself): their '
        'activations are recomputed in the backward pass instead of kept')
    parser.add_argument(
        '--warp-sampler',
        choices=('auto', ) + WARP_SAMPLERS,
        help="set a memory model's FlowWarp sampler (default: the config's; "
        "'auto' is gather on the CPU and grid_sample on CUDA, and the two "
        'save different tensors for backward)')
    parser.add_argument(
        '--backward',
        action='store_true',
        help='also run (and time) the backward pass')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads (default: torch default)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as in tools/train.py')
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    return args


def check_arguments(parser: argparse.ArgumentParser,
                    args: argparse.Namespace) -> None:
    """Refuse a ``--shape`` below 32x32 and ``--frames`` or
    ``--clip-stride`` below 1, and turn ``--kept`` into clip-frame counts
    (``None`` for 'all') in place."""
    if min(args.shape) < 32:
        parser.error(f'--shape must be at least 32x32, got {args.shape}')
    args.frames = args.frames or [1]
    if min(args.frames) < 1:
        parser.error(f'--frames must be at least 1, got {args.frames}')
    if args.clip_stride < 1:
        parser.error(f'--clip-stride must be at least 1, got '
                     f'{args.clip_stride}')
    kept = []
    for value in args.kept or ['all']:
        if value == 'all':
            kept.append(None)
        elif value.isdigit() and int(value) >= 1:
            kept.append(int(value))
        else:
            parser.error(f"--kept takes numbers of at least 1 or 'all', got "
                         f'{value!r}')
    args.kept = kept


class SavedTensorMeter:
    """Measures the tensor storages autograd keeps for backward.

    Used as a context manager around a forward pass. Every tensor saved for
    backward is seen as it is saved; :attr:`nbytes` then counts each
    distinct storage that the graph still keeps, once and with its full
    size, however many operations saved it or views of it. A tensor saved
    by a part of the graph that was freed during the forward pass (an
    output nobody used) no longer counts, and a freed storage whose address
    a later one reuses is not mistaken for it. Storages of the ``excluded``
    tensors (a model's parameters and buffers) are never counted. Autograd
    gets detached aliases of the saved tensors (the same storages and
    values), so a backward pass after the context still works; after it,
    the graph keeps nothing.

    Args:
        excluded (Sequence[Tensor]): Tensors whose storages are not
            activations. Defaults to none.
    """

    def __init__(self, excluded: Sequence[Tensor] = ()) -> None:
        self.excluded = {self._address(t) for t in excluded}
        # per storage address: its size and weak references to the saved
        # tensors on it (alive while autograd keeps them)
        self.storages: Dict[Tuple[str, int], Tuple[int, list]] = {}
        self._hooks = None

    @staticmethod
    def _address(tensor: Tensor) -> Tuple[str, int]:
        return str(tensor.device), tensor.untyped_storage().data_ptr()

    def _pack(self, tensor: Tensor) -> Tensor:
        # A detached alias: the same storage, but no grad_fn. Kept as it
        # is, an operation's saved output would hold its own graph node
        # (a reference cycle through C++ that never frees), where autograd
        # without hooks keeps no such cycle.
        saved = tensor.detach()
        address = self._address(saved)
        if address in self.excluded:
            return saved
        entry = self.storages.get(address)
        if entry is not None and self._alive(entry[1]):
            entry[1].append(weakref.ref(saved))  # the same storage again
        else:  # a new storage (any earlier one at this address was freed)
            self.storages[address] = (saved.untyped_storage().nbytes(),
                                      [weakref.ref(saved)])
        return saved

    @staticmethod
    def _alive(refs: list) -> bool:
        """Whether any of the saved tensors ``refs`` point to is kept."""
        return any(ref() is not None for ref in refs)

    @staticmethod
    def _unpack(tensor: Tensor) -> Tensor:
        return tensor

    @property
    def nbytes(self) -> int:
        """Bytes of the distinct saved storages that are still kept."""
        return sum(nbytes for nbytes, refs in self.storages.values()
                   if self._alive(refs))

    def __enter__(self) -> 'SavedTensorMeter':
        self._hooks = torch.autograd.graph.saved_tensors_hooks(
            self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self._hooks.__exit__(*exc_info)
        self._hooks = None


class ScriptedDraws:
    """Stands in for a model's ``rng``: returns the given draws in order.

    Args:
        draws (Sequence[float]): Values of successive ``random()`` calls.
    """

    def __init__(self, draws: Sequence[float]) -> None:
        self.draws = list(draws)

    def random(self) -> float:
        if not self.draws:
            raise RuntimeError('the training step drew more evidence-dropout '
                               'values than the clip has frames')
        return self.draws.pop(0)


def keep_first_frames(model: nn.Module, num_frames: int,
                      kept: Optional[int]) -> int:
    """Make the model's next evidence-dropout draw keep the first frames.

    Args:
        model (nn.Module): A memory model (``evidence_drop_prob`` and
            ``rng``; evidence is kept where ``rng.random() >=
            evidence_drop_prob``, the first frame always).
        num_frames (int): Clip length T.
        kept (int, optional): Frames to keep, from the first; None: all.

    Returns:
        int: The number of kept frames.

    Raises:
        ValueError: For a model without evidence dropout and ``kept`` given
            (its frames always keep their evidence), ``kept`` above T, or
            fewer kept frames than T with a drop probability of 0.
    """
    has_dropout = hasattr(model, 'evidence_drop_prob') and hasattr(
        model, 'rng')
    if not has_dropout:
        if kept is not None:
            raise ValueError(f'{type(model).__name__} has no evidence '
                             'dropout; leave --kept out (every frame is '
                             'kept)')
        return num_frames
    kept = num_frames if kept is None else kept
    if kept > num_frames:
        raise ValueError(f'--kept {kept} is more than the {num_frames} '
                         'frames of the clip')
    if kept < num_frames and model.evidence_drop_prob == 0:
        raise ValueError('the model drops no evidence '
                         '(evidence_drop_prob=0): every frame is kept')
    keep_draw = math.nextafter(1.0, 0.0)  # >= any probability below 1
    model.rng = ScriptedDraws([keep_draw] * (kept - 1) + [0.0] *
                              (num_frames - kept))
    return kept


def make_clip(num_frames: int, shape: Sequence[int], clip_stride: int,
              device: torch.device,
              divisor: int) -> Tuple[Tensor, List[TrackDataSample]]:
    """One synthetic training clip of ``shape`` (H, W) frames zero-padded
    to multiples of ``divisor`` (the model's ``pad_size_divisor``): the
    ``(1, T, 3, H', W')`` images and their sample."""
    h, w = shape
    pad_shape = benchmark.padded_shape(shape, divisor)
    boxes = torch.tensor([[0.1 * w, 0.15 * h, 0.4 * w, 0.5 * h],
                          [0.5 * w, 0.4 * h, 0.85 * w, 0.9 * h]])
    frames = []
    for frame_id in range(num_frames):
        sample = benchmark.frame_sample(
            frame_id, shape, pad_shape, clip_stride=clip_stride)
        sample.gt_instances = InstanceData(
            bboxes=boxes.to(device),
            labels=torch.tensor([0, 1], device=device))
        frames.append(sample)
    track_sample = TrackDataSample()
    track_sample.video_data_samples = frames
    inputs = benchmark.padded_images(num_frames, shape, pad_shape).to(device)
    return inputs, [track_sample]


def backbone_config(cfg: Config) -> Optional[Config]:
    """The detector's backbone settings in ``cfg``, or None."""
    detector = cfg.model.get('detector', cfg.model)
    return detector.get('backbone')


def build_training_model(cfg: Config,
                         with_cp: bool,
                         device: torch.device,
                         warp_sampler: Optional[str] = None) -> nn.Module:
    """The config's model, freshly initialised, in training mode.

    Args:
        cfg (Config): The config (changed in place by the options).
        with_cp (bool): Checkpoint the backbone's blocks.
        device (torch.device): Device of the model.
        warp_sampler (str, optional): Sampler of a memory model's FlowWarp.
            Defaults to None (the config's).
    """
    if warp_sampler is not None:
        if 'warp' not in cfg.model:
            raise ValueError('--warp-sampler needs a memory model (with '
                             'model.warp)')
        cfg.model.warp.sampler = warp_sampler
    if with_cp:
        backbone = backbone_config(cfg)
        if backbone is None:
            raise ValueError('--with-cp needs a model with a backbone '
                             '(model.detector.backbone or model.backbone)')
        backbone.with_cp = True
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # no init_weights: nothing downloaded
    return model.to(device).train()


def measure_step(model: nn.Module, num_frames: int, kept: Optional[int],
                 shape: Sequence[int], clip_stride: int, backward: bool,
                 device: torch.device) -> dict:
    """One training step of ``model`` on a synthetic clip.

    Returns:
        dict: ``frames``, ``kept``, ``activations_mib`` (saved for
        backward, parameters excluded), ``forward_s``, ``backward_s`` (None
        without ``backward``) and ``cuda_peak_mib`` (None off CUDA).
    """
    kept = keep_first_frames(model, num_frames, kept)
    torch.manual_seed(0)  # the same images and RoI samples in every row
    inputs, samples = make_clip(num_frames, shape, clip_stride, device,
                                benchmark.pad_size_divisor(model))
    model.zero_grad(set_to_none=True)
    on_cuda = device.type == 'cuda'
    if on_cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    state = list(model.parameters()) + list(model.buffers())
    start = time.perf_counter()
    with SavedTensorMeter(excluded=state) as meter:
        losses = model.loss(inputs, samples)
    loss, _ = model.parse_losses(losses)
    if on_cuda:
        torch.cuda.synchronize(device)
    forward_s = time.perf_counter() - start
    activations = meter.nbytes  # what backward will read
    backward_s = None
    if backward:
        start = time.perf_counter()
        loss.backward()
        if on_cuda:
            torch.cuda.synchronize(device)
        backward_s = time.perf_counter() - start
    return dict(
        frames=num_frames,
        kept=kept,
        activations_mib=activations / MIB,
        forward_s=forward_s,
        backward_s=backward_s,
        cuda_peak_mib=(torch.cuda.max_memory_allocated(device) /
                       MIB if on_cuda else None))


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    model = build_training_model(cfg, args.with_cp, device, args.warp_sampler)
    backbone = backbone_config(cfg)
    with_cp = backbone is not None and bool(backbone.get('with_cp'))
    sampler = ('none (per-frame)'
               if 'warp' not in cfg.model else resolve_sampler(
                   cfg.model.warp.get('sampler', 'auto'), device, True))
    trainable = sum(p.numel() * p.element_size() for p in model.parameters()
                    if p.requires_grad)
    pad_h, pad_w = benchmark.padded_shape(args.shape,
                                          benchmark.pad_size_divisor(model))
    print(f'{args.config}: input {args.shape[0]}x{args.shape[1]} '
          f'(zero-padded to {pad_h}x{pad_w}), clip '
          f'stride {args.clip_stride}, backbone checkpointing '
          f'{"on" if with_cp else "off"}, warp sampler {sampler}, '
          f'{device}, torch '
          f'{torch.__version__}; trainable parameters {trainable / MIB:.1f} '
          'MiB (their gradients as much again)')
    rows = [
        measure_step(model, num_frames, kept, args.shape, args.clip_stride,
                     args.backward, device) for num_frames in args.frames
        for kept in args.kept
    ]
    print('| frames | kept | activations MiB | forward s | backward s | '
          'CUDA peak MiB |')
    print('|' + '---|' * 6)
    for row in rows:
        print(f"| {row['frames']} | {row['kept']} | "
              f"{row['activations_mib']:.1f} | {row['forward_s']:.2f} | " +
              ('n/a'
               if row['backward_s'] is None else f"{row['backward_s']:.2f}") +
              ' | ' + ('n/a' if row['cuda_peak_mib'] is None else
                       f"{row['cuda_peak_mib']:.1f}") + ' |')
    return rows


if __name__ == '__main__':
    main()
