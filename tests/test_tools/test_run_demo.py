# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/misc/run_demo.py: every training gets the demo's seed, and a
finished stage is kept only when it was trained with that seed."""
import json
import os
import os.path as osp

from . import load_tool


def test_stage_is_kept_only_for_the_same_seed(tmp_path, monkeypatch):
    tool = load_tool('tools/misc/run_demo.py')
    calls = []

    def fake_train(config, model_dir, options):
        os.makedirs(model_dir, exist_ok=True)  # as tools/train.py does
        calls.append(options)
        return 1.5

    monkeypatch.setattr(tool, 'train', fake_train)
    model_dir = str(tmp_path / 'stage')
    done_file = osp.join(model_dir, 'stage_results.json')
    assert tool.read_seed(done_file) is None

    first = tool.run_stage('cfg.py', model_dir, ['load_from=a.pth'],
                           evaluate=False, seed=0, overwrite=False)
    assert calls == [['load_from=a.pth', 'randomness.seed=0']]
    assert first == dict(seed=0, train_s=1.5)
    assert tool.read_seed(done_file) == 0

    # same seed: kept; another seed or --overwrite: trained again
    assert tool.run_stage('cfg.py', model_dir, [], False, 0, False) == first
    assert len(calls) == 1
    tool.run_stage('cfg.py', model_dir, [], False, 1, False)
    assert calls[-1] == ['randomness.seed=1'] and tool.read_seed(
        done_file) == 1
    tool.run_stage('cfg.py', model_dir, [], False, 1, True)
    assert len(calls) == 3

    # results of a demo from before seeding (no 'seed') are not reused
    with open(done_file, 'w') as f:
        json.dump(dict(train_s=2.0), f)
    tool.run_stage('cfg.py', model_dir, [], False, 0, False)
    assert len(calls) == 4
