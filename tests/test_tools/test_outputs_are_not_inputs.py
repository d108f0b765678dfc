# Copyright (c) memvid_mm contributors. All rights reserved.
"""Every tool that writes a file refuses one that is an input of its own,
before any work, and leaves that input as it was."""
import sys

import pytest

from . import load_tool

FILES = ('ann.json', 'dets.pkl', 'other.pkl', 'model.py', 'model.pth')

# (tool, its arguments, the start of the error): the files above,
# one output among the inputs
CASES = [
    ('analysis_tools/eval_vid.py', 'dets.pkl ann.json --out dets.pkl',
     '--out dets.pkl is the dump'),
    ('analysis_tools/eval_vid.py', 'dets.pkl ann.json --out ann.json',
     '--out ann.json is the annotation file'),
    ('analysis_tools/compare_vid.py',
     'ann.json dets.pkl other.pkl --out other.pkl',
     '--out other.pkl is dump 2'),
    ('analysis_tools/seed_spread.py',
     '--model a dets.pkl --model b other.pkl --out other.pkl',
     '--out other.pkl is a metrics file of --model b'),
    ('analysis_tools/flow_epe_synthvid.py',
     'model.py model.pth --out model.pth',
     '--out model.pth is the checkpoint'),
    ('analysis_tools/test_true_flow_synthvid.py',
     'model.py model.pth --out dets.pkl --metrics-out dets.pkl',
     '--metrics-out dets.pkl is the --out dump'),
    ('misc/pretrain_flownet_synthvid.py', 'model.py --out model.py',
     '--out model.py is the config'),
    ('test.py', 'model.py model.pth --out model.pth',
     '--out model.pth is the checkpoint'),
    ('test.py', 'model.py model.pth --out dets.pkl --metrics-out dets.pkl',
     '--metrics-out dets.pkl is the --out dump'),
    ('misc/join_strong_feature_checkpoint.py', 'model.pth dets.pkl dets.pkl',
     'out dets.pkl is the strong checkpoint'),
]


@pytest.mark.parametrize('tool,args,message', CASES)
def test_an_output_that_is_an_input_is_refused(tool, args, message, tmp_path,
                                               monkeypatch):
    tool, args = f'tools/{tool}', args.split()
    monkeypatch.chdir(tmp_path)
    for name in FILES:
        (tmp_path / name).write_text(name)
    main = load_tool(tool).main
    with pytest.raises(ValueError, match=message):
        if 'argv' in main.__code__.co_varnames[:main.__code__.co_argcount]:
            main(args)
        else:
            monkeypatch.setattr(sys, 'argv', [tool, *args])
            main()
    for name in FILES:
        assert (tmp_path / name).read_text() == name
