# Copyright (c) memvid_mm contributors. All rights reserved.
"""Profile online frames of one model: where the time goes, op by op.

``benchmark.py`` says how long a frame and its sections take; this tool
says why. It runs one config online (one frame per ``predict``, as in
testing) under ``torch.profiler``, with every section of the benchmark
(features, head, flow, warp, aggregation) marked as a ``section::NAME``
range, and prints two tables, per profiled frame:

* the sections: calls, time on the host (wall time of the range, which on
  CUDA is the time to launch its kernels), on CUDA time of the kernels
  launched inside it, and the GFLOPs and the syncing ops (which would make
  the host wait for a GPU) of one call, counted on the warm-up frames
  (:func:`count_sections`), and the syncing ops of a whole frame;
* the operations with the largest self time (of their kernels on CUDA, of
  the host on the CPU), with their calls: small operations that are called
  often (a kernel launch each) show here next to large ones.

Frames are random images made up front, and the CPU runs as in
``benchmark.py`` (``--cpu-malloc``, denormal floats flushed), so its op
times explain the benchmark's.

Examples::

    # R-101 MemNet-6 at the paper's scale on a GPU
    python tools/analysis_tools/profile_frame.py \\
        configs/memnet/memnet-6_rfcn_r101-dc5_8xb1-7e_imagenetvid.py \\
        --shape 600 1000 --device cuda
    # a SynthVID model on the CPU
    python tools/analysis_tools/profile_frame.py \\
        configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py \\
        --shape 96 160 --threads 2
"""
import argparse
import os.path as osp
import sys
from collections import defaultdict
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils.flop_counter import FlopCounterMode

from memvid_mm.models.layers import WARP_SAMPLERS
from memvid_mm.utils import SyncingOpRecorder

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark  # noqa: E402

SECTION_PREFIX = 'section::'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config of the model to profile')
    benchmark.add_shape_argument(parser, default=(600, 1000))
    # the warm-up frames after the first count the FLOPs
    benchmark.add_frame_arguments(parser, 'profiled', frames=8)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument(
        '--rows', type=int, default=25, help='operations listed')
    parser.add_argument(
        '--warp-sampler',
        choices=('auto', ) + WARP_SAMPLERS,
        help='the FlowWarp sampler of a memory model (default: the '
        "config's)")
    benchmark.add_execution_arguments(parser)
    args = parser.parse_args()
    # the warm-up frames count the FLOPs and the syncing ops
    benchmark.check_frame_counts(parser, args, min_warmup=1)
    benchmark.check_shape(parser, args.shape)
    benchmark.check_cudnn_benchmark_argument(parser, args)
    return args


def mark_sections(model: torch.nn.Module) -> None:
    """Wrap every timed part of ``model`` in a ``section::NAME`` range.

    The wrappers are instance attributes of this tool's model only.
    """

    def marked(name: str, original: Callable) -> Callable:

        def call(*args, **kwargs):
            with record_function(SECTION_PREFIX + name):
                return original(*args, **kwargs)

        return call

    for name, owner, method in profiled_parts(model):
        setattr(owner, method, marked(name, getattr(owner, method)))


def profiled_parts(model: torch.nn.Module) -> List[Tuple[str, object, str]]:
    """:func:`benchmark.section_parts`, with the two kinds of call of the
    aggregation and of the flow apart: ``aggregation: psi`` (a memory's
    psi, Eq. 3-4) and ``aggregation: combine`` (the mean of the memories),
    ``flow`` (FlowNet) and ``flow: finite`` (the zeroing of non-finite
    flow values, once per frame), and, for a two-detector model that
    propagates boxes, ``strong`` (the strong detector's step) and
    ``strong: boxes`` (its R-FCN head on its memory,
    ``strong_detections``), so that a row's GFLOPs per call is the FLOPs
    of one kind of call."""
    parts = []
    for name, owner, method in benchmark.section_parts(model):
        if name == 'aggregation':
            name += ': combine' if method == 'combine' else ': psi'
        elif name == 'flow' and method == 'zero_non_finite_flows':
            name += ': finite'
        elif name == 'strong' and method == 'strong_detections':
            name += ': boxes'
        parts.append((name, owner, method))
    return parts


