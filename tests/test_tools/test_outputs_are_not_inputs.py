# Copyright (c) memvid_mm contributors. All rights reserved.
"""Every tool that writes a file refuses one that is an input of its own,
before any work, and leaves that input as it was."""
import sys

import pytest

from . import load_tool

ANN, DUMP, DUMP2 = 'ann.json', 'dets.pkl', 'other.pkl'
CONFIG, CHECKPOINT = 'model.py', 'model.pth'

# (tool, arguments, the input named in the error); 'main_argv' tools take
# their arguments, the others read sys.argv
CASES = [
    ('tools/analysis_tools/eval_vid.py', [DUMP, ANN, '--out', DUMP],
     f'--out {DUMP} is the dump'),
    ('tools/analysis_tools/eval_vid.py', [DUMP, ANN, '--out', ANN],
     f'--out {ANN} is the annotation file'),
    ('tools/analysis_tools/compare_vid.py',
     [ANN, DUMP, DUMP2, '--out', DUMP2], f'--out {DUMP2} is dump 2'),
    ('tools/analysis_tools/seed_spread.py',
     ['--model', 'a', DUMP, '--model', 'b', DUMP2, '--out', DUMP2],
     f'--out {DUMP2} is a metrics file of --model b'),
    ('tools/analysis_tools/flow_epe_synthvid.py',
     [CONFIG, CHECKPOINT, '--out', CHECKPOINT],
     f'--out {CHECKPOINT} is the checkpoint'),
    ('tools/analysis_tools/test_true_flow_synthvid.py',
     [CONFIG, CHECKPOINT, '--out', DUMP, '--metrics-out', DUMP],
     f'--metrics-out {DUMP} is the --out dump'),
    ('tools/misc/pretrain_flownet_synthvid.py', [CONFIG, '--out', CONFIG],
     f'--out {CONFIG} is the config'),
    ('tools/test.py', [CONFIG, CHECKPOINT, '--out', CHECKPOINT],
     f'--out {CHECKPOINT} is the checkpoint'),
    ('tools/test.py', [CONFIG, CHECKPOINT, '--out', DUMP, '--metrics-out',
                       DUMP], f'--metrics-out {DUMP} is the --out dump'),
    ('tools/misc/join_strong_feature_checkpoint.py',
     [CHECKPOINT, DUMP, DUMP], f'out {DUMP} is the strong checkpoint'),
]


@pytest.mark.parametrize('tool,args,message', CASES)
def test_an_output_that_is_an_input_is_refused(tool, args, message, tmp_path,
                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in (ANN, DUMP, DUMP2, CONFIG, CHECKPOINT):
        (tmp_path / name).write_text(name)
    main = load_tool(tool).main
    with pytest.raises(ValueError, match=message):
        if 'argv' in main.__code__.co_varnames[:main.__code__.co_argcount]:
            main(args)
        else:
            monkeypatch.setattr(sys, 'argv', [tool, *args])
            main()
    for name in (ANN, DUMP, DUMP2, CONFIG, CHECKPOINT):
        assert (tmp_path / name).read_text() == name
