# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/setup_env.sh run with stub interpreters (no pip, no network)."""
import os
import os.path as osp
import stat
import subprocess

import pytest

from . import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'setup_env.sh')

# A stand-in for a Python interpreter of version $STUB_VERSION: it logs its
# arguments, answers the version queries, makes a venv whose python is
# itself and accepts every other command (pip, the import check).
STUB = r'''#!/usr/bin/env bash
echo "$*" >> "$STUB_LOG"
case "$*" in
    --version) echo "Python $STUB_VERSION.0" ;;
    *version_info*) echo "$STUB_VERSION" ;;
    "-m venv"*)
        dir="${@: -1}"
        mkdir -p "$dir/bin"
        cp "$0" "$dir/bin/python" ;;
esac
exit 0
'''


def write_stub(path, version):
    path.parent.mkdir(parents=True, exist_ok=True)
    # the version is baked in, so that a venv keeps its interpreter's
    path.write_text(STUB.replace('$STUB_VERSION', version))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def run_setup(tmp_path):
    log = tmp_path / 'calls.log'
    python = tmp_path / 'python3.11'
    write_stub(python, '3.11')

    def run(venv):
        log.write_text('')
        env = dict(
            os.environ, VENV=str(venv), PYTHON=str(python), STUB_LOG=str(log))
        subprocess.run(['bash', SCRIPT],
                       cwd=REPO_ROOT,
                       env=env,
                       check=True,
                       capture_output=True)
        return log.read_text().splitlines()

    return run


def venv_calls(calls):
    return [c for c in calls if c.startswith('-m venv')]


def test_environment_of_another_python_is_cleared(run_setup, tmp_path):
    venv = tmp_path / 'venv'
    write_stub(venv / 'bin' / 'python', '3.12')
    calls = run_setup(venv)
    assert venv_calls(calls) == [f'-m venv --clear {venv}']
    assert (venv / '.memvid_ready').exists()
    out = subprocess.run([str(venv / 'bin' / 'python'), '--version'],
                         capture_output=True,
                         text=True,
                         env=dict(os.environ, STUB_LOG=os.devnull))
    assert out.stdout.strip() == 'Python 3.11.0'


def test_unfinished_environment_of_the_same_python_is_kept(
        run_setup, tmp_path):
    """An interrupted run's packages stay: pip skips what is installed."""
    venv = tmp_path / 'venv'
    write_stub(venv / 'bin' / 'python', '3.11')
    assert venv_calls(run_setup(venv)) == [f'-m venv {venv}']
    assert (venv / '.memvid_ready').exists()
    assert run_setup(venv) == []  # finished: left alone


def test_new_environment_is_made(run_setup, tmp_path):
    venv = tmp_path / 'venv'
    calls = run_setup(venv)
    assert venv_calls(calls) == [f'-m venv {venv}']
    assert any('install -q torch==2.13.0' in c for c in calls)
