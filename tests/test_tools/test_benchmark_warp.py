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


def test_reports_every_shape_and_interpolation():
    proc = subprocess.run(
        [sys.executable, 'tools/analysis_tools/benchmark_warp.py',
         '--repeats', '2', '--threads', '2'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [[cell.strip() for cell in line.split('|')[1:-1]]
            for line in proc.stdout.splitlines()
            if line.startswith('| paper') or line.startswith('| tiny')]
    assert [r[1] for r in rows] == ['bilinear', 'bicubic'] * 2
    for row in rows:
        ops, computing, ms = int(row[2]), int(row[3]), float(row[4])
        assert 0 < computing < ops and ms > 0
    # the bicubic kernel reads 16 cells instead of 4: more operations
    assert int(rows[0][3]) < int(rows[1][3])
    # the count does not depend on the map's size
    assert rows[0][2:4] == rows[2][2:4]
