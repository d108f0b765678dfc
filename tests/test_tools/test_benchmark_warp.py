# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/benchmark_warp.py counts and times FlowWarp."""
import subprocess
import sys

import torch

from . import REPO_ROOT, load_tool


def test_count_operations_leaves_out_views():
    tool = load_tool('tools/analysis_tools/benchmark_warp.py')
    x = torch.randn(3, 4)
    # add, view, mul: three top-level operations, two of them compute
    assert tool.count_operations(lambda: (x + 1).view(-1) * 2) == (3, 2)
    # a conversion that returns its input does not compute; one that
    # copies (float to int64, as the gather sampler's cell indices) does
    assert tool.count_operations(lambda: x.to(torch.float32)) == (1, 0)
    assert tool.count_operations(lambda: x.long()) == (1, 1)


def test_reports_every_shape_interpolation_and_sampler():
    proc = subprocess.run([
        sys.executable, 'tools/analysis_tools/benchmark_warp.py', '--repeats',
        '2', '--threads', '2'
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [[cell.strip() for cell in line.split('|')[1:-1]]
            for line in proc.stdout.splitlines()
            if line.startswith('| paper') or line.startswith('| tiny')]
    assert [(r[1], r[2]) for r in rows] == [('bilinear', 'grid_sample'),
                                            ('bilinear', 'gather'),
                                            ('bicubic', 'grid_sample'),
                                            ('bicubic', 'gather')] * 2
    counts = {}
    for row in rows:
        ops, computing, ms = int(row[3]), int(row[4]), float(row[5])
        assert 0 < computing < ops and ms > 0
        counts.setdefault(row[0].split()[0], []).append(computing)
    bilinear_grid, bilinear_gather, bicubic_grid, bicubic_gather = counts[
        'paper']
    # one fused grid_sample call against one gather per tap
    assert bilinear_grid < bilinear_gather
    assert bicubic_grid < bicubic_gather
    # the gather sampler's bicubic kernel reads 16 cells instead of 4
    assert bilinear_gather < bicubic_gather
    # the counts do not depend on the map's size
    assert counts['paper'] == counts['tiny']
