# Copyright (c) memvid_mm contributors. All rights reserved.
"""Time per frame of per-frame R-FCN, MemNet and ClockNet, online.

Frames are made up front (random images, already normalised), so the time
excludes data loading; each model then runs strictly online, one frame at a
time through ``predict`` (the TestLoop path), after a few warm-up frames.
The models take turns frame by frame, in an order that rotates every frame,
so machine drift and any cost of running first or last hit all alike; models
with the same detector share one copy of its weights (the same tensors, not
only the same values), so the shared parts run the same computation on the
same memory (the tool prints which models share). Forward hooks time FlowNet
(flow), the FlowWarp neck (warp) and the aggregator (psi + the combination
of the memories), and count the flows (NF) and warps (NW) per frame. Every
model's feature extraction (backbone + neck) and detection head (RPN + R-FCN
on the given features, including proposal and box NMS) are timed too: the
head's cost depends on the features it gets (how many boxes survive to NMS),
so it is the one part that differs between models for reasons other than the
memory. Besides the plain ratio of mean frame times (``x first``), the table
gives the median over frames of the per-frame ratio to the first model on
the same frame (``median x first``, robust to a few frames hit by other
load), the memory's own time (``memory ms`` = flow + warp + aggregation) and
the ratio the first model would have with that time added (``first +
memory``), which does not depend on how the machine's load fell on the
shared parts (n/a for a model that runs its backbone on fewer frames than
the first, or runs FlowNet beside it). ``x first`` comes with a 95%
bootstrap interval (blocks of frames resampled in pairs, the same blocks
for both models), so a target can be judged against the noise of the
machine.

A memory model's cost repeats with the period of its clocks (8 frames for
ClockNet's strides 1, 4 and 8: 1, 2 or 3 flows a frame), so its median
time is taken over whole periods of the timed frames, and its median
ratio to the first model and the bootstrap of its ``x first`` over
blocks of whole periods of both models' clocks (their least common
multiple: 8 frames for ClockNet beside R-FCN, whichever is first), so
that the fixed schedule counts as no noise. ``--frames`` should be a
whole number of every model's period (the tool warns otherwise: NF, NW
and the times would not average over the schedule), and many periods for
an interval that means much: 24 frames are only 3 blocks of ClockNet's 8
(with fewer than two blocks the bootstrap resamples single frames; a note
under the table gives the blocks).
The warm-up starts every memory (frame 0 has no flow) and by default runs
ClockNet through its first stride-8 update. NF counts FlowNet calls:
memories whose anchor frames coincide share one flow, so a ClockNet makes
fewer than the paper's NF = K (the tool says so under the table).

A ``StrongFeatureRFCN`` (the two-detector presets) runs its fast detector
and its strong one frame by frame in one process: besides the frame time,
the tool times the strong detector's work apart (its step,
``online_memory_unchecked``, and with ``test_cfg.propagate='boxes'`` its
head's detections, ``strong_detections``) and prints the fast thread's
time, the frame without it, which is what the paper's system spends per
frame where the strong detector runs on another device. Its flow and warp
columns are those of the delayed strong memory to the frame (one of each
per frame once the memories arrive). The options that set a memory
model's ``test_cfg`` or FlowWarp (``--evidence-interval``,
``--anticipate``, ``--chain-flows``, ``--concurrent-flow``,
``--warp-sampler``) do not reach its strong detector, whose settings are
its config's ``strong_test_cfg`` and ``strong_config``.

On CUDA a section can be timed two ways (``--section-timer``, see
:class:`SectionTimer`): by wall time with the device synchronised at both
ends (``sync``, the default; the GPU then waits while the host launches
each section's first kernels, which inflates small sections), or by CUDA
events with no synchronisation inside a frame (``events``; the frame runs
as unhooked, and a section takes the GPU time between its events).

On the CPU, glibc's malloc returns large freed blocks to the kernel, and
every frame then pays for the kernel zeroing fresh pages for the next
frame's tensors (hundreds of thousands of page faults per frame at
600x1000, a cost that grows with the bytes a model allocates, and that
varies with the machine's state: glibc raises its mmap threshold, up to
32 MiB, to each larger mapped block the process frees). By default the
tool makes malloc keep and reuse freed memory (``--cpu-malloc reuse``,
via ``mallopt``), as PyTorch's caching allocator does on CUDA, so the
times are those of the computation; ``--cpu-malloc system`` keeps glibc's
defaults, or the environment's ``MALLOC_*`` settings, which the header
names. The table gives the page faults per frame of each model either way.

The presets' configs are those of the repository the tool is in, found
from any working directory, as are the strong detectors' configs that the
repository's two-detector configs name (:func:`resolve_repo_strong_config`).

Examples::

    # the paper's scale: R-101, 600x1000 (pretrained weights not needed)
    python tools/analysis_tools/benchmark.py --preset paper
    # the SynthVID models of `make demo`
    python tools/analysis_tools/benchmark.py --preset tiny
    # R-FCN-18, R-FCN-18 beside ClockNet-101 (Sec. 4.2), ClockNet-101
    python tools/analysis_tools/benchmark.py --preset paper-two-detector
    # on a GPU, frame times with no synchronisation inside a frame (the
    # section times cost two each on CUDA); NF and NW are still counted
    python tools/analysis_tools/benchmark.py --preset paper --device cuda \\
        --no-section-times
    # the GPU again with the deterministic gather warp instead of the
    # fused grid_sample one ('auto' picks grid_sample on CUDA)
    python tools/analysis_tools/benchmark.py --preset paper --device cuda \\
        --warp-sampler gather
    # every model's weights channels-last (NHWC), as tensor-core
    # convolution kernels want them
    python tools/analysis_tools/benchmark.py --preset paper --device cuda \\
        --no-section-times --channels-last
    # section times by CUDA events: nothing synchronises inside a frame
    python tools/analysis_tools/benchmark.py --preset paper --device cuda \\
        --section-timer events
    # the memory models run FlowNet on a second CUDA stream beside the
    # backbone (MemoryRFCN test_cfg.concurrent_flow)
    python tools/analysis_tools/benchmark.py --preset paper --device cuda \\
        --section-timer events --concurrent-flow
    # any configs
    python tools/analysis_tools/benchmark.py --configs A.py B.py \\
        --shape 600 1000
"""
import argparse
import ctypes
import ctypes.util
import math
import os
import os.path as osp
import time
from collections import defaultdict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from memvid_mm.evaluation.functional.bootstrap import percentile_interval
from memvid_mm.models.layers import WARP_SAMPLERS
from memvid_mm.models.layers.flow_warp import resolve_sampler
from memvid_mm.utils import flush_denormals_on_cpu

