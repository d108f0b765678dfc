#!/usr/bin/env bash
# Copyright (c) memvid_mm contributors. All rights reserved.
# Create the project's virtual environment (CPU) in $VENV (default .venv).
#
# Stack: Python 3.11, torch 2.13.0, mmengine 0.10.7, mmcv 2.1.0 built from
# source with its compiled ops, mmdet 3.3.0, numpy 2.x.  Idempotent: a
# finished environment is marked by $VENV/.memvid_ready and left alone.
set -euo pipefail
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
if [ -f "$VENV/.memvid_ready" ]; then
    exit 0
fi
python_version() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'
}
echo "[setup_env] creating $VENV with $($PYTHON --version)"
# venv keeps the interpreter of an existing environment (an interrupted
# run's, or one made by another Python): one of another version is cleared
VENV_FLAGS=()
if [ -e "$VENV" ]; then
    HAVE=$(python_version "$VENV/bin/python" 2>/dev/null || echo none)
    WANT=$(python_version "$PYTHON")
    if [ "$HAVE" != "$WANT" ]; then
        echo "[setup_env] $VENV holds Python $HAVE, not $WANT: clearing it"
        VENV_FLAGS=(--clear)
    fi
fi
$PYTHON -m venv "${VENV_FLAGS[@]}" "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip 'setuptools>=77,<81' wheel
$PIP install -q torch==2.13.0
$PIP install -q 'numpy>=2,<3' opencv-python-headless 'mmengine==0.10.7' \
    ninja psutil
echo "[setup_env] mmcv 2.1.0: built from source (about 20-30 min on 2 "\
"cores) unless pip's wheel cache holds the wheel of an earlier build"
MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} FORCE_CUDA=0 \
    $PIP install -q --no-build-isolation 'mmcv==2.1.0'
$PIP install -q 'mmdet==3.3.0'
$PIP install -q -r requirements/tests.txt
$PIP install -q --no-build-isolation --no-deps -e .
$VENV/bin/python -c "import mmcv.ops, mmdet, memvid_mm"
touch "$VENV/.memvid_ready"
echo "[setup_env] done"
