# Copyright (c) memvid_mm contributors. All rights reserved.
"""Time and measure the PS RoI ops (forward + backward).

R-FCN sized problem: 300 RoIs on a ``(1, 7*7*31, 38, 63)`` score map (a
600x1000 image at stride 16, 30 classes + background). Boxes are random,
16 to 516 pixels wide and high, seeded.

The times are those of glibc's default allocator. Peak memory of one
forward + backward, after the timings: on CUDA
``torch.cuda.max_memory_allocated`` minus the memory allocated before the
call; on CPU the peak resident set size (RSS) seen by a thread polling
``psutil`` every millisecond, minus the RSS before the call, measured in a
second process of this script. So that freed tensors leave the RSS, that
process tells glibc to serve every allocation above 64 KiB with ``mmap``
(``mallopt(M_MMAP_THRESHOLD)``), which would slow the timed calls (every
one would fault in fresh pages that the kernel zeroes: 2-4x the time);
the CPU figure is still approximate (page granularity, peaks shorter than
the polling period).

Example::

    python tools/analysis_tools/benchmark_ps_roi.py --device cpu --repeats 5
"""
import argparse
import ctypes
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

# let the script run from a checkout without installing memvid_mm
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from memvid_mm.ops import ps_roi_align, ps_roi_pool  # noqa: E402