try:  # POSIX only; page faults are not counted elsewhere
    import resource
except ImportError:
    resource = None

#: The repository this tool lives in; the presets' configs are in it.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Configs relative to :data:`REPO_ROOT` (see :func:`preset_configs`).
PRESETS = {
    'paper':
    dict(
        shape=(600, 1000),
        configs=[
            'configs/rfcn/rfcn_r101-dc5_8xb1-7e_imagenetvid.py',
            'configs/memnet/memnet-6_rfcn_r101-dc5_8xb1-7e_imagenetvid.py',
            'configs/clocknet_r101_vid.py',
        ]),
    'tiny':
    dict(
        shape=(96, 160),
        configs=[
            'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py',
            'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
            'configs/clocknet/'
            'clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
        ]),
    # the two-detector system (Sec. 4.2, 5.3): R-FCN-18, R-FCN-18 beside
    # ClockNet-101 with evidence every 4 frames, and ClockNet-101
    'paper-two-detector':
    dict(
        shape=(600, 1000),
        configs=[
            'configs/rfcn/rfcn_r18-dc5_8xb1-7e_imagenetvid.py',
            'configs/strong_feature/strong-feature_rfcn_r18-dc5_clocknet-'
            'r101-featprop_4xb1-7e_imagenetvid.py',
            'configs/clocknet_r101_vid.py',
        ]),
    'tiny-two-detector':
    dict(
        shape=(96, 160),
        configs=[
            'configs/rfcn/rfcn_r18-w8-d8_1xb4-ft3e_synthvid.py',
            'configs/strong_feature/strong-feature_rfcn_r18-w8-d8_clocknet-'
            'featprop_1xb4-ft3e_synthvid.py',
            'configs/clocknet/'
            'clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
        ]),
}


def preset_configs(preset: str) -> List[str]:
    """The configs of a preset, found from any working directory.

    Args:
        preset (str): A key of :data:`PRESETS`.

    Returns:
        list[str]: Its configs in the repository of this tool, relative to
        the working directory (``configs/...`` from the repository root,
        as the table names them).
    """
    return [from_repo_root(config) for config in PRESETS[preset]['configs']]


def from_repo_root(path: str) -> str:
    """``path``, relative to :data:`REPO_ROOT`, made relative to the
    working directory."""
    return osp.relpath(osp.join(REPO_ROOT, path))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Online speed benchmark')
    parser.add_argument('--preset', choices=sorted(PRESETS))
    parser.add_argument('--configs', nargs='+', help='configs to time')
    add_shape_argument(parser, default=None)
    add_frame_arguments(parser, 'timed', frames=24)
    parser.add_argument('--device', default='cpu')
    add_section_timing_arguments(parser)
    parser.add_argument(
        '--warp-sampler',
        choices=('auto', ) + WARP_SAMPLERS,
        help="set the memory models' FlowWarp sampler (default: the "
        "configs' own, 'auto': grid_sample on CUDA, gather on the CPU)")
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads (default: torch default)')
    add_execution_arguments(parser)
    add_memory_test_arguments(parser)
    args = parser.parse_args(argv)
    if args.preset is None and not args.configs:
        parser.error('give --preset or --configs')
    check_frame_counts(parser, args, min_warmup=1)
    check_cudnn_benchmark_argument(parser, args)
    check_memory_test_arguments(parser, args)
    check_section_timing_arguments(parser, args)
    preset = PRESETS.get(args.preset, {})
    args.configs = args.configs or preset_configs(args.preset)
    args.shape = tuple(args.shape or preset.get('shape', (600, 1000)))
    check_shape(parser, args.shape)
    return args


def add_section_timing_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-section-times`` and ``--section-timer`` (how the flow,
    warp, aggregation and other sections are timed, see
    :class:`SectionTimer`)."""
    parser.add_argument(
        '--no-section-times',
        action='store_true',
        help='count flows and warps but do not time the sections; on CUDA '
        'every "sync" section time costs two synchronisations, so this '
        'gives the frame times of an unhooked run (section columns read '
        'n/a)')
    parser.add_argument(
        '--section-timer',
        choices=SECTION_TIMERS,
        default='sync',
        help='how sections are timed: "sync" (default), wall time with the '
        'device synchronised at both ends of each section; "events" (CUDA '
        'only), CUDA events at both ends and no synchronisation inside a '
        'frame, so the frame runs as unhooked and a section takes the GPU '
        'time between its events')


def check_section_timing_arguments(parser: argparse.ArgumentParser,
                                   args: argparse.Namespace) -> None:
    """Refuse ``--section-timer events`` off CUDA or with
    ``--no-section-times``, and ``--concurrent-flow`` with "sync" section
    times (which would run the two streams one after the other)."""
    if args.section_timer == 'events' and torch.device(
            args.device).type != 'cuda':
        parser.error('--section-timer events needs a CUDA --device')
    if args.section_timer == 'events' and args.no_section_times:
        parser.error('--section-timer events times the sections; drop '
                     '--no-section-times')
    if args.concurrent_flow and not (args.no_section_times
                                     or args.section_timer == 'events'):
        parser.error('--concurrent-flow needs --no-section-times or '
                     '--section-timer events: "sync" section timing '
                     'synchronises the device, which would run the two '
                     'streams one after the other')


def add_memory_test_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that set the memory models' ``test_cfg``:
    ``--concurrent-flow``, ``--evidence-interval``, ``--anticipate`` and
    ``--chain-flows``."""
    parser.add_argument(
        '--concurrent-flow',
        action='store_true',
        help='CUDA only, with --no-section-times or --section-timer '
        'events: the memory models run FlowNet on a second CUDA stream '
        'while the backbone runs (MemoryRFCN test_cfg.concurrent_flow; the '
        'same outputs)')
    parser.add_argument(
        '--evidence-interval',
        type=int,
        default=1,
        help='memory models take image evidence (run the backbone) every '
        'this many frames and propagate their memories between (MemoryRFCN '
        'test_cfg.evidence_interval; the paper\'s Sec. 5.2); default 1, '
        'every frame')
    parser.add_argument(
        '--anticipate',
        action='store_true',
        help='with --evidence-interval > 1: the frames between read no '
        'image, their flows are extrapolated (test_cfg.anticipate)')
    parser.add_argument(
        '--chain-flows',
        action='store_true',
        help='memory models compute one flow a frame, to the frame before, '
        'and compose the flows to older anchors from the last frame\'s '
        '(test_cfg.chain_flows; causal FGFA so is the paper\'s Cau. '
        'FGFA*); the composition is not in a section')


