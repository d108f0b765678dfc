# Copyright (c) memvid_mm contributors. All rights reserved.
"""Time the warp's samplers alone, and the two layouts of ``grid_sample``.

For each map shape and interpolation it samples one map at the same
fractional positions with the ``grid_sample`` sampler in both layouts (the
``C`` channels of each map in one call, or folded into the batch as
``N * C`` one-channel maps, :func:`grid_sample_folds_channels`) and with
the ``gather`` sampler, and prints the median time of the forward pass and
of forward + backward (to the map and the positions), whether the two
layouts give the same outputs bit for bit, and how far apart their
gradients are (largest difference over the largest value). The flow resize
of the FlowWarp neck is left out (``benchmark_warp.py`` times the whole
neck). On CUDA each call is timed with CUDA events (kernel time), and the
unfolded bilinear call is timed once more with cuDNN off, since PyTorch
hands bilinear sampling to cuDNN where it can.

Shapes: ``paper``, the (1, 1024, 38, 63) memory of R-101 at 600x1000;
``paper-batch4``, four of them; ``tiny``, the (1, 64, 12, 20) memory of
the SynthVID models.

Example::

    python tools/analysis_tools/benchmark_grid_sample.py --device cuda
"""
import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Tuple

import torch
from torch import Tensor

# let the script run from a checkout without installing memvid_mm
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_warp import SHAPES as WARP_SHAPES  # noqa: E402

from memvid_mm.models import layers  # noqa: E402

# the maps of benchmark_warp.py, and four paper-scale maps in a batch
SHAPES = {name: feat_shape for name, (feat_shape, _) in WARP_SHAPES.items()}
SHAPES['paper-batch4'] = (4, ) + SHAPES['paper'][1:]
WARMUP = 10


def median_ms(fn: Callable[[], object], repeats: int,
              device: torch.device) -> float:
    """Median time of ``fn()`` in ms after a few untimed calls.

    On CUDA the time between two events around the call (the GPU's time),
    elsewhere the wall time. For an even number of calls the mean of the
    two middle times (:func:`statistics.median`).
    """
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == 'cuda':
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end))
        else:
            start = time.perf_counter()
            fn()
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def forward_backward(sample: Callable[[Tensor, Tensor], Tensor], feat: Tensor,
                     coords: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Sample, back-propagate ``sum(out**2)``; the output and gradients."""
    feat = feat.detach().requires_grad_()
    coords = coords.detach().requires_grad_()
    out = sample(feat, coords)
    out.square().sum().backward()
    return out.detach(), feat.grad, coords.grad


def relative_difference(a: Tensor, b: Tensor) -> float:
    """``max|a - b| / max|a|``."""
    return float((a - b).abs().max() / a.abs().max())


def benchmark_shape(shape: Tuple[int, int, int, int], interpolation: str,
                    repeats: int, device: torch.device) -> dict:
    """Times and differences of the samplers for one shape."""
    n, _, h, w = shape
    generator = torch.Generator().manual_seed(0)
    feat = torch.randn(*shape, generator=generator).to(device)
    coords = layers.make_base_grid(
        h, w, device=device) + (torch.randn(n, 2, h, w, generator=generator) *
                                2).to(device)
    samplers = {
        'grid_sample':
        lambda f, c: layers.sample_by_grid_sample(
            f, c, interpolation, fold_channels=False),
        'grid_sample folded':
        lambda f, c: layers.sample_by_grid_sample(
            f, c, interpolation, fold_channels=True),
        'gather':
        lambda f, c: layers.sample_by_gather(f, c, interpolation),
    }
    row = dict(forward={}, forward_backward={})
    with torch.no_grad():
        for name, sample in samplers.items():
            row['forward'][name] = median_ms(lambda: sample(feat, coords),
                                             repeats, device)
        if device.type == 'cuda' and interpolation == 'bilinear':
            with torch.backends.cudnn.flags(enabled=False):
                row['forward']['grid_sample, cuDNN off'] = median_ms(
                    lambda: samplers['grid_sample'](feat, coords), repeats,
                    device)
    for name in ('grid_sample', 'grid_sample folded'):
        row['forward_backward'][name] = median_ms(
            lambda: forward_backward(samplers[name], feat, coords),
            max(1, repeats // 4), device)
    plain = forward_backward(samplers['grid_sample'], feat, coords)
    folded = forward_backward(samplers['grid_sample folded'], feat, coords)
    row['same_output'] = torch.equal(plain[0], folded[0])
    row['differences'] = [
        relative_difference(a, b) for a, b in zip(plain, folded)
    ]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument(
        '--repeats',
        type=int,
        default=200,
        help='timed forward calls (forward + backward: a '
        'quarter as many)')
    parser.add_argument(
        '--shapes', nargs='+', choices=sorted(SHAPES), default=sorted(SHAPES))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    where = (
        torch.cuda.get_device_name(device) + ', CUDA events' if device.type
        == 'cuda' else f'CPU, {torch.get_num_threads()} threads, wall time')
    print(f'{where}, torch {torch.__version__}; median ms of '
          f'{args.repeats} forward calls and {max(1, args.repeats // 4)} '
          'forward + backward ones')
    print('| shape | interpolation | forward ms per sampler | forward + '
          'backward ms | folded output identical | folded difference: '
          'output, map grad, position grad |')
    print('|---|---|---|---|---|---|')
    for shape_name in args.shapes:
        shape = SHAPES[shape_name]
        for interpolation in layers.WARP_INTERPOLATIONS:
            row = benchmark_shape(shape, interpolation, args.repeats, device)
            forward = ', '.join(f'{name} {ms:.3f}'
                                for name, ms in row['forward'].items())
            both = ', '.join(f'{name} {ms:.3f}'
                             for name, ms in row['forward_backward'].items())
            differences = ', '.join(f'{d:.1e}' for d in row['differences'])
            print(f'| {shape_name} {shape} | {interpolation} | {forward} | '
                  f'{both} | {row["same_output"]} | {differences} |')


if __name__ == '__main__':
    main()