def serve_large_allocations_with_mmap() -> bool:
    """Make glibc return freed large blocks to the OS (CPU peak RSS)."""
    try:
        libc = ctypes.CDLL('libc.so.6')
        return bool(libc.mallopt(-3, 64 * 1024))  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--device',
        default='all',
        choices=['all', 'cpu', 'cuda'],
        help='"all" runs the CPU and, when available, CUDA')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--num-rois', type=int, default=300)
    parser.add_argument('--num-classes', type=int, default=30)
    parser.add_argument('--size', type=int, nargs=2, default=(38, 63))
    # the second process of the CPU peaks (cpu_peaks_in_subprocess)
    parser.add_argument(
        '--cpu-peaks-only', action='store_true', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def op_cases() -> List[Tuple[str, str, Callable]]:
    """``(op, setting, fn(feats, rois))`` of every timed case."""
    return [
        ('ps_roi_pool', '-', lambda f, r: ps_roi_pool(f, r, 7, 1 / 16)),
        ('ps_roi_align', 'sampling_ratio=2',
         lambda f, r: ps_roi_align(f, r, 7, 1 / 16, 2)),
        ('ps_roi_align', 'sampling_ratio=-1',
         lambda f, r: ps_roi_align(f, r, 7, 1 / 16, -1)),
    ]


def make_inputs(num_rois: int, channels: int, size: Tuple[int, int],
                device: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Seeded score map ``(1, channels, H, W)`` and ``(num_rois, 5)``."""
    gen = torch.Generator().manual_seed(0)
    height, width = size
    feats = torch.randn(1, channels, height, width, generator=gen)
    img_wh = torch.tensor([width * 16.0, height * 16.0])
    xy = torch.rand(num_rois, 2, generator=gen) * img_wh
    wh = torch.rand(num_rois, 2, generator=gen) * 500 + 16
    x2y2 = torch.minimum(xy + wh, img_wh)
    rois = torch.cat([torch.zeros(num_rois, 1), xy, x2y2], dim=1)
    return feats.to(device).requires_grad_(), rois.to(device)


class PeakRSS:
    """Context manager polling the process RSS for its peak increase."""

    def __enter__(self) -> 'PeakRSS':
        import psutil
        self._proc = psutil.Process()
        self.base = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.001)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def delta_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def time_op(fn: Callable, feats: torch.Tensor, device: str, repeats: int,
            warmup: int) -> Tuple[float, float]:
    """Mean forward ms and mean backward ms of ``fn`` after ``warmup``
    untimed forward + backward passes."""
    for _ in range(warmup):
        fn().sum().backward()
    feats.grad = None
    fwd, bwd = [], []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        out = fn()
        sync(device)
        mid = time.perf_counter()
        out.sum().backward()
        sync(device)
        fwd.append(mid - start)
        bwd.append(time.perf_counter() - mid)
        del out
        feats.grad = None
    mean = lambda v: 1e3 * sum(v) / len(v)  # noqa: E731
    return mean(fwd), mean(bwd)


def peak_mb(fn: Callable, feats: torch.Tensor, device: str) -> float:
    """Peak extra memory in MB of one forward + backward of ``fn`` (on the
    CPU the RSS, meaningful where large blocks are served with ``mmap``,
    :func:`serve_large_allocations_with_mmap`)."""
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn().sum().backward()
        sync(device)
        peak = (torch.cuda.max_memory_allocated() - before) / 2**20
    else:
        with PeakRSS() as rss:
            fn().sum().backward()
        peak = rss.delta_mb
    feats.grad = None
    return peak


def cpu_peaks(args: argparse.Namespace) -> Dict[str, object]:
    """The CPU peaks of every case, large blocks served with ``mmap``;
    for a process of its own (:func:`cpu_peaks_in_subprocess`), since the
    setting stays for the rest of the process.

    Returns:
        dict: ``mmap`` (whether glibc took the setting) and ``peaks``
        (MB per case of :func:`op_cases`, after ``args.warmup`` passes).
    """
    mmap_ok = serve_large_allocations_with_mmap()
    feats, rois = make_inputs(args.num_rois, 7 * 7 * (args.num_classes + 1),
                              tuple(args.size), 'cpu')
    peaks = []
    for _, _, op in op_cases():
        for _ in range(args.warmup):
            op(feats, rois).sum().backward()
        feats.grad = None
        peaks.append(peak_mb(lambda: op(feats, rois), feats, 'cpu'))
    return dict(mmap=mmap_ok, peaks=peaks)


def cpu_peaks_in_subprocess(args: argparse.Namespace) -> Dict[str, object]:
    """:func:`cpu_peaks` in a second process of this script, so that this
    one times with glibc's default allocator.

    Raises:
        RuntimeError: If the process fails (its stderr's end quoted).
    """
    command = [
        sys.executable,
        str(Path(__file__).resolve()), '--cpu-peaks-only', '--num-rois',
        str(args.num_rois), '--num-classes',
        str(args.num_classes), '--size', *map(str, args.size), '--warmup',
        str(args.warmup)
    ]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError('the process measuring the CPU peaks failed:\n' +
                           proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if args.cpu_peaks_only:
        print(json.dumps(cpu_peaks(args)))
        return
    devices = ['cpu', 'cuda'] if args.device == 'all' else [args.device]
    if 'cuda' in devices and not torch.cuda.is_available():
        if args.device == 'cuda':
            raise SystemExit('CUDA is not available')
        devices.remove('cuda')
    channels = 7 * 7 * (args.num_classes + 1)
    print(f'{args.num_rois} RoIs, map (1, {channels}, {args.size[0]}, '
          f'{args.size[1]}), float32, torch {torch.__version__}, '
          f'{torch.get_num_threads()} CPU threads, {args.repeats} repeats')
    widths = (6, 12, 17, 10, 11, 8)
    titles = ('device', 'op', 'setting', 'forward ms', 'backward ms',
              'peak MB')
    rows: List[str] = [
        '| ' + ' | '.join(t.ljust(w) for t, w in zip(titles, widths)) + ' |',
        '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    ]
    notes = []
    for device in devices:
        feats, rois = make_inputs(args.num_rois, channels, tuple(args.size),
                                  device)
        times, peaks = [], []
        for _, _, op in op_cases():
            fn = lambda: op(feats, rois)  # noqa: E731
            times.append(time_op(fn, feats, device, args.repeats, args.warmup))
            if device == 'cuda':
                peaks.append(peak_mb(fn, feats, device))
        if device == 'cpu':
            # after every timing, in a process of their own
            measured = cpu_peaks_in_subprocess(args)
            peaks = measured['peaks']
            notes.append('CPU peak MB: one forward + backward in a second '
                         'process, large blocks served with mmap' +
                         ('' if measured['mmap'] else
                          ' (unreliable: glibc refused mallopt or is '
                          'absent)'))
        for (name, setting, _), (fwd,
                                 bwd), peak in zip(op_cases(), times, peaks):
            rows.append(f'| {device:6} | {name:12} | {setting:17} | '
                        f'{fwd:10.1f} | {bwd:11.1f} | {peak:8.1f} |')
    print('\n'.join(rows + notes))


if __name__ == '__main__':
    main()