def check_memory_test_arguments(parser: argparse.ArgumentParser,
                                args: argparse.Namespace) -> None:
    """Refuse memory-model options that do not go together or need CUDA."""
    if args.evidence_interval < 1:
        parser.error('--evidence-interval must be at least 1')
    if args.anticipate and args.evidence_interval == 1:
        parser.error('--anticipate needs --evidence-interval > 1')
    if args.chain_flows and args.evidence_interval != 1:
        parser.error('--chain-flows needs --evidence-interval 1')
    if args.concurrent_flow and torch.device(args.device).type != 'cuda':
        parser.error('--concurrent-flow needs a CUDA --device')


def add_shape_argument(parser: argparse.ArgumentParser,
                       default: Optional[Tuple[int, int]]) -> None:
    """Add ``--shape H W``, the input frames' height and width, which this
    tool shares with ``profile_frame.py`` and ``train_memory.py``.

    Args:
        parser (ArgumentParser): The tool's parser.
        default (tuple[int, int], optional): Default height and width;
            None for this tool, where the preset's shape (else 600x1000)
            applies.
    """
    shown = ("the preset's, else 600 1000"
             if default is None else f'{default[0]} {default[1]}')
    parser.add_argument(
        '--shape',
        nargs=2,
        type=int,
        default=default,
        metavar=('H', 'W'),
        help=f'input height and width (default {shown})')


def check_shape(parser: argparse.ArgumentParser, shape: Sequence[int]) -> None:
    """Refuse an input ``--shape`` with a height or width below 1 (it
    would fail deep inside the first convolution)."""
    if min(shape) < 1:
        parser.error(f'--shape must be a height and a width of at least 1 '
                     f'pixel, got {shape[0]} {shape[1]}')


def add_frame_arguments(parser: argparse.ArgumentParser, measured: str,
                        frames: int) -> None:
    """Add ``--frames`` and ``--warmup`` (9 by default: every memory
    started, ClockNet through its first stride-8 update), which this tool
    shares with ``profile_frame.py``.

    Args:
        parser (ArgumentParser): The tool's parser.
        measured (str): What is done to the frames (``'timed'``).
        frames (int): Default ``--frames``.
    """
    parser.add_argument(
        '--frames',
        type=int,
        default=frames,
        help=f'{measured} frames (a whole number of the clock period of '
        'each model: 8 for ClockNet)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=9,
        help=f'frames before the {measured} ones (at least 1: the first '
        'frame of a memory has no flow)')


def check_frame_counts(parser: argparse.ArgumentParser,
                       args: argparse.Namespace, min_warmup: int) -> None:
    """Refuse ``--frames`` below 1 and ``--warmup`` below ``min_warmup``:
    every per-frame figure divides by ``--frames``, and the timed frames
    follow the warm-up ones."""
    if args.frames < 1:
        parser.error(f'--frames must be at least 1, got {args.frames}')
    if args.warmup < min_warmup:
        parser.error(f'--warmup must be at least {min_warmup}, got '
                     f'{args.warmup}')


def add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of how the models run that this tool shares with
    ``profile_frame.py``: ``--cudnn-benchmark`` (see
    :func:`check_cudnn_benchmark_argument`), ``--channels-last``
    (:func:`build_model`'s ``channels_last``) and ``--cpu-malloc`` (see
    :func:`prepare_cpu`)."""
    parser.add_argument(
        '--cpu-malloc',
        choices=('reuse', 'system'),
        default='reuse',
        help='CPU only: "reuse" makes glibc malloc keep freed memory for '
        'the next frame instead of returning it to the kernel (default); '
        '"system" keeps glibc\'s defaults')
    parser.add_argument(
        '--cudnn-benchmark',
        action='store_true',
        help='CUDA only: let cuDNN time its algorithms for each input shape '
        'during the warm-up and keep the fastest (torch.backends.cudnn.'
        'benchmark; the configs leave it off, env_cfg.cudnn_benchmark)')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='store every 4-d weight channels-last (NHWC), so convolutions '
        'run the NHWC kernels that tensor-core GPUs prefer; the same '
        'computation up to rounding (default: contiguous, NCHW)')


def check_cudnn_benchmark_argument(parser: argparse.ArgumentParser,
                                   args: argparse.Namespace) -> None:
    """Refuse ``--cudnn-benchmark`` unless ``args.device`` is CUDA."""
    if args.cudnn_benchmark and torch.device(args.device).type != 'cuda':
        parser.error('--cudnn-benchmark needs a CUDA --device')


SECTION_TIMERS = ('sync', 'events')


class SectionTimer:
    """Accumulate the time and call counts of sections via hooks.

    Two ways to time a section (``timer``):

    * ``'sync'``: wall time from its start to its end; on CUDA the device
      is synchronised at both ends, so a section's time includes the
      host's launches of its kernels while the GPU waits, and a frame pays
      two synchronisations per section.
    * ``'events'`` (CUDA only): a CUDA event is recorded on the current
      stream at both ends, nothing is synchronised, and :meth:`collect`
      adds the GPU time between the two events once the frame is done.
      The sections then run as they do unhooked: a section's time is that
      of its kernels on the GPU's timeline, plus any gap where the GPU
      waited for the host inside it.

    Args:
        device (torch.device): Synchronised before every reading on CUDA.
        timer (str, optional): ``'sync'`` or ``'events'``; None counts the
            calls only, timing nothing and synchronising nothing inside a
            frame. Defaults to ``'sync'``.
        event_factory (callable, optional): Makes the events of
            ``'events'`` timing. Defaults to None: timing
            ``torch.cuda.Event``.
    """

    def __init__(self,
                 device: torch.device,
                 timer: Optional[str] = 'sync',
                 event_factory: Optional[Callable[[], Any]] = None) -> None:
        if timer is not None and timer not in SECTION_TIMERS:
            raise ValueError(f'timer must be one of {SECTION_TIMERS} or '
                             f'None, got {timer!r}')
        self.device = device
        self.timer = timer
        self.event_factory = event_factory or (
            lambda: torch.cuda.Event(enable_timing=True))
        self.seconds: Dict[str, float] = defaultdict(float)
        self.calls: Dict[str, int] = defaultdict(int)
        self._started: Dict[int, Any] = {}
        # (section, start event, end event) not yet added to ``seconds``
        self._pending_events: List[Tuple[str, Any, Any]] = []

    def _now(self) -> float:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _record_event(self) -> Any:
        """A new event, recorded on the current stream of ``self.device``
        (not of the current device, which may be another GPU)."""
        event = self.event_factory()
        if self.device.type == 'cuda':
            event.record(torch.cuda.current_stream(self.device))
        else:
            event.record()
        return event

    def _start(self) -> Any:
        """Mark a section's start: a recorded event or the wall time."""
        if self.timer == 'events':
            return self._record_event()
        return self._now()

    def _stop(self, name: str, start: Any) -> None:
        """Mark the end of section ``name`` that began at ``start``."""
        if self.timer == 'events':
            self._pending_events.append((name, start, self._record_event()))
        else:
            self.seconds[name] += self._now() - start

    def collect(self) -> None:
        """Add the GPU time of the event-timed sections recorded so far.

        Waits for their end events; call it after a frame, outside the
        frame's timing. Nothing to do for ``'sync'`` timing.
        """
        for name, start, end in self._pending_events:
            end.synchronize()
            self.seconds[name] += start.elapsed_time(end) / 1000
        self._pending_events.clear()

    def watch(self, name: str, module: torch.nn.Module) -> None:
        """Time (or only count) every call of ``module`` under ``name``."""

        def before(mod, args):
            if self.timer is not None:
                self._started[id(mod)] = self._start()

        def after(mod, args, output):
            if self.timer is not None:
                self._stop(name, self._started.pop(id(mod)))
            self.calls[name] += 1

        module.register_forward_pre_hook(before)
        module.register_forward_hook(after)

    def watch_method(self,
                     name: str,
                     owner: object,
                     method: str,
                     count: bool = False) -> None:
        """Time calls of the bound method ``owner.method`` under ``name``,
        and count them with ``count``.

        The instance attribute set here shadows the class method for this
        benchmark's model only.

        Args:
            name (str): The section.
            owner (object): The method's object.
            method (str): The method's name.
            count (bool): Add the calls to ``calls[name]`` (also when
                nothing is timed). Defaults to False: a section whose calls
                are a module's (NF, NW) counts those only.
        """
        if self.timer is None and not count:
            return
        original = getattr(owner, method)

        def timed(*args, **kwargs):
            if count:
                self.calls[name] += 1
            if self.timer is None:
                return original(*args, **kwargs)
            start = self._start()
            output = original(*args, **kwargs)
            self._stop(name, start)
            return output

        setattr(owner, method, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self._pending_events.clear()


# glibc mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def prepare_cpu(device_type: str, cpu_malloc: str) -> None:
    """Run the CPU as this tool and ``profile_frame.py`` time it: freed
    memory kept for the next frame when ``cpu_malloc`` is ``'reuse'``
    (:func:`keep_freed_memory`) and denormal floats flushed, as
    ``tools/train.py`` and ``tools/test.py`` do. Nothing on other devices.

    Args:
        device_type (str): ``'cpu'``, ``'cuda'``, ...
        cpu_malloc (str): ``'reuse'`` or ``'system'`` (``--cpu-malloc``).
    """
    if device_type == 'cpu' and cpu_malloc == 'reuse':
        keep_freed_memory()
    flush_denormals_on_cpu(device_type)


def keep_freed_memory() -> None:
    """Make glibc's malloc reuse freed memory instead of returning it.

    Every block comes from the heap (no ``mmap`` per large block) and the
    heap is not trimmed, so once the warm-up frames have grown the heap, a
    frame's tensors reuse the pages of the previous frames' instead of
    faulting in fresh, kernel-zeroed ones (the table's page-fault column
    shows it). Call it before the models are built.

    Raises:
        RuntimeError: If the C library has no ``mallopt`` (not glibc) or
            refuses a setting; use ``--cpu-malloc system`` there.
    """
    libc_name = ctypes.util.find_library('c')
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is None or not hasattr(libc, 'mallopt'):
        raise RuntimeError(
            f'--cpu-malloc reuse needs glibc\'s mallopt, which the C library '
            f'({libc_name}) lacks; pass --cpu-malloc system')
    for param, value in ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1)):
        if libc.mallopt(param, value) != 1:
            raise RuntimeError(f'mallopt({param}, {value}) failed; pass '
                               '--cpu-malloc system')


