# Copyright (c) memvid_mm contributors. All rights reserved.
"""The slurm and dist launchers pass every argument through as one word."""
import os
import os.path as osp
import subprocess

from . import REPO_ROOT

# prints each argument it gets in brackets, then exits with 7
FAKE = '#!/usr/bin/env bash\nfor a in "$@"; do printf "[%s]" "$a"; done\n' \
       'echo\nexit 7\n'


def fake_program(folder, name):
    path = osp.join(folder, name)
    with open(path, 'w') as f:
        f.write(FAKE)
    os.chmod(path, 0o755)
    return path


def launch(script, args, **env):
    proc = subprocess.run(
        ['bash', f'tools/{script}'] + args,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, **env))
    return proc.returncode, proc.stdout


def test_slurm_scripts_keep_paths_with_spaces_and_extra_arguments(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake_program(str(bin_dir), 'srun')
    path = f"{bin_dir}:{os.environ['PATH']}"
    folder = tmp_path / 'my dir'
    rc, out = launch(
        'slurm_train.sh', [
            'part', 'job', f'{folder}/[ab].py', f'{folder}/wd',
            '--cfg-options', 'work_dir=a b'
        ],
        PATH=path,
        SRUN_ARGS='--qos=high --time=1')
    assert rc == 7  # srun's exit status
    assert (f'[--qos=high][--time=1][python][-u][tools/train.py]'
            f'[{folder}/[ab].py][--work-dir={folder}/wd][--launcher=slurm]'
            '[--cfg-options][work_dir=a b]') in out
    rc, out = launch(
        'slurm_test.sh',
        ['part', 'job', f'{folder}/c.py', f'{folder}/e.pth', '--out', 'r s'],
        PATH=path)
    assert rc == 7
    assert (f'[tools/test.py][{folder}/c.py][{folder}/e.pth]'
            '[--launcher=slurm][--out][r s]') in out


def test_dist_scripts_take_a_python_path_with_spaces(tmp_path):
    folder = tmp_path / 'my dir'
    folder.mkdir()
    python = fake_program(str(folder), 'python')
    rc, out = launch(
        'dist_train.sh', ['a b.py', '2', '--x', 'y z'], PYTHON=python)
    assert rc == 7
    assert out.startswith('[-m][torch.distributed.run]')
    assert '[tools/train.py][a b.py][--launcher][pytorch][--x][y z]' in out
    rc, out = launch('dist_test.sh', ['a b.py', 'c d.pth', '1'], PYTHON=python)
    assert rc == 7
    assert '[tools/test.py][a b.py][c d.pth][--launcher][pytorch]' in out


def test_make_demo_passes_a_work_dir_with_spaces_as_one_argument(tmp_path):
    work_dir = str(tmp_path / 'my dir' / 'wd')
    proc = subprocess.run(['make', '-n', 'demo', f'WORK_DIR={work_dir}'],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          check=True)
    [line
     ] = [line for line in proc.stdout.splitlines() if 'run_demo.py' in line]
    # split as the shell that make runs the line with splits it
    words = subprocess.run(
        ['bash', '-c', 'printf "[%s]" ' + line.split('run_demo.py', 1)[1]],
        capture_output=True,
        text=True,
        check=True).stdout
    assert f'[--work-dir][{work_dir}]' in words
