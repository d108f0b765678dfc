# Copyright (c) memvid_mm contributors. All rights reserved.
import os
import re

import pytest

from memvid_mm.utils.output_paths import check_not_an_input


def test_another_file_or_no_output_passes(tmp_path):
    dump = tmp_path / 'dump.pkl'
    dump.write_bytes(b'x')
    check_not_an_input(
        str(tmp_path / 'metrics.json'), '--out', {'the dump': str(dump)})
    check_not_an_input(None, '--out', {'the dump': str(dump)})
    check_not_an_input(str(dump), '--out', {'the dump': None})


def test_an_input_is_refused_by_any_path_to_it(tmp_path, monkeypatch):
    dump = tmp_path / 'dump.pkl'
    dump.write_bytes(b'x')
    monkeypatch.chdir(tmp_path)
    link = tmp_path / 'link.pkl'
    os.symlink(dump, link)
    hard = tmp_path / 'hard.pkl'
    os.link(dump, hard)
    for output in (str(dump), 'dump.pkl', f'{tmp_path}/./dump.pkl', str(link),
                   str(hard)):
        with pytest.raises(
                ValueError,
                match=re.escape(f'--out {output} is the dump (dump.pkl): '
                                'writing it would overwrite that input')):
            check_not_an_input(
                output, '--out', {
                    'the annotations': str(tmp_path / 'ann.json'),
                    'the dump': 'dump.pkl'
                })
    assert dump.read_bytes() == b'x'
