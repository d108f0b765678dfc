# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/profile_frame.py profiles the sections of a frame."""
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from . import REPO_ROOT, load_tool, write_box_propagation_config

RFCN_CFG = 'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py'
MEMNET_CFG = 'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py'


def run_tool(config, *args):
    """Run the tool on a 64x96 input; return the finished process."""
    return subprocess.run([
        sys.executable, 'tools/analysis_tools/profile_frame.py', config,
        '--shape', '64', '96', '--frames', '2', '--warmup', '1', '--threads',
        '2', *args
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)


def profile_tables(config, *args):
    """Run the tool; return its section rows, operation rows and stdout."""
    proc = run_tool(config, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tables, rows = [], None
    for line in proc.stdout.splitlines():
        if line.startswith('| section') or line.startswith('| operation'):
            rows = []
            tables.append(rows)
        elif line.startswith('| ') and rows is not None:
            rows.append([cell.strip() for cell in line.split('|')[1:-1]])
    sections, operations = tables
    names = [row[0] for row in sections]
    assert len(set(names)) == len(names), names  # one row per section
    return {row[0]: row[1:] for row in sections}, operations, proc.stdout


def test_memory_model_sections_and_operations():
    sections, operations, stdout = profile_tables(MEMNET_CFG, '--rows', '7',
                                                  '--warp-sampler', 'gather')
    assert 'weights contiguous' in stdout
    assert set(sections) == {
        'features', 'head', 'flow', 'flow: finite', 'warp', 'aggregation: psi',
        'aggregation: combine'
    }
    # MemNet: one flow and one warp per frame after the first
    for name in ('features', 'head', 'flow', 'flow: finite', 'warp',
                 'aggregation: psi', 'aggregation: combine'):
        assert float(sections[name][0]) == 1.0
    assert all(
        float(row[1]) > 0 and row[2] == 'n/a' for row in sections.values())
    assert len(operations) == 7
    # ordered by self time
    times = [float(row[2]) for row in operations]
    assert times == sorted(times, reverse=True)


def test_sections_report_flops_per_call():
    """FlowNet's GFLOPs per call are those of one FlowNet call alone."""
    sections, _, _ = profile_tables(MEMNET_CFG, '--warmup', '2')
    tool = load_tool('tools/analysis_tools/profile_frame.py')
    benchmark = load_tool('tools/analysis_tools/benchmark.py')
    model = benchmark.build_model(MEMNET_CFG, torch.device('cpu'))
    image = torch.randn(1, 3, 64, 96)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.motion(image, image)
    assert float(sections['flow'][3]) == pytest.approx(
        counter.get_total_flops() / 1e9, abs=1e-3)
    assert float(sections['features'][3]) > 0
    # the warp samples (gathers, products): no counted FLOPs
    assert float(sections['warp'][3]) == 0
    # the counting wrappers are gone again after counting
    frames = benchmark.make_frames(2, (64, 96), torch.device('cpu'), 16)
    tool.count_sections(model, frames)
    assert 'forward' not in vars(model.motion)
    assert 'extract_feat' not in vars(model.detector)


def test_sections_report_syncing_ops():
    """The memory sections make the host wait for nothing; the head (NMS,
    box decoding, PS RoI Align) does; so does the frame's finite-flow
    check after the head, once per frame after the first (which starts
    the memory and is left out of the frame's count)."""
    sections, _, stdout = profile_tables(MEMNET_CFG, '--warmup', '3')
    for name in ('flow', 'flow: finite', 'warp', 'aggregation: psi',
                 'aggregation: combine', 'features'):
        assert float(sections[name][4]) == 0, name
    head = float(sections['head'][4])
    assert head > 0
    per_frame = float(
        stdout.split('syncing ops per frame')[1].split(': ')[1].split()[0])
    assert per_frame == pytest.approx(head + 1)


def test_box_propagation_counts_the_strong_step_and_head_apart(tmp_path):
    """With test_cfg.propagate='boxes' the strong detector's step and its
    head on the memory (strong_detections) are two rows, so that each
    row's GFLOPs per call is one kind of call's (they were one row,
    averaged over both)."""
    config = write_box_propagation_config(tmp_path)
    tool = load_tool('tools/analysis_tools/profile_frame.py')
    benchmark = load_tool('tools/analysis_tools/benchmark.py')
    model = benchmark.build_model(config, torch.device('cpu'))
    parts = {(name, method) for name, _, method in tool.profiled_parts(model)}
    assert ('strong', 'online_memory_unchecked') in parts
    assert ('strong: boxes', 'strong_detections') in parts
    frames = benchmark.make_frames(4, (64, 96), torch.device('cpu'), 16)
    counts, _ = tool.count_sections(model, frames)
    image = frames[0][0][:, 0]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.strong.motion(image, image)
    # the step runs FlowNet (and the strong backbone); the head does not
    assert counts['strong']['gflops'] > counter.get_total_flops() / 1e9
    assert 0 < counts['strong: boxes']['gflops'] < counts['strong']['gflops']


def test_per_frame_model_has_only_features_and_head():
    sections, operations, stdout = profile_tables(RFCN_CFG, '--channels-last')
    assert 'weights channels-last' in stdout
    assert set(sections) == {'features', 'head'}
    assert not any(row[0].startswith('section::') for row in operations)


def test_warns_of_frames_that_are_not_whole_periods_of_the_clocks():
    clocknet = ('configs/clocknet/'
                'clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')
    _, _, stdout = profile_tables(clocknet)
    assert (f'warning: {clocknet} repeats its work every 8 frames, but 2 '
            'are profiled') in stdout
    _, _, stdout = profile_tables(MEMNET_CFG)
    assert 'warning' not in stdout


def test_runs_the_cpu_as_the_benchmark_does():
    _, _, stdout = profile_tables(RFCN_CFG)
    assert 'malloc reuse' in stdout
    _, _, stdout = profile_tables(RFCN_CFG, '--cpu-malloc', 'system')
    assert 'malloc system' in stdout


@pytest.mark.parametrize('extra, message', [
    (['--frames', '0'], '--frames must be at least 1, got 0'),
    (['--warmup', '0'], '--warmup must be at least 1, got 0'),
    (['--shape', '64', '-96'], '--shape must be a height and a width of at '
     'least 1 pixel, got 64 -96'),
])
def test_frame_counts_and_shape_are_checked(extra, message):
    proc = run_tool(RFCN_CFG, *extra)
    assert proc.returncode == 2 and message in proc.stderr


def test_cudnn_benchmark_is_refused_off_cuda():
    proc = run_tool(RFCN_CFG, '--cudnn-benchmark')
    assert proc.returncode == 2
    assert '--cudnn-benchmark needs a CUDA --device' in proc.stderr


def test_runs_on_cuda_with_kernel_times(cuda_device):
    sections, operations, _ = profile_tables(MEMNET_CFG, '--device', 'cuda',
                                             '--cudnn-benchmark')
    assert float(sections['features'][2]) > 0
    assert float(sections['warp'][0]) == 1.0
    # CUDA kernels are among the operations, with their own device time
    assert all(float(row[2]) >= 0 for row in operations)
    assert float(operations[0][2]) > 0
