# Copyright (c) memvid_mm contributors. All rights reserved.
"""Count the operations of one FlowWarp call and time it, per sampler.

On a GPU every operation that computes is a kernel launch, and for a
memory of the paper's size (1024 x 38 x 63) a launch costs more than the
work it does, so the operation count predicts the warp's GPU time better
than its FLOPs. The tool runs the FlowWarp neck (flow resize included) once,
as :class:`MemoryRFCN` calls it (``check_finite=False``: the detector
guards each frame's flows once, without a host read, and checks them after
the head), under ``torch.profiler`` and counts the top-level ``aten``
operations: all of them, and those that compute (views, reshapes, expands
and dtype conversions that return their input left out; a conversion that
copies, such as float to int64, computes). Then it times the call (median
of ``--repeats``, without autograd). Every shape and interpolation is run
with both samplers of the neck: ``grid_sample`` (one fused kernel) and
``gather`` (one gather per kernel tap).

Shapes: ``paper``, a (1, 1024, 38, 63) map warped with a 608x1008 flow
(R-101 at stride 16; a 600x1000 frame as the data preprocessor pads it to
a multiple of 16, which the warp needs to rescale the flow exactly; until
2026-12-06 the flow was 600x1000, resized to the same 38x63
displacement); ``tiny``, a (1, 64, 12, 20) map with a 96x160 flow (the
SynthVID models).

Example::

    python tools/analysis_tools/benchmark_warp.py --threads 2
"""
import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Tuple

import torch
from torch.profiler import ProfilerActivity, profile

# let the script run from a checkout without installing memvid_mm
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from memvid_mm.models import layers  # noqa: E402
from memvid_mm.models.necks import FlowWarp  # noqa: E402

SHAPES = {
    'paper': ((1, 1024, 38, 63), (608, 1008)),
    'tiny': ((1, 64, 12, 20), (96, 160)),
}
# top-level aten operations that only describe or alias a tensor
NON_COMPUTING = frozenset({
    'aten::view', 'aten::expand', 'aten::select', 'aten::unbind',
    'aten::reshape', 'aten::unsqueeze', 'aten::slice', 'aten::_unsafe_view',
    'aten::alias', 'aten::as_strided', 'aten::flatten', 'aten::promote_types',
    'aten::detach', 'aten::lift_fresh', 'aten::detach_', 'aten::permute'
})


def computes(event) -> bool:
    """Whether a top-level aten operation does work: not a view, and not
    an ``aten::to`` that returns its input (one that copies calls
    ``aten::_to_copy``)."""
    if event.name == 'aten::to':
        return bool(event.cpu_children)
    return event.name not in NON_COMPUTING


def count_operations(fn) -> Tuple[int, int]:
    """Top-level aten operations of one call of ``fn``.

    Returns:
        tuple[int, int]: All top-level operations, and those that compute.
    """
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    top = [
        event for event in prof.events()
        if event.name.startswith('aten::') and (
            event.cpu_parent is None
            or not event.cpu_parent.name.startswith('aten::'))
    ]
    return len(top), sum(computes(event) for event in top)


def median_ms(fn, repeats: int, device: torch.device) -> float:
    times = []
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--repeats', type=int, default=40)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f'{args.device}, {torch.get_num_threads()} threads, torch '
          f'{torch.__version__}; median of {args.repeats} calls')
    print('| shape | interpolation | sampler | aten ops | computing ops '
          '| ms |')
    print('|---|---|---|---|---|---|')
    generator = torch.Generator().manual_seed(0)
    for shape_name, (feat_shape, flow_hw) in SHAPES.items():
        feat = torch.randn(*feat_shape, generator=generator).to(device)
        flow = (torch.randn(feat_shape[0], 2, *flow_hw, generator=generator) *
                5).to(device)
        for interpolation in layers.WARP_INTERPOLATIONS:
            for sampler in layers.WARP_SAMPLERS:
                neck = FlowWarp(interpolation=interpolation, sampler=sampler)

                def warp():
                    return neck(feat, flow, check_finite=False)

                with torch.no_grad():
                    warp()  # warm-up, and the base grid is cached
                    ops, computing = count_operations(warp)
                    ms = median_ms(warp, args.repeats, device)
                print(f'| {shape_name} {tuple(feat_shape)} | {interpolation} '
                      f'| {sampler} | {ops} | {computing} | {ms:.3f} |')


if __name__ == '__main__':
    main()
