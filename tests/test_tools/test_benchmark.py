# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/benchmark.py runs and counts flows and warps."""
import os.path as osp
import subprocess
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_benchmark_reports_nf_and_nw_per_model():
    configs = [
        'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py',
        'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
    ]
    proc = subprocess.run(
        [sys.executable, 'tools/analysis_tools/benchmark.py', '--configs',
         *configs, '--shape', '64', '96', '--frames', '8', '--warmup', '1'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split('|')[1:-1] for line in proc.stdout.splitlines()
            if line.startswith('| configs/')]
    assert [r[0].strip() for r in rows] == configs
    # per-frame R-FCN: no flow, no warp
    assert float(rows[0][3]) == 1.0  # ratio of the first model to itself
    assert float(rows[0][12]) == 0.0  # no memory time
    assert float(rows[0][4]) == 0 and float(rows[0][5]) == 0
    # ClockNet (1, 4, 8) over frames 1..8: K = 3 warps per frame, and one
    # flow per distinct anchor frame: 1, 2, 2, 2, 2, 3, 3, 3 -> 18 / 8
    assert float(rows[1][5]) == 3.0
    assert float(rows[1][4]) == 2.25