def count_sections(model: torch.nn.Module,
                   frames: Sequence[tuple]) -> Tuple[Dict, float]:
    """Count the GFLOPs and the syncing ops of each section, per call.

    Runs ``frames`` (also a warm-up) under two counters:
    ``torch.utils.flop_counter`` (2 FLOPs per multiply-add of convolutions
    and matrix products; element-wise operations, gathers and
    ``grid_sample`` count 0) and :class:`SyncingOpRecorder` (ops that make
    the host wait for a CUDA device: host reads of device values and
    tensors made from host data; mmcv's compiled NMS is not seen). The
    counting wrappers are removed again.

    Args:
        model (nn.Module): A model of :func:`benchmark.build_model` whose
            sections are not wrapped yet.
        frames (Sequence[tuple]): ``(inputs, samples)`` of
            :func:`benchmark.make_frames`, run online.

    Returns:
        tuple[dict, float]: Per section that was called, ``gflops`` and
        ``syncing_ops`` per call; and the syncing ops per frame, inside
        the sections or not, over the frames after the first (the first
        starts the memory: it has no flow to check), or of the one frame.
    """
    flop_counter = FlopCounterMode(display=False)
    recorder = SyncingOpRecorder()
    flops: Dict[str, float] = defaultdict(float)
    syncing_ops: Dict[str, int] = defaultdict(int)
    calls: Dict[str, int] = defaultdict(int)
    frame_ops: List[int] = []

    def counted(name: str, original: Callable) -> Callable:

        def call(*args, **kwargs):
            flops_before = flop_counter.get_total_flops()
            ops_before = len(recorder.ops)
            out = original(*args, **kwargs)
            flops[name] += flop_counter.get_total_flops() - flops_before
            syncing_ops[name] += len(recorder.ops) - ops_before
            calls[name] += 1
            return out

        return call

    parts = profiled_parts(model)
    for name, owner, method in parts:
        setattr(owner, method, counted(name, getattr(owner, method)))
    try:
        with torch.no_grad(), flop_counter, recorder:
            for inputs, samples in frames:
                ops_before = len(recorder.ops)
                model.predict(inputs, samples)
                frame_ops.append(len(recorder.ops) - ops_before)
    finally:
        for _, owner, method in parts:
            delattr(owner, method)
    per_call = {
        name: dict(
            gflops=flops[name] / calls[name] / 1e9,
            syncing_ops=syncing_ops[name] / calls[name])
        for name in calls
    }
    after_first = frame_ops[1:] or frame_ops
    return per_call, sum(after_first) / len(after_first)


def section_rows(events, frames: int, on_cuda: bool) -> List[Dict]:
    """Calls and times per frame of the ``section::`` ranges.

    Args:
        events: ``profile.key_averages()``.
        frames (int): Profiled frames.
        on_cuda (bool): Whether kernel times were recorded.

    Returns:
        list[dict]: ``name``, ``calls``, ``host_ms`` and ``device_ms`` (None
        without CUDA) per frame, in the order of the first call.
    """
    rows = []
    for event in events:
        # on CUDA the profiler also lists a device-side copy of each range;
        # the host-side one carries the device time of its kernels
        if (not event.key.startswith(SECTION_PREFIX)
                or event.device_type != DeviceType.CPU):
            continue
        rows.append(
            dict(
                name=event.key[len(SECTION_PREFIX):],
                calls=event.count / frames,
                host_ms=event.cpu_time_total / 1000 / frames,
                device_ms=(event.device_time_total / 1000 /
                           frames if on_cuda else None)))
    return rows


def _profile(model: torch.nn.Module, frames: Sequence[tuple],
             device: torch.device) -> list:
    """Run ``frames`` online through ``model`` under ``torch.profiler``
    (host activity, and the kernels on CUDA, where the device is
    synchronised before and after).

    Args:
        model (nn.Module): The model, its sections marked
            (:func:`mark_sections`).
        frames (Sequence[tuple]): ``(inputs, samples)`` of
            :func:`benchmark.make_frames`; ``inputs`` ``(1, 3, H, W)``.
        device (torch.device): Where the model runs.

    Returns:
        list: ``profile.key_averages()`` of the run.
    """
    on_cuda = device.type == 'cuda'
    activities = [ProfilerActivity.CPU]
    if on_cuda:
        activities.append(ProfilerActivity.CUDA)
    with torch.no_grad():
        if on_cuda:
            torch.cuda.synchronize(device)
        with profile(activities=activities) as prof:
            for inputs, samples in frames:
                model.predict(inputs, samples)
            if on_cuda:
                torch.cuda.synchronize(device)
    return prof.key_averages()


