# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/benchmark.py runs, counts flows and warps and shares
the detector's weights between the models it times."""
import os
import os.path as osp
import subprocess
import sys
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from . import REPO_ROOT, load_tool, write_box_propagation_config

RFCN_CFG = 'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py'
CLOCKNET_CFG = (
    'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')
MEMNET_CFG = 'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py'


def tiny_benchmark(*extra):
    """Run the tool on the tiny preset with ``extra`` options; return the
    finished process (for the checks of bad options, which exit at once)."""
    tool = 'tools/analysis_tools/benchmark.py'
    command = [sys.executable, tool, '--preset', 'tiny', *extra]
    return subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def benchmark_rows(*args, env=None):
    """Run the tool with ``args`` (and ``env``, the environment, when given);
    return its stdout and table rows."""
    proc = subprocess.run(
        [sys.executable, 'tools/analysis_tools/benchmark.py', *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [[cell.strip() for cell in line.split('|')[1:-1]]
            for line in proc.stdout.splitlines()
            if line.startswith('| ') and not line.startswith('| config |')]
    return proc.stdout, rows


def test_benchmark_reports_nf_and_nw_per_model():
    configs = [RFCN_CFG, CLOCKNET_CFG]
    stdout, rows = benchmark_rows('--configs', *configs, '--shape', '64', '96',
                                  '--frames', '8', '--warmup', '1')
    assert (f'{CLOCKNET_CFG}: detector weights shared with the first model'
            in stdout)
    assert [r[0] for r in rows] == configs
    # per-frame R-FCN: ratios of the first model to itself, no flow, no
    # warp, no memory time
    assert float(rows[0][3]) == 1.0 and float(rows[0][4]) == 1.0
    assert float(rows[0][5]) == 0 and float(rows[0][6]) == 0
    assert float(rows[0][13]) == 0.0
    assert float(rows[1][4]) > 0
    # ClockNet (1, 4, 8) over frames 1..8: K = 3 warps per frame, and one
    # flow per distinct anchor frame: 1, 2, 2, 2, 2, 3, 3, 3 -> 18 / 8
    assert float(rows[1][6]) == 3.0
    assert float(rows[1][5]) == 2.25
    # the first model's ratio to itself has no spread; page faults counted
    assert rows[0][15] == '1.000-1.000'
    low, high = (float(v) for v in rows[1][15].split('-'))
    assert low <= float(rows[1][3]) <= high
    assert all(float(r[16]) >= 0 for r in rows)
    assert 'malloc reuse' in stdout and 'weights contiguous' in stdout
    assert 'FlowNet after the backbone' in stdout
    assert 'section times by wall time, synchronised' in stdout
    assert "FlowWarp's default auto is gather here" in stdout
    # 8 frames are one whole period of ClockNet's clocks: no warning; R-FCN
    # + the memory's time is given, and the shared flows are said
    assert 'warning' not in stdout
    assert float(rows[1][14]) > 1
    assert (f'{CLOCKNET_CFG}: NF counts FlowNet calls; its 3 memories '
            'share the flow of an anchor frame they share, 2.25 calls a '
            'frame (the paper counts NF = K = 3)') in stdout
    # one period of 8 frames: no blocks to resample, and the note says so
    assert (f"{CLOCKNET_CFG}: x first's 95% interval resamples single "
            'frames') in stdout


def test_causal_fgfa_warps_each_past_frame_of_its_full_window():
    fgfa = ('configs/causal_fgfa/'
            'causal-fgfa_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')
    stdout, rows = benchmark_rows('--configs', RFCN_CFG, fgfa, '--shape', '64',
                                  '96', '--frames', '11', '--warmup', '10')
    # frames 10..20 of a video: the 11-frame window is full, a flow and a
    # warp for each of the 10 past frames, none for the one leaving it
    assert (float(rows[1][5]), float(rows[1][6])) == (10.0, 10.0)
    assert float(rows[1][9]) > 0  # the embedding weighting is timed
    assert (f'{fgfa}: causal FGFA over 11 frames: a warp for each of the '
            '10 past frames once the window is full, and a flow for each'
            ) in stdout
    assert 'NF counts FlowNet calls' not in stdout
    # Cau. FGFA*: one flow a frame, the older ones composed
    stdout, rows = benchmark_rows('--configs', RFCN_CFG, fgfa, '--shape', '64',
                                  '96', '--frames', '11', '--warmup', '10',
                                  '--chain-flows')
    assert (float(rows[1][5]), float(rows[1][6])) == (1.0, 10.0)
    assert 'flows chained' in stdout


def test_ratio_interval_brackets_the_ratio_of_means():
    tool = load_tool('tools/analysis_tools/benchmark.py')
    first = torch.tensor([1.0, 2.0, 1.5, 1.2, 1.8, 1.1])
    # a constant per-frame ratio leaves no doubt about the ratio of means
    low, high = tool.ratio_of_means_interval(1.1 * first, first)
    assert low == pytest.approx(1.1) and high == pytest.approx(1.1)
    noisy = first * torch.tensor([1.0, 1.3, 0.9, 1.2, 1.0, 1.1])
    low, high = tool.ratio_of_means_interval(noisy, first)
    assert low < float(noisy.mean() / first.mean()) < high
    assert (low, high) == tool.ratio_of_means_interval(noisy, first)
    with pytest.raises(ValueError, match='frame times'):
        tool.ratio_of_means_interval(noisy[:5], first)


def clocknet_schedule_seconds(frames=24):
    """Noise-free frame times: R-FCN's 1.924 s a frame, and ClockNet's
    (strides 1, 4, 8) that plus 0.15 s per flow, 1, 2, 2, 2, 2, 3, 3, 3
    flows over each period of 8 frames."""
    flows = torch.tensor([1, 2, 2, 2, 2, 3, 3, 3] * (frames // 8))
    rfcn = torch.full((frames, ), 1.924, dtype=torch.float64)
    return rfcn + 0.15 * flows, rfcn


def result_rows(tool, frame_seconds, periods):
    """The tool's rows for made-up frame times of models with ``periods``
    (the frames' count and every backbone call the same)."""
    frames = len(frame_seconds[0])
    models = [(SimpleNamespace(),
               SimpleNamespace(
                   calls=defaultdict(int, features=frames),
                   seconds=defaultdict(float))) for _ in periods]
    args = SimpleNamespace(
        configs=[f'model{i}.py' for i in range(len(periods))],
        frames=frames,
        concurrent_flow=False)
    return tool._result_rows(args, models,
                             [seconds.tolist() for seconds in frame_seconds],
                             [0] * len(periods), False, periods)


def test_ratio_interval_resamples_whole_periods_of_the_schedule(capsys):
    """A fixed flow schedule is no noise: frames resampled one by one
    gave noise-free ClockNet times a 1.156-1.195 interval around 1.175."""
    tool = load_tool('tools/analysis_tools/benchmark.py')
    clock, rfcn = clocknet_schedule_seconds()
    # in the table: blocks of both models' periods, whichever is first
    for periods, order in (([1, 8], (rfcn, clock)), ([8, 1], (clock, rfcn))):
        rows = result_rows(tool, order, periods)
        ratio = float(order[1].mean() / order[0].mean())
        assert rows[1]['ratio_interval'] == pytest.approx((ratio, ratio))
        tool._print_notes(rows)
        assert capsys.readouterr().out == (
            "model1.py: x first's 95% interval resamples 3 blocks of 8 "
            "frames (whole periods of its and the first model's clocks)\n")
    low, high = tool.ratio_of_means_interval(clock, rfcn, 8)
    ratio = float(clock.mean() / rfcn.mean())
    assert low == pytest.approx(ratio) and high == pytest.approx(ratio)
    # one block has no spread to resample: single frames, and a note
    assert tool.resampled_block(16, 8) == 8
    assert tool.resampled_block(15, 8) == tool.resampled_block(8, 8) == 1
    low, high = tool.ratio_of_means_interval(clock[:8], rfcn[:8], 8)
    assert low < high
    tool._print_notes(result_rows(tool, [rfcn[:8], clock[:8]], [1, 8]))
    assert ("model1.py: x first's 95% interval resamples single frames, so "
            "the clocks' schedule counts as noise: the timed frames hold "
            'fewer than two blocks of 8') in capsys.readouterr().out
    with pytest.raises(ValueError, match='block must be at least 1'):
        tool.ratio_of_means_interval(clock, rfcn, 0)


def test_median_ratio_takes_whole_periods_of_both_models():
    """With the first model periodic (ClockNet before R-FCN), splitting by
    the row's own period (1) gave the ratio to ClockNet's median frame,
    one of 2 flows: 0.865 where the schedule's ratio is 0.851."""
    tool = load_tool('tools/analysis_tools/benchmark.py')
    clock, rfcn = clocknet_schedule_seconds()
    exact = float(clock.mean() / rfcn.mean())
    rows = result_rows(tool, [clock, rfcn], [8, 1])
    assert rows[1]['median_ratio'] == pytest.approx(1 / exact)
    # the row's own median time stays over its own period: every frame
    assert rows[1]['median_ms'] == pytest.approx(1924.0)
    assert rows[0]['median_ms'] == pytest.approx(1000 * float(clock.mean()))
    rows = result_rows(tool, [rfcn, clock], [1, 8])
    assert rows[1]['median_ratio'] == pytest.approx(exact)


#: glibc settings that make malloc map fresh pages for every block over
#: 128 KiB and unmap it when freed. glibc's defaults do the same, but raise
#: the threshold to each larger mapped block the process frees, so how many
#: pages a frame faults in varies from machine to machine (seen: 29,922 per
#: frame on one, 1 on CI's); these fix it for the comparison.
MAP_EVERY_LARGE_BLOCK = {
    'MALLOC_MMAP_THRESHOLD_': '131072',
    'MALLOC_TRIM_THRESHOLD_': '131072'
}


@pytest.mark.skipif(
    not sys.platform.startswith('linux'), reason='glibc mallopt is Linux')
def test_reused_malloc_memory_stops_the_page_faults_of_every_frame():
    """Where malloc maps fresh pages for every frame's big activations (as
    glibc's defaults can), reuse overrides it: the frames run on the pages
    of the last."""
    env = {**os.environ, **MAP_EVERY_LARGE_BLOCK}
    faults = {}
    for mode in ('system', 'reuse'):
        args = ('--configs', RFCN_CFG, '--shape', '960', '1600', '--frames',
                '2', '--warmup', '4', '--threads', '2', '--cpu-malloc', mode)
        stdout, rows = benchmark_rows(*args, env=env)
        # the header names the environment's settings the column depends on
        assert (f'malloc {mode} (MALLOC_MMAP_THRESHOLD_=131072, '
                'MALLOC_TRIM_THRESHOLD_=131072)') in stdout
        faults[mode] = float(rows[0][16])
    # seen: about 170,000 per frame
    assert faults['system'] > 1000
    # The heap grows during the warm-up frames, then its pages are reused:
    # usually 0-2 faults per frame, but now and then a measured frame still
    # grows the heap, so the bound leaves room for that.
    assert faults['reuse'] < 0.25 * faults['system']


def test_cpu_malloc_description_names_the_environments_malloc_settings():
    tool = load_tool('tools/analysis_tools/benchmark.py')
    described = tool.cpu_malloc_description('reuse', {'PATH': '/bin'})
    assert described == 'malloc reuse'
    environ = {
        'MALLOC_TRIM_THRESHOLD_': '0',
        'GLIBC_TUNABLES': 'glibc.malloc.mmap_threshold=65536',
        'MALLOC_ARENA_MAX': '2',
        'HOME': '/root'
    }
    assert tool.cpu_malloc_description('system', environ) == (
        'malloc system (GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536, '
        'MALLOC_ARENA_MAX=2, MALLOC_TRIM_THRESHOLD_=0)')
    # tunables of other parts of glibc say nothing about malloc
    other_tunables = {'GLIBC_TUNABLES': 'glibc.cpu.hwcaps=-AVX2'}
    assert tool.cpu_malloc_description('system',
                                       other_tunables) == 'malloc system'


def test_share_weights_makes_detectors_read_the_same_tensors():
    tool = load_tool('tools/analysis_tools/benchmark.py')
    device = torch.device('cpu')
    rfcn = tool.build_model(osp.join(REPO_ROOT, RFCN_CFG), device)
    clocknet = tool.build_model(osp.join(REPO_ROOT, CLOCKNET_CFG), device)
    tool.share_weights(rfcn.detector, clocknet.detector)
    src = rfcn.detector.state_dict(keep_vars=True)
    dst = clocknet.detector.state_dict(keep_vars=True)
    assert src.keys() == dst.keys()
    assert all(src[k] is dst[k] for k in src)
    # the modules themselves stay distinct, so each keeps its own hooks
    assert rfcn.detector is not clocknet.detector
    # the memory parts are untouched
    assert not hasattr(rfcn, 'motion') and hasattr(clocknet, 'motion')


def test_share_weights_rejects_different_detectors():
    tool = load_tool('tools/analysis_tools/benchmark.py')
    small = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3))
    assert tool.weight_mismatch(small, other) == ['0.bias', '0.weight']
    assert tool.weight_mismatch(small, small) == []
    with pytest.raises(ValueError, match='cannot share detector weights'):
        tool.share_weights(small, other)


def test_no_section_times_still_counts_flows_and_warps():
    stdout, rows = benchmark_rows('--configs', RFCN_CFG, CLOCKNET_CFG,
                                  '--shape', '64', '96', '--frames', '4',
                                  '--warmup', '1', '--no-section-times')
    # frames 1..4 of ClockNet (1, 4, 8): 1 + 2 + 2 + 2 flows, 3 warps each
    assert [float(v) for v in rows[1][5:7]] == [1.75, 3.0]
    # half a period of its clocks: said
    assert (f'warning: {CLOCKNET_CFG} repeats its work every 8 frames, but '
            '4 are timed') in stdout
    assert f'warning: {RFCN_CFG}' not in stdout
    assert all(r[7:15] == ['n/a'] * 8 for r in rows)
    assert float(rows[1][1]) > 0


def test_medians_are_over_whole_periods_of_the_clocks():
    tool = load_tool('tools/analysis_tools/benchmark.py')
    device = torch.device('cpu')
    assert tool.clock_period(
        tool.build_model(osp.join(REPO_ROOT, CLOCKNET_CFG), device)) == 8
    assert tool.clock_period(
        tool.build_model(osp.join(REPO_ROOT, RFCN_CFG), device)) == 1
    seconds = torch.arange(1.0, 19.0)  # 18 frames: two periods of 8 + 2
    assert tool.per_period(seconds, 8).tolist() == [36.0, 100.0]
    assert tool.per_period(seconds, 1).tolist() == seconds.tolist()
    assert tool.per_period(seconds[:4], 8).tolist() == [1.0, 2.0, 3.0, 4.0]


def test_no_decomposition_for_a_model_that_skips_the_backbone(tmp_path):
    """Strides (4, 8): the backbone runs at one frame in 4, so R-FCN's frame
    plus the memory's time is no estimate of its frame (n/a)."""
    config = tmp_path / 'clocknet_4_8.py'
    config.write_text(f"_base_ = '{osp.join(REPO_ROOT, CLOCKNET_CFG)}'\n"
                      'model = dict(aggregator=dict(strides=(4, 8)))\n')
    _, rows = benchmark_rows('--configs', RFCN_CFG, str(config), '--shape',
                             '64', '96', '--frames', '8', '--warmup', '1')
    assert rows[1][14] == 'n/a' and float(rows[0][14]) == 1.0
    # the backbone: at frames 4 and 8 of frames 1..8 (counted, not timed)
    assert [float(r[17]) for r in rows] == [1.0, 0.25]


def test_warp_sampler_is_set_in_the_memory_models():
    tool = load_tool('tools/analysis_tools/benchmark.py')
    device = torch.device('cpu')
    clocknet = tool.build_model(
        osp.join(REPO_ROOT, CLOCKNET_CFG), device, warp_sampler='grid_sample')
    assert clocknet.warp.sampler == 'grid_sample'
    assert tool.build_model(osp.join(REPO_ROOT, CLOCKNET_CFG),
                            device).warp.sampler == 'auto'
    # a per-frame detector has no warp to set
    assert not hasattr(
        tool.build_model(
            osp.join(REPO_ROOT, RFCN_CFG), device, warp_sampler='gather'),
        'warp')
    stdout, rows = benchmark_rows('--configs', RFCN_CFG, CLOCKNET_CFG,
                                  '--shape', '64', '96', '--frames', '2',
                                  '--warmup', '1', '--warp-sampler',
                                  'grid_sample')
    assert 'warp sampler grid_sample' in stdout
    assert float(rows[1][6]) == 3.0


def test_channels_last_stores_the_weights_nhwc():
    tool = load_tool('tools/analysis_tools/benchmark.py')
    model = tool.build_model(
        osp.join(REPO_ROOT, CLOCKNET_CFG),
        torch.device('cpu'),
        channels_last=True)
    convs = [p for p in model.parameters() if p.dim() == 4]
    assert len(convs) > 20
    assert all(
        p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    stdout, rows = benchmark_rows('--configs', RFCN_CFG, CLOCKNET_CFG,
                                  '--shape', '64', '96', '--frames', '2',
                                  '--warmup', '1', '--channels-last')
    assert 'weights channels-last' in stdout
    assert (f'{CLOCKNET_CFG}: detector weights shared with the first model'
            in stdout)
    assert [float(v) for v in rows[1][5:7]] == [1.5, 3.0]


def test_concurrent_flow_is_set_in_the_memory_models_and_needs_cuda():
    tool = load_tool('tools/analysis_tools/benchmark.py')
    device = torch.device('cpu')
    clocknet = tool.build_model(
        osp.join(REPO_ROOT, CLOCKNET_CFG), device, concurrent_flow=True)
    assert clocknet.concurrent_flow is True
    assert tool.build_model(osp.join(REPO_ROOT, CLOCKNET_CFG),
                            device).concurrent_flow is False
    assert not hasattr(
        tool.build_model(
            osp.join(REPO_ROOT, RFCN_CFG), device, concurrent_flow=True),
        'concurrent_flow')
    for extra, message in ((['--no-section-times'],
                            '--concurrent-flow needs a CUDA'),
                           (['--device', 'cuda'], 'needs --no-section-times')):
        proc = tiny_benchmark('--concurrent-flow', *extra)
        assert proc.returncode == 2 and message in proc.stderr


class FakeEvent:
    """A CUDA event on a hand-moved clock (seconds)."""
    clock = 0.0
    waited = []

    def record(self):
        self.time = FakeEvent.clock

    def synchronize(self):
        FakeEvent.waited.append(self)

    def elapsed_time(self, end):
        return 1000 * (end.time - self.time)  # ms, as torch.cuda.Event


class Step(torch.nn.Module):
    """A module whose call takes ``seconds`` on the fake clock."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        FakeEvent.clock += self.seconds
        return x


def test_event_timer_adds_section_times_when_collected():
    """Events are recorded at both ends of every call and read only by
    collect(), once the frame is done."""
    tool = load_tool('tools/analysis_tools/benchmark.py')
    FakeEvent.clock, FakeEvent.waited = 0.0, []
    timer = tool.SectionTimer(
        torch.device('cpu'), timer='events', event_factory=FakeEvent)
    flow, warp = Step(0.25), Step(0.5)
    timer.watch('flow', flow)
    timer.watch('warp', warp)
    head = Step(2.0)
    timer.watch_method('head', head, 'forward')
    for _ in range(2):  # a frame: one flow, two warps, the head
        flow(0), warp(0), warp(0), head.forward(0)
    assert dict(timer.seconds) == {}  # nothing read during the frames
    assert dict(timer.calls) == {'flow': 2, 'warp': 4}
    timer.collect()
    assert timer.seconds == pytest.approx({
        'flow': 0.5,
        'warp': 2.0,
        'head': 4.0
    })
    assert len(FakeEvent.waited) == 8  # each call's end event, once
    timer.collect()
    assert timer.seconds['warp'] == pytest.approx(2.0)
    with pytest.raises(ValueError, match='timer must be one of'):
        tool.SectionTimer(torch.device('cpu'), timer='cuda')


@pytest.mark.parametrize('extra, message', [
    ([], '--section-timer events needs a CUDA --device'),
    (['--device', 'cuda', '--no-section-times'], 'drop --no-section-times'),
])
def test_event_section_timer_arguments_are_checked(extra, message):
    proc = tiny_benchmark('--section-timer', 'events', *extra)
    assert proc.returncode == 2 and message in proc.stderr


@pytest.mark.parametrize(
    'extra, message',
    [
        (['--frames', '0'], '--frames must be at least 1, got 0'),
        # frame 0 of a memory has no flow: always a warm-up frame
        (['--warmup', '0'], '--warmup must be at least 1, got 0'),
        (['--shape', '0', '96'], '--shape must be a height and a width of at '
         'least 1 pixel, got 0 96'),
    ])
def test_frame_counts_and_shape_are_checked(extra, message):
    # a negative warm-up once timed the cold first frame and divided by
    # one frame more than it timed
    proc = tiny_benchmark(*extra)
    assert proc.returncode == 2 and message in proc.stderr


def test_cudnn_benchmark_is_refused_off_cuda():
    proc = tiny_benchmark('--cudnn-benchmark')
    assert proc.returncode == 2
    assert '--cudnn-benchmark needs a CUDA --device' in proc.stderr


@pytest.mark.parametrize(
    'section_times', [['--no-section-times'], ['--section-timer', 'events']])
def test_runs_on_cuda_with_concurrent_flow(cuda_device, section_times):
    stdout, rows = benchmark_rows('--preset', 'tiny', '--device', 'cuda',
                                  '--frames', '4', '--warmup', '2',
                                  '--concurrent-flow', *section_times)
    assert 'FlowNet beside the backbone' in stdout
    # MemNet: one flow and one warp a frame; ClockNet frames 2..5: 2 and 3
    assert [float(v) for v in rows[1][5:7]] == [1.0, 1.0]
    assert [float(v) for v in rows[2][5:7]] == [2.0, 3.0]
    if 'events' in section_times:
        assert 'section times by CUDA events' in stdout
        # flow, warp and aggregation shares and the memory's own time
        assert all(float(v) > 0 for v in rows[1][7:10] + rows[1][13:14])


def test_runs_on_cuda(cuda_device):
    stdout, rows = benchmark_rows('--preset', 'tiny', '--device', 'cuda',
                                  '--frames', '4', '--warmup', '2')
    assert torch.cuda.get_device_name() in stdout and 'TF32' in stdout
    assert 'cuDNN benchmark off' in stdout
    assert 'default auto is grid_sample here' in stdout
    assert len(rows) == 3
    # MemNet: one flow and one warp a frame; ClockNet frames 2..5: 2 and 3
    assert [float(v) for v in rows[1][5:7]] == [1.0, 1.0]
    assert [float(v) for v in rows[2][5:7]] == [2.0, 3.0]
    assert all(float(r[1]) > 0 for r in rows)


def test_frames_are_zero_padded_as_the_data_preprocessor_pads():
    # 60x100 is no multiple of the models' pad_size_divisor (16): the
    # memory model warps with a flow of the padded 64x112 image, which its
    # stride-8 map covers exactly (unpadded, FlowWarp would refuse it)
    stdout, rows = benchmark_rows('--configs', RFCN_CFG, CLOCKNET_CFG,
                                  '--shape', '60', '100', '--frames', '8',
                                  '--warmup', '1')
    assert ('frames of 60x100 zero-padded to 64x112 (pad_size_divisor 16)'
            in stdout)
    assert [r[0] for r in rows] == [RFCN_CFG, CLOCKNET_CFG]
    tool = load_tool('tools/analysis_tools/benchmark.py')
    assert tool.padded_shape((600, 1000), 16) == (608, 1008)
    assert tool.padded_shape((608, 1008), 16) == (608, 1008)
    (inputs, samples), = tool.make_frames(1, (60, 100), torch.device('cpu'),
                                          16)
    assert inputs.shape == (1, 1, 3, 64, 112)
    assert not inputs[..., 60:, :].any() and not inputs[..., 100:].any()
    assert inputs[..., :60, :100].ne(0).all()
    meta = samples[0].video_data_samples[0].metainfo
    assert meta['img_shape'] == (60, 100)
    assert meta['pad_shape'] == meta['batch_input_shape'] == (64, 112)


def test_evidence_interval_is_set_in_the_memory_models():
    """--evidence-interval 4: the memory models run the backbone at one
    frame in 4 and take FlowNet's flow at every frame; the period of
    MemNet's clock becomes 4, and the header says so."""
    tool = load_tool('tools/analysis_tools/benchmark.py')
    device = torch.device('cpu')
    memnet = tool.build_model(
        osp.join(REPO_ROOT, MEMNET_CFG),
        device,
        evidence_interval=3,
        anticipate=True)
    assert (memnet.test_cfg['evidence_interval'],
            memnet.test_cfg['anticipate']) == (3, True)
    assert tool.clock_period(memnet) == 3
    assert tool.clock_period(
        tool.build_model(
            osp.join(REPO_ROOT, CLOCKNET_CFG), device,
            evidence_interval=3)) == 24
    stdout, rows = benchmark_rows('--configs', RFCN_CFG, MEMNET_CFG, '--shape',
                                  '64', '96', '--frames', '8', '--warmup', '1',
                                  '--evidence-interval', '4')
    assert "memory models' image evidence every 4 frame(s)," in stdout
    assert 'warning' not in stdout
    # frames 1..8: FlowNet at each, the backbone at frames 4 and 8 only
    assert [float(v) for v in rows[1][5:7]] == [1.0, 1.0]
    assert [float(r[17]) for r in rows] == [1.0, 0.25]
    assert rows[1][14] == 'n/a'
    for extra, message in ((['--evidence-interval',
                             '0'], 'must be at least 1'),
                           (['--anticipate'],
                            '--anticipate needs --evidence-interval > 1')):
        proc = tiny_benchmark(*extra)
        assert proc.returncode == 2 and message in proc.stderr


def test_two_detector_model_counts_its_flows_and_the_strong_step():
    """The fast detector beside a strong one (StrongFeatureRFCN): one flow
    and one warp a frame once the delayed memories arrive (delay 3 of 8
    frames after 1 warm-up frame: frames 3-8), the fast backbone every
    frame, and the strong detector's step timed apart."""
    fast = 'configs/rfcn/rfcn_r18-w8-d8_1xb4-ft3e_synthvid.py'
    two = ('configs/strong_feature/strong-feature_rfcn_r18-w8-d8_'
           'clocknet-featprop_1xb4-ft3e_synthvid.py')
    stdout, rows = benchmark_rows('--configs', fast, two, '--shape', '64',
                                  '96', '--frames', '8', '--warmup', '1')
    assert f'{two}: detector weights shared with the first model' in stdout
    assert float(rows[1][5]) == float(rows[1][6]) == 6 / 8
    assert float(rows[1][17]) == 1.0
    assert float(rows[1][9]) == 0  # no aggregation in the fast thread
    assert f"{two}: the strong detector's step took" in stdout
    assert 'the fast thread (the frame without it)' in stdout


def test_box_propagation_times_the_strong_head_as_strong_work(
        tmp_path, monkeypatch):
    """With test_cfg.propagate='boxes' the strong detector's R-FCN head runs
    outside its step (strong_detections): it was left in the fast
    thread's time. On a hand-moved clock: the step takes 2 s, the head
    1 s, everything else nothing."""
    tool = load_tool('tools/analysis_tools/benchmark.py')
    config = write_box_propagation_config(tmp_path)
    device = torch.device('cpu')
    model = tool.build_model(config, device)
    clock = [0.0]

    def taking(seconds, method):

        def call(*args, **kwargs):
            clock[0] += seconds
            return method(*args, **kwargs)

        return call

    model.strong.online_memory_unchecked = taking(
        2.0, model.strong.online_memory_unchecked)
    model.strong_detections = taking(1.0, model.strong_detections)
    monkeypatch.setattr(tool, 'build_model', lambda *args, **kwargs: model)
    model, timer = tool.watched_model(config, device)
    timer._now = lambda: clock[0]
    with torch.no_grad():
        for inputs, samples in tool.make_frames(3, (64, 96), device, 16):
            model.predict(inputs, samples)
    assert timer.seconds['strong'] == pytest.approx(3 * (2.0 + 1.0))
    assert timer.seconds['head'] == 0


def test_split_halves_models_are_refused(tmp_path):
    """The "(split)" baseline's halves would run on two devices, and the
    tool's sections time a whole frame's head: it is not timed."""
    tool = load_tool('tools/analysis_tools/benchmark.py')
    config = tmp_path / 'split.py'
    config.write_text(f"_base_ = '{osp.join(REPO_ROOT, CLOCKNET_CFG)}'\n"
                      'model = dict(test_cfg=dict(split_halves=True))\n')
    with pytest.raises(ValueError, match='split_halves=True'):
        tool.build_model(str(config), torch.device('cpu'))


@pytest.mark.parametrize(
    'preset', ['paper', 'tiny', 'paper-two-detector', 'tiny-two-detector'])
def test_presets_find_their_configs_from_any_directory(tmp_path, monkeypatch,
                                                       preset):
    """They were relative to the repository root: from elsewhere the run
    failed with a bare FileNotFoundError (the two-detector presets' strong
    configs too)."""
    tool = load_tool('tools/analysis_tools/benchmark.py')
    monkeypatch.chdir(tmp_path)
    configs = tool.parse_args(['--preset', preset]).configs
    assert [osp.realpath(c) for c in configs] == [
        osp.realpath(osp.join(REPO_ROOT, c))
        for c in tool.PRESETS[preset]['configs']
    ]
    assert all(osp.isfile(c) for c in configs)
    if preset == 'tiny-two-detector':
        # its strong detector's config too (strong_config is relative to
        # the repository root); the paper-scale one builds the same way
        two = tool.build_model(configs[1], torch.device('cpu'))
        assert type(two.strong).__name__ == 'MemoryRFCN'
    monkeypatch.chdir(REPO_ROOT)  # the table names them as before
    assert tool.preset_configs(preset) == tool.PRESETS[preset]['configs']