def cpu_malloc_description(cpu_malloc: str,
                           environ: Optional[Dict[str, str]] = None) -> str:
    """The malloc a CPU table ran with, for its header: ``--cpu-malloc`` and
    the glibc malloc settings of the environment (``MALLOC_*`` variables,
    ``GLIBC_TUNABLES`` naming ``glibc.malloc``), which change its page-fault
    column: ``MALLOC_MMAP_THRESHOLD_=131072`` makes ``system`` map fresh
    pages for every large block, where glibc's own threshold rises with the
    mapped blocks a process frees, differently from machine to machine.

    Args:
        cpu_malloc (str): ``'reuse'`` or ``'system'`` (``--cpu-malloc``).
        environ (dict[str, str], optional): The environment. Defaults to
            None: ``os.environ``.

    Returns:
        str: E.g. ``'malloc system'``, or ``'malloc system
        (MALLOC_MMAP_THRESHOLD_=131072)'``.
    """
    environ = os.environ if environ is None else environ
    settings = [
        f'{name}={value}' for name, value in sorted(environ.items())
        if name.startswith('MALLOC_') or (
            name == 'GLIBC_TUNABLES' and 'glibc.malloc' in value)
    ]
    return (f'malloc {cpu_malloc}' +
            (f' ({", ".join(settings)})' if settings else ''))


def minor_page_faults() -> Optional[int]:
    """Minor page faults of this process so far (None off POSIX)."""
    if resource is None:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def ratio_of_means_interval(seconds: torch.Tensor,
                            first_seconds: torch.Tensor,
                            block: int = 1,
                            level: float = 0.95,
                            num_resamples: int = 2000,
                            seed: int = 0) -> Tuple[float, float]:
    """Percentile bootstrap interval of ``mean(seconds) / mean(first)``.

    Whole blocks of ``block`` consecutive frames are resampled with
    replacement, in pairs: a resample takes the same blocks from both
    models, which ran their frames one after the other. With ``block`` a
    multiple of both models' clock periods (:func:`clock_period`) every
    block holds the same schedule, so a model's fixed schedule (ClockNet's
    1, 2 or 3 flows a frame) is no noise of the resamples.

    Args:
        seconds (Tensor): ``(N,)`` frame times of a model.
        first_seconds (Tensor): ``(N,)`` frame times of the first model on
            the same frames.
        block (int): Frames per resampled block; a last, incomplete block
            is left out, and with fewer than two whole blocks single
            frames are resampled (:func:`resampled_block`). Defaults to 1.
        level (float): Coverage of the interval. Defaults to 0.95.
        num_resamples (int): Bootstrap resamples. Defaults to 2000.
        seed (int): Seed of the resampling. Defaults to 0.

    Returns:
        tuple[float, float]: Lower and upper end of the interval.
    """
    if seconds.shape != first_seconds.shape or seconds.dim() != 1:
        raise ValueError('need two (N,) tensors of frame times, got shapes '
                         f'{tuple(seconds.shape)} and '
                         f'{tuple(first_seconds.shape)}')
    block = resampled_block(len(seconds), block)
    # blocks of equal length: the ratio of their sums is that of the means
    own = per_period(seconds.double(), block)
    first = per_period(first_seconds.double(), block)
    generator = torch.Generator().manual_seed(seed)
    blocks = torch.randint(
        len(own), (num_resamples, len(own)), generator=generator)
    ratios = own[blocks].mean(dim=1) / first[blocks].mean(dim=1)
    return percentile_interval(ratios.numpy(), level)


