# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/benchmark_ps_roi.py times the PS RoI ops with the
default allocator and measures their peaks in a process of its own."""
import argparse
import sys

from . import load_tool

TINY = ['--num-rois', '4', '--num-classes', '1', '--size', '6', '8']


def test_times_with_the_default_allocator(monkeypatch, capsys):
    """The mmap threshold of the CPU peaks made every timed call fault in
    and zero fresh pages (2-4x the time): no timing may follow it."""
    tool = load_tool('tools/analysis_tools/benchmark_ps_roi.py')
    events = []
    time_op = tool.time_op

    def timed(*args):
        events.append('time')
        return time_op(*args)

    def peaks(args):
        events.append('peaks')
        return dict(mmap=True, peaks=[1.0, 2.0, 3.0])

    monkeypatch.setattr(tool, 'time_op', timed)
    monkeypatch.setattr(tool, 'serve_large_allocations_with_mmap',
                        lambda: events.append('mmap') or True)
    monkeypatch.setattr(tool, 'cpu_peaks_in_subprocess', peaks, raising=False)
    monkeypatch.setattr(
        sys, 'argv',
        ['benchmark_ps_roi.py', '--device', 'cpu', '--repeats', '1', *TINY])
    tool.main()
    assert events == ['time', 'time', 'time', 'peaks']
    rows = [
        line.split('|')[1:-1] for line in capsys.readouterr().out.splitlines()
        if line.startswith('| cpu')
    ]
    assert [float(row[-1]) for row in rows] == [1.0, 2.0, 3.0]


def test_cpu_peaks_come_from_a_second_process():
    tool = load_tool('tools/analysis_tools/benchmark_ps_roi.py')
    args = argparse.Namespace(num_rois=4, num_classes=1, size=(6, 8), warmup=1)
    measured = tool.cpu_peaks_in_subprocess(args)
    if sys.platform.startswith('linux'):  # glibc's mallopt took it
        assert measured['mmap'] is True
    assert len(measured['peaks']) == 3
    assert all(peak >= 0 for peak in measured['peaks'])