def _print_setting(args: argparse.Namespace, device: torch.device,
                   padded: Sequence[int]) -> None:
    """Print the line above the tables: config, input and padded shape,
    frames, device (threads and malloc on the CPU), weight layout, torch.

    Args:
        args (Namespace): The tool's arguments.
        device (torch.device): Where the model ran.
        padded (Sequence[int]): The zero-padded frame's height and width.
    """
    where = (f'{torch.cuda.get_device_name(device)}, cuDNN benchmark '
             f'{"on" if torch.backends.cudnn.benchmark else "off"}'
             if device.type == 'cuda' else
             f'CPU, {torch.get_num_threads()} threads, '
             f'{benchmark.cpu_malloc_description(args.cpu_malloc)}')
    where += (', weights channels-last'
              if args.channels_last else ', weights contiguous')
    pad_h, pad_w = padded
    print(f'{args.config}: input {args.shape[0]}x{args.shape[1]} '
          f'(zero-padded to {pad_h}x{pad_w}), {args.frames} profiled '
          f'frames after {args.warmup}, {where}, '
          f'torch {torch.__version__}; per frame:')


def _print_sections(events, counts: Dict, frame_syncing_ops: float,
                    args: argparse.Namespace, on_cuda: bool) -> None:
    """Print the sections' table and the syncing ops per frame.

    Args:
        events: ``profile.key_averages()``.
        counts (dict): Per section, ``gflops`` and ``syncing_ops`` per call
            (:func:`count_sections`).
        frame_syncing_ops (float): Syncing ops per warm-up frame.
        args (Namespace): The tool's arguments (``frames``, ``warmup``).
        on_cuda (bool): Whether kernel times were recorded.
    """
    print('| section | calls | host ms | device ms | GFLOPs per call | '
          'syncing ops per call |')
    print('|---|---|---|---|---|---|')
    for row in section_rows(events, args.frames, on_cuda):
        device_ms = ('n/a' if row['device_ms'] is None else
                     f"{row['device_ms']:.3f}")
        count = counts.get(row['name'])
        count = ('n/a | n/a' if count is None else
                 f"{count['gflops']:.3f} | {count['syncing_ops']:.2f}")
        print(f"| {row['name']} | {row['calls']:.2f} | "
              f"{row['host_ms']:.3f} | {device_ms} | {count} |")
    counted_on = (f'the {args.warmup - 1} warm-up frame(s) after the first, '
                  f'which starts the memory' if args.warmup > 1 else
                  'the one warm-up frame, which starts the memory')
    print(f'\nsyncing ops per frame (host reads of device values and '
          f'tensors made from host data, on {counted_on}; mmcv\'s NMS not '
          f'seen): {frame_syncing_ops:.2f}')


def _print_operations(events, rows: int, frames: int, on_cuda: bool) -> None:
    """Print the ``rows`` operations with the largest self time (of their
    kernels on CUDA, of the host on the CPU), per frame.

    Args:
        events: ``profile.key_averages()``.
        rows (int): Operations listed.
        frames (int): Profiled frames.
        on_cuda (bool): Whether kernel times were recorded.
    """
    sort_key = 'self_device_time_total' if on_cuda else 'self_cpu_time_total'
    operations = [e for e in events if not e.key.startswith(SECTION_PREFIX)]
    operations.sort(key=lambda e: getattr(e, sort_key), reverse=True)
    print(f'\n| operation | calls | self {"device" if on_cuda else "host"} '
          'ms |')
    print('|---|---|---|')
    for event in operations[:rows]:
        print(f'| {event.key} | {event.count / frames:.1f} | '
              f'{getattr(event, sort_key) / 1000 / frames:.3f} |')


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    on_cuda = device.type == 'cuda'
    benchmark.prepare_cpu(device.type, args.cpu_malloc)
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    model = benchmark.build_model(args.config, device, args.warp_sampler,
                                  args.channels_last)
    benchmark.warn_of_partial_periods(args.config,
                                      benchmark.clock_period(model),
                                      args.frames, 'profiled')
    # padded as the model's data preprocessor pads (608x1008 for 600x1000)
    frames = benchmark.make_frames(args.warmup + args.frames, args.shape,
                                   device, benchmark.pad_size_divisor(model))
    # the warm-up frames count the FLOPs and syncing ops of the sections
    counts, frame_syncing_ops = count_sections(model, frames[:args.warmup])
    mark_sections(model)
    events = _profile(model, frames[args.warmup:], device)
    _print_setting(args, device, frames[0][0].shape[-2:])
    _print_sections(events, counts, frame_syncing_ops, args, on_cuda)
    _print_operations(events, args.rows, args.frames, on_cuda)


if __name__ == '__main__':
    main()