def resampled_block(frames: int, block: int) -> int:
    """The frames per block that :func:`ratio_of_means_interval` resamples:
    ``block``, or 1 (single frames) where ``frames`` hold fewer than two
    whole blocks (one block alone has no spread to resample).

    Raises:
        ValueError: If ``block`` is below 1.
    """
    if block < 1:
        raise ValueError(f'block must be at least 1 frame, got {block}')
    return block if frames // block >= 2 else 1


def pad_size_divisor(model: torch.nn.Module) -> int:
    """The multiple that ``model``'s data preprocessor pads images to (1
    when it pads none)."""
    return int(getattr(model.data_preprocessor, 'pad_size_divisor', 1) or 1)


def padded_shape(shape: Sequence[int], divisor: int) -> Tuple[int, int]:
    """``shape`` (H, W) rounded up to multiples of ``divisor``, as a data
    preprocessor with that ``pad_size_divisor`` pads an image."""
    h, w = shape
    return (-(-h // divisor) * divisor, -(-w // divisor) * divisor)


def frame_sample(frame_id: int,
                 shape: Sequence[int],
                 pad_shape: Optional[Sequence[int]] = None,
                 **metainfo) -> DetDataSample:
    """The sample of frame ``frame_id`` of video 0: an image of ``shape``
    (H, W) as given to the model (not resized), padded to ``pad_shape``
    (default: not padded), no boxes."""
    h, w = shape
    pad_shape = tuple(pad_shape or shape)
    sample = DetDataSample(
        metainfo=dict(
            img_id=frame_id,
            frame_id=frame_id,
            video_id=0,
            img_shape=(h, w),
            ori_shape=(h, w),
            pad_shape=pad_shape,
            batch_input_shape=pad_shape,
            scale_factor=(1.0, 1.0),
            **metainfo))
    sample.gt_instances = InstanceData()
    return sample


def padded_images(num: int, shape: Sequence[int],
                  pad_shape: Sequence[int]) -> torch.Tensor:
    """``(1, num, 3, *pad_shape)`` random images of ``shape``, zero-padded
    at the bottom and right as the data preprocessor pads them; drawn on
    the CPU (the same images on any device)."""
    images = torch.zeros(1, num, 3, *pad_shape)
    images[..., :shape[0], :shape[1]] = torch.randn(1, num, 3, *shape)
    return images


def make_frames(num: int, shape: Sequence[int], device: torch.device,
                divisor: int) -> List[tuple]:
    """``num`` consecutive frames of one video of ``shape`` (H, W), already
    preprocessed: zero-padded to multiples of ``divisor`` (the models'
    ``pad_size_divisor``)."""
    pad_shape = padded_shape(shape, divisor)
    frames = []
    for frame_id in range(num):
        sample = frame_sample(frame_id, shape, pad_shape)
        track_sample = TrackDataSample()
        track_sample.video_data_samples = [sample]
        frames.append((padded_images(1, shape,
                                     pad_shape).to(device), [track_sample]))
    return frames


def build_model(config: str,
                device: torch.device,
                warp_sampler: Optional[str] = None,
                channels_last: bool = False,
                concurrent_flow: bool = False,
                evidence_interval: int = 1,
                anticipate: bool = False,
                chain_flows: bool = False) -> torch.nn.Module:
    """Build ``config``'s model in eval mode on ``device``.

    Args:
        config (str): Config file.
        device (torch.device): Device of the model.
        warp_sampler (str, optional): Sampler of the model's FlowWarp, if
            it has one. Defaults to None (the config's).
        channels_last (bool): Store the 4-d weights (convolutions)
            channels-last, ``model.to(memory_format=torch.channels_last)``:
            a convolution with such a weight returns a channels-last map,
            so the feature maps of the backbone, FlowNet and the heads
            follow. Defaults to False.
        concurrent_flow (bool): Set ``test_cfg.concurrent_flow`` of a
            memory model (FlowNet on a second CUDA stream). Defaults to
            False.
        evidence_interval (int): Set ``test_cfg.evidence_interval`` of a
            memory model (image evidence every so many frames). Defaults
            to 1.
        anticipate (bool): Set ``test_cfg.anticipate`` of a memory model.
            Defaults to False.
        chain_flows (bool): Set ``test_cfg.chain_flows`` of a memory
            model. Defaults to False.

    Returns:
        torch.nn.Module: The model, with freshly initialised weights.

    Raises:
        ValueError: For a config with ``test_cfg.split_halves=True``.
    """
    cfg = Config.fromfile(config)
    resolve_repo_strong_config(cfg, config)
    if (cfg.model.get('test_cfg') or {}).get('split_halves'):
        raise ValueError(
            f'{config}: test_cfg.split_halves=True (the "(split)" baseline) '
            f'is not timed by this tool: its sections time a whole frame\'s '
            f'head, and the two halves would run on two devices')
    if warp_sampler is not None and 'warp' in cfg.model:
        cfg.model.warp.sampler = warp_sampler
    # only the settings an option asks for, so that a config's own stay
    settings = {}
    if concurrent_flow:
        settings['concurrent_flow'] = True
    if evidence_interval != 1:
        settings['evidence_interval'] = evidence_interval
    if anticipate:
        settings['anticipate'] = True
    if chain_flows:
        settings['chain_flows'] = True
    if settings and 'motion' in cfg.model:
        cfg.model.test_cfg = dict(cfg.model.get('test_cfg') or {}, **settings)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # no init_weights: nothing downloaded
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.to(device).eval()


def resolve_repo_strong_config(cfg: Config, config: str) -> None:
    """Find the strong detector's config of a repository config from here.

    The repository's configs, as the tools run from its root, name a
    ``StrongFeatureRFCN``'s ``strong_config`` relative to that root; in a
    config under the repository's ``configs/`` such a relative path is
    made relative to the working directory, so that the presets run from
    anywhere. Other configs keep theirs (relative to the working
    directory, as mmdet's ``teacher_config``).

    Args:
        cfg (Config): The loaded config; its ``model.strong_config`` is
            updated in place.
        config (str): The file ``cfg`` was loaded from.
    """
    strong_config = cfg.model.get('strong_config')
    configs_dir = osp.realpath(osp.join(REPO_ROOT, 'configs')) + osp.sep
    if isinstance(strong_config, str) and not osp.isabs(strong_config) \
            and osp.realpath(config).startswith(configs_dir):
        cfg.model.strong_config = from_repo_root(strong_config)


def weight_mismatch(source: torch.nn.Module,
                    target: torch.nn.Module) -> List[str]:
    """State-dict keys where two modules differ in presence or shape."""
    src_state, dst_state = source.state_dict(), target.state_dict()
    return sorted(
        set(src_state) ^ set(dst_state)
        | {
            k
            for k in set(src_state) & set(dst_state)
            if src_state[k].shape != dst_state[k].shape
        })


def share_weights(source: torch.nn.Module, target: torch.nn.Module) -> None:
    """Make ``target`` use ``source``'s parameter and buffer tensors.

    Both modules keep their own identity (and hooks); only the tensors are
    shared, so the same computation reads the same memory in both.

    Raises:
        ValueError: If the two modules' state dicts differ in keys or
            shapes.
    """
    mismatched = weight_mismatch(source, target)
    if mismatched:
        raise ValueError(f'cannot share detector weights, the detectors '
                         f'differ at {mismatched[:5]}')
    src_modules = dict(source.named_modules())
    for name, module in target.named_modules():
        src = src_modules[name]
        for key in module._parameters:
            module._parameters[key] = src._parameters[key]
        for key in module._buffers:
            module._buffers[key] = src._buffers[key]


def section_parts(model: torch.nn.Module) -> List[Tuple[str, object, str]]:
    """The parts of a model that the tools time, by section.

    Args:
        model (nn.Module): A per-frame or memory video detector.

    Returns:
        list[tuple[str, object, str]]: ``(section, owner, method)``:
        ``features`` (the detector's backbone and neck) and ``head`` (RPN
        and R-FCN with NMS) for every model; for a memory model also
        ``flow`` (FlowNet, and the zeroing of non-finite values in its
        flows, ``zero_non_finite_flows``), ``warp`` (the FlowWarp neck) and
        ``aggregation`` (each memory's psi and the combination of the
        memories). ``method`` is ``'forward'`` for whole modules, whose
        calls are the section's calls (NF, NW). For a
        ``StrongFeatureRFCN`` the fast detector's ``features`` and
        ``head``, ``flow`` and ``warp`` of the delayed strong memory to
        the frame, and ``strong``, all the strong detector's work, the
        second thread of the paper's system: its whole step
        (``online_memory_unchecked``; its flows' finiteness is read after
        the fast head) and, with ``test_cfg.propagate='boxes'``, its
        R-FCN head on its memory (``strong_detections``).
    """
    parts = [('features', model.detector, 'extract_feat'),
             ('head', model.detector, '_head_predict')]
    if hasattr(model, 'strong'):
        parts += [('flow', model, 'strong_flows'),
                  ('warp', model, 'warp_strong_memory'),
                  ('strong', model.strong, 'online_memory_unchecked')]
        if model.test_cfg['propagate'] == 'boxes':
            parts.append(('strong', model, 'strong_detections'))
    elif hasattr(model, 'motion'):
        parts += [('flow', model.motion, 'forward'),
                  ('flow', model, 'zero_non_finite_flows'),
                  ('warp', model.warp, 'forward')]
        parts += [('aggregation', psi, 'forward')
                  for psi in model.aggregator.psi_modules()]
        parts.append(('aggregation', model.aggregator, 'combine'))
    return parts


def clock_period(model: torch.nn.Module) -> int:
    """Frames after which a model's per-frame work repeats.

    Args:
        model (nn.Module): A per-frame or memory video detector.

    Returns:
        int: The least common multiple of the memories' strides and of
        their ``test_cfg.evidence_interval`` (8 for ClockNet's 1, 4 and 8
        with evidence at every frame); 1 for a per-frame model; the strong
        detector's for a ``StrongFeatureRFCN``.
    """
    if hasattr(model, 'strong'):
        return clock_period(model.strong)
    if not hasattr(model, 'strides'):
        return 1
    return math.lcm(*model.strides, model.test_cfg['evidence_interval'])


def warn_of_partial_periods(config: str, period: int, frames: int,
                            measured: str) -> None:
    """Print a warning when ``frames`` are not whole periods of a model's
    clocks (:func:`clock_period`): its per-frame figures would not average
    over its schedule.

    Args:
        config (str): The model's config, for the message.
        period (int): Its clock period.
        frames (int): The frames measured.
        measured (str): What is done to them (``'timed'``).
    """
    if frames % period:
        print(f'warning: {config} repeats its work every {period} frames, '
              f'but {frames} are {measured}: its per-frame figures do not '
              f'average over whole periods (give --frames a multiple of '
              f'{period})')


def per_period(seconds: torch.Tensor, period: int) -> torch.Tensor:
    """Sum frame times over whole periods of the timed frames.

    Args:
        seconds (Tensor): (F, ) seconds of the timed frames, in order.
        period (int): Frames per period (:func:`clock_period`).

    Returns:
        Tensor: (F // period, ) seconds per period (a last, incomplete
        period left out); ``seconds`` itself when F < period.
    """
    blocks = seconds.numel() // period
    if blocks == 0:
        return seconds
    return seconds[:blocks * period].view(blocks, period).sum(dim=1)


def watched_model(config: str,
                  device: torch.device,
                  section_timer: Optional[str] = 'sync',
                  warp_sampler: Optional[str] = None,
                  channels_last: bool = False,
                  concurrent_flow: bool = False,
                  evidence_interval: int = 1,
                  anticipate: bool = False,
                  chain_flows: bool = False) -> tuple:
    """Build ``config`` (:func:`build_model`) and hook a
    :class:`SectionTimer` (``section_timer``, None: count only) onto its
    parts."""
    model = build_model(config, device, warp_sampler, channels_last,
                        concurrent_flow, evidence_interval, anticipate,
                        chain_flows)
    timer = SectionTimer(device, section_timer)
    parts = section_parts(model)
    by_modules = {name for name, _, method in parts if method == 'forward'}
    for name, owner, method in parts:
        if method == 'forward':
            timer.watch(name, owner)
        else:
            # features and head: calls counted too (a backbone skipped at
            # frames where no memory takes evidence)
            timer.watch_method(
                name, owner, method, count=name not in by_modules)
    return model, timer


def benchmark(args: argparse.Namespace) -> List[dict]:
    """Time every config online on the same frames, interleaved.

    Frame t of every model runs before frame t + 1 of any, and the order of
    the models rotates from frame to frame, so slow drifts of the machine
    (other load, clock changes) and the position in the round spread
    evenly over the models. Every model whose detector has the first
    model's architecture uses the first model's weight tensors
    (:func:`share_weights`); the tool prints which do.

    Returns:
        list[dict]: Per config, mean and median ms/frame, the median
        ratio to the first model over blocks of whole periods of both
        models' clocks (single frames for two per-frame models), a 95%
        interval of the ratio of means (those blocks resampled), the minor
        page faults per frame, NF, NW, the backbone runs per frame, the
        section shares, the feature and head times and the memory time
        (flow + warp + aggregation) per frame.
    """
    device = torch.device(args.device)
    models = _watched_models(args, device)
    periods = [clock_period(model) for model, _ in models]
    for config, period in zip(args.configs, periods):
        warn_of_partial_periods(config, period, args.frames, 'timed')
    # padded as the models' data preprocessors pad (608x1008 for 600x1000)
    divisor = math.lcm(*(pad_size_divisor(model) for model, _ in models))
    pad_h, pad_w = padded_shape(args.shape, divisor)
    print(f'frames of {args.shape[0]}x{args.shape[1]} zero-padded to '
          f'{pad_h}x{pad_w} (pad_size_divisor {divisor}), as the models\' '
          'data preprocessors pad them')
    frames = make_frames(args.warmup + args.frames, args.shape, device,
                         divisor)
    frame_seconds, frame_faults, counts_faults = _time_interleaved(
        models, frames, args.warmup)
    return _result_rows(args, models, frame_seconds, frame_faults,
                        counts_faults, periods)


def _watched_models(args: argparse.Namespace,
                    device: torch.device) -> List[tuple]:
    """Build and hook every config (:func:`watched_model`) and give every
    model whose detector has the first model's architecture the first
    model's detector weights (:func:`share_weights`), printing which do.

    Args:
        args (Namespace): The tool's arguments.
        device (torch.device): Where the models run.

    Returns:
        list[tuple]: ``(model, timer)`` per config, in order.
    """
    models = [
        watched_model(config, device,
                      None if args.no_section_times else args.section_timer,
                      args.warp_sampler, args.channels_last,
                      args.concurrent_flow, args.evidence_interval,
                      args.anticipate, args.chain_flows)
        for config in args.configs
    ]
    first_detector = models[0][0].detector
    for config, (model, _) in zip(args.configs[1:], models[1:]):
        if weight_mismatch(first_detector, model.detector):
            print(f'{config}: own detector weights (its detector differs '
                  'from the first model\'s)')
        else:
            share_weights(first_detector, model.detector)
            print(f'{config}: detector weights shared with the first model')
    return models


def _time_interleaved(
        models: List[tuple], frames: Sequence[tuple],
        warmup: int) -> Tuple[List[List[float]], List[int], bool]:
    """Run the frames online through every model, interleaved: frame t of
    every model before frame t + 1 of any, the models' order rotating by
    one every frame. The timers are reset after the ``warmup`` frames.

    Args:
        models (list[tuple]): ``(model, timer)`` per config.
        frames (Sequence[tuple]): ``(inputs, samples)`` of
            :func:`make_frames`; ``inputs`` ``(1, 3, H, W)``.
        warmup (int): Leading frames that are not timed.

    Returns:
        tuple[list[list[float]], list[int], bool]: Per model, the seconds
        of each timed frame and the minor page faults over the timed
        frames; and whether page faults are counted (POSIX only).
    """
    frame_seconds = [[] for _ in models]
    counts_faults = minor_page_faults() is not None
    frame_faults = [0 for _ in models]
    with torch.no_grad():
        for t, (inputs, samples) in enumerate(frames):
            if t == warmup:
                for _, timer in models:
                    timer.reset()
            for j in range(len(models)):
                i = (t + j) % len(models)
                model, timer = models[i]
                faults = minor_page_faults()
                start = timer._now()
                model.predict(inputs, samples)
                if t >= warmup:
                    frame_seconds[i].append(timer._now() - start)
                    if counts_faults:
                        frame_faults[i] += minor_page_faults() - faults
                timer.collect()  # event-timed sections, outside the frame
    return frame_seconds, frame_faults, counts_faults


def _result_rows(args: argparse.Namespace, models: List[tuple],
                 frame_seconds: List[List[float]], frame_faults: List[int],
                 counts_faults: bool, periods: List[int]) -> List[dict]:
    """The table's figures per config, from the timed frames.

    Args:
        args (Namespace): The tool's arguments.
        models (list[tuple]): ``(model, timer)`` per config.
        frame_seconds (list[list[float]]): Per model, the F timed frames'
            seconds.
        frame_faults (list[int]): Per model, the minor page faults over the
            timed frames.
        counts_faults (bool): Whether page faults were counted.
        periods (list[int]): Per model, :func:`clock_period`.

    Returns:
        list[dict]: See :func:`benchmark`.
    """
    first_seconds = torch.tensor(frame_seconds[0], dtype=torch.float64)
    first_timer = models[0][1]
    rows = []
    for config, (model, timer), seconds, faults, period in zip(
            args.configs, models, frame_seconds, frame_faults, periods):
        seconds = torch.tensor(seconds, dtype=torch.float64)
        total = float(seconds.sum())
        # the ratios to the first model over blocks that hold whole
        # periods of both models' schedules
        block = math.lcm(period, periods[0])
        low, high = ratio_of_means_interval(seconds, first_seconds, block)
        interval_block = resampled_block(len(seconds), block)
        own = per_period(seconds, period)
        frames_per_value = period if own.numel() < seconds.numel() else 1
        # R-FCN's frame plus the memory's time: only where the model runs
        # the first model's backbone on every frame, one after the other
        decomposes = (
            timer.calls['features'] == first_timer.calls['features']
            and not args.concurrent_flow)
        rows.append(
            dict(
                config=config,
                ms=1000 * total / args.frames,
                # over whole periods; the middle value, or the mean of the
                # two middle ones (Tensor.median would give the lower one)
                median_ms=1000 * float(own.quantile(0.5)) / frames_per_value,
                median_ratio=float(
                    (per_period(seconds, block) /
                     per_period(first_seconds, block)).quantile(0.5)),
                ratio_interval=(low, high),
                # the blocks of both clocks' periods, and those resampled
                periods_block=block,
                interval_block=interval_block,
                interval_blocks=len(seconds) // interval_block,
                memories=len(getattr(model, 'strides', ())),
                window=getattr(
                    getattr(model, 'aggregator', None), 'holds_frame_window',
                    False),
                decomposes=decomposes,
                page_faults=faults / args.frames if counts_faults else None,
                memory_ms=1000 *
                sum(timer.seconds[k]
                    for k in ('flow', 'warp', 'aggregation')) / args.frames,
                features_ms=1000 * timer.seconds['features'] / args.frames,
                head_ms=1000 * timer.seconds['head'] / args.frames,
                nf=timer.calls['flow'] / args.frames,
                nw=timer.calls['warp'] / args.frames,
                backbone_runs=timer.calls['features'] / args.frames,
                strong_ms=1000 * timer.seconds['strong'] / args.frames,
                flow=timer.seconds['flow'] / total,
                warp=timer.seconds['warp'] / total,
                aggregation=timer.seconds['aggregation'] / total))
    return rows


def _print_settings(args: argparse.Namespace, device_type: str) -> None:
    """Print the line of settings above the table: input, frames, device,
    torch, warp sampler, weight layout, FlowNet placement, evidence
    interval and section timing.

    Args:
        args (Namespace): The tool's arguments.
        device_type (str): ``'cuda'`` or ``'cpu'``.
    """
    device_name = (
        f'{torch.cuda.get_device_name(args.device)}, cuDNN TF32 '
        f'{"allowed" if torch.backends.cudnn.allow_tf32 else "off"}, '
        f'cuDNN benchmark {"on" if torch.backends.cudnn.benchmark else "off"}'
        if device_type == 'cuda' else
        f'CPU, {torch.get_num_threads()} threads, '
        f'{cpu_malloc_description(args.cpu_malloc)}')
    # FlowWarp's default 'auto', as it resolves under predict (no grad)
    sampler = args.warp_sampler or (
        f"as configured (FlowWarp's default auto is "
        f"{resolve_sampler('auto', args.device, False)} here)")
    print(f'input {args.shape[0]}x{args.shape[1]}, {args.frames} frames '
          f'after {args.warmup} warm-up, {device_name}, torch '
          f'{torch.__version__}, warp sampler {sampler}, weights '
          f'{"channels-last" if args.channels_last else "contiguous"}, '
          f'FlowNet {"beside" if args.concurrent_flow else "after"} the '
          f'backbone, memory models\' image evidence every '
          f'{args.evidence_interval} frame(s)'
          f'{" (anticipating between)" if args.anticipate else ""}'
          f'{", flows chained" if args.chain_flows else ""}, '
          f'section times ' +
          ('off' if args.no_section_times else
           'by CUDA events, no synchronisation' if args.section_timer ==
           'events' else 'by wall time, synchronised'))


def _print_table(rows: List[dict], no_section_times: bool) -> None:
    """Print :func:`benchmark`'s rows as a Markdown table.

    Args:
        rows (list[dict]): :func:`benchmark`'s rows, the first model's
            first.
        no_section_times (bool): Whether sections went untimed (their
            columns read n/a).
    """
    base_ms = rows[0]['ms']
    print('| config | ms/frame | median ms | x first | median x first | '
          'NF | NW | flow % | '
          'warp % | aggregation % | warp+aggregation % | features ms | '
          'head ms | memory ms | first + memory | x first 95% interval | '
          'page faults/frame | backbone/frame |')
    print('|' + '---|' * 18)
    for row in rows:
        if no_section_times:
            sections = ' | '.join(['n/a'] * 8)
        else:
            sections = (f"{100 * row['flow']:.2f} | {100 * row['warp']:.3f} | "
                        f"{100 * row['aggregation']:.3f} | "
                        f"{100 * (row['warp'] + row['aggregation']):.3f} | "
                        f"{row['features_ms']:.1f} | {row['head_ms']:.1f} | "
                        f"{row['memory_ms']:.1f} | " +
                        (f"{(base_ms + row['memory_ms']) / base_ms:.3f}"
                         if row['decomposes'] else 'n/a'))
        print(f"| {row['config']} | {row['ms']:.1f} | "
              f"{row['median_ms']:.1f} | "
              f"{row['ms'] / base_ms:.3f} | {row['median_ratio']:.3f} | "
              f"{row['nf']:.2f} | {row['nw']:.2f} | {sections} | "
              f"{row['ratio_interval'][0]:.3f}-"
              f"{row['ratio_interval'][1]:.3f} | " +
              ('n/a' if row['page_faults'] is None else
               f"{row['page_faults']:.0f}") +
              f" | {row['backbone_runs']:.3f} |")


def _print_notes(rows: List[dict]) -> None:
    """Print the notes under the table: a two-detector model's fast
    thread, the blocks of frames that the bootstrap of a model with clocks
    resampled, a ClockNet's FlowNet calls shared between memories, and a
    causal FGFA's window.

    Args:
        rows (list[dict]): :func:`benchmark`'s rows, the first model's
            first.
    """
    base_ms = rows[0]['ms']
    for row in rows:
        if row['strong_ms'] > 0:
            fast_ms = row['ms'] - row['strong_ms']
            print(f"{row['config']}: the strong detector's step took "
                  f"{row['strong_ms']:.1f} ms/frame; the fast thread "
                  f'(the frame without it) {fast_ms:.1f} ms/frame, '
                  f'{fast_ms / base_ms:.3f}x first')
        clocked = row is not rows[0] and row['periods_block'] > 1
        if clocked and row['interval_block'] > 1:
            print(f"{row['config']}: x first's 95% interval resamples "
                  f"{row['interval_blocks']} blocks of "
                  f"{row['interval_block']} frames (whole periods of its "
                  f"and the first model's clocks)")
        elif clocked:
            print(f"{row['config']}: x first's 95% interval resamples "
                  f"single frames, so the clocks' schedule counts as noise: "
                  f'the timed frames hold fewer than two blocks of '
                  f"{row['periods_block']} (whole periods of its and the "
                  f"first model's clocks)")
        if row['window']:
            print(f"{row['config']}: causal FGFA over {row['memories']} "
                  f"frames: a warp for each of the {row['memories'] - 1} "
                  f'past frames once the window is full, and a flow for '
                  f'each (the paper counts NF = NW = 10 for its 11) or, '
                  f"with --chain-flows, one; {row['nf']:.2f} flows and "
                  f"{row['nw']:.2f} warps a frame here, fewer while it "
                  f"fills from a video's first frame")
        elif 0 < row['nf'] < row['memories']:
            print(f"{row['config']}: NF counts FlowNet calls; its "
                  f"{row['memories']} memories share the flow of an anchor "
                  f"frame they share, {row['nf']:.2f} calls a frame (the "
                  f"paper counts NF = K = {row['memories']})")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device_type = torch.device(args.device).type
    prepare_cpu(device_type, args.cpu_malloc)
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    _print_settings(args, device_type)
    rows = benchmark(args)
    _print_table(rows, args.no_section_times)
    _print_notes(rows)


if __name__ == '__main__':
    main()
