# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/benchmark_grid_sample.py times the warp's samplers."""
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from . import REPO_ROOT, load_tool


def test_forward_backward_returns_the_output_and_both_gradients():
    tool = load_tool('tools/analysis_tools/benchmark_grid_sample.py')
    feat, coords = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    out, feat_grad, coords_grad = tool.forward_backward(
        lambda f, c: f * c, feat, coords)
    assert torch.equal(out, feat * coords)
    assert torch.allclose(feat_grad, 2 * feat * coords**2)
    assert torch.allclose(coords_grad, 2 * feat**2 * coords)
    assert tool.relative_difference(
        torch.tensor([2., -4.]), torch.tensor([2., -3.])) == 0.25


def test_median_of_an_even_number_of_calls(monkeypatch):
    """The mean of the two middle times: 4 calls of 1, 2, 3 and 10 ms gave
    3 ms, the upper one (the default 200 forward calls are even)."""
    tool = load_tool('tools/analysis_tools/benchmark_grid_sample.py')
    ticks = iter([0.0, 0.001, 1.0, 1.002, 2.0, 2.003, 3.0, 3.010])
    monkeypatch.setattr(tool, 'time',
                        SimpleNamespace(perf_counter=lambda: next(ticks)))
    monkeypatch.setattr(tool, 'WARMUP', 0)
    assert tool.median_ms(lambda: None, 4,
                          torch.device('cpu')) == pytest.approx(2.5)
    ticks = iter([0.0, 0.001, 1.0, 1.003, 2.0, 2.010])
    assert tool.median_ms(lambda: None, 3,
                          torch.device('cpu')) == pytest.approx(3.0)


def test_reports_both_layouts_of_every_interpolation():
    proc = subprocess.run([
        sys.executable, 'tools/analysis_tools/benchmark_grid_sample.py',
        '--shapes', 'tiny', '--repeats', '4', '--threads', '2'
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [[cell.strip() for cell in line.split('|')[1:-1]]
            for line in proc.stdout.splitlines() if line.startswith('| tiny')]
    assert [row[1] for row in rows] == ['bilinear', 'bicubic']
    for row in rows:
        forward = dict(item.rsplit(' ', 1) for item in row[2].split(', '))
        assert list(forward) == ['grid_sample', 'grid_sample folded', 'gather']
        both = dict(item.rsplit(' ', 1) for item in row[3].split(', '))
        assert list(both) == ['grid_sample', 'grid_sample folded']
        assert all(float(ms) > 0 for ms in [*forward.values(), *both.values()])
        # on the CPU the two layouts give the same outputs bit for bit
        assert row[4] == 'True'
        output, map_grad, position_grad = map(float, row[5].split(', '))
        assert output == 0 and map_grad <= 1e-5 and position_grad <= 1e-5
