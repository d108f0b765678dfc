# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/seed_spread.py: spread over training runs and
gains of the means, on hand-made metrics files."""
import json
import math
import os.path as osp

import numpy as np
import pytest

from . import load_tool

tool = load_tool('tools/analysis_tools/seed_spread.py')

VAL_SHA256 = 'a' * 64


def _write(path, ann_file=dict(path='val.json', sha256=VAL_SHA256), **metrics):
    """A --metrics-out file with the given vid/* metrics (fractions) and
    the record of the tested annotation file (None: no record)."""
    data = {f'vid/{key}': value for key, value in metrics.items()}
    data['vid/bbox_mAP_50'] = 0.5
    if ann_file is not None:
        data['ann_file'] = ann_file
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def test_spread_by_hand():
    s = tool.spread(np.array([80.0, 90.0, 100.0]))
    assert s == dict(mean=90.0, sd=10.0, low=80.0, high=100.0, runs=3)
    single = tool.spread(np.array([70.0]))
    assert single['mean'] == 70.0 and math.isnan(single['sd'])


def test_gain_of_means_welch_by_hand():
    # base mean 2, variance 2; model mean 6, variance 4
    gain, error = tool.gain_of_means(
        np.array([1.0, 3.0]), np.array([4.0, 6.0, 8.0]))
    assert gain == pytest.approx(4.0)
    assert error == pytest.approx(math.sqrt(4 / 3 + 2 / 2))
    gain, error = tool.gain_of_means(np.array([1.0]), np.array([4.0, 6.0]))
    assert gain == pytest.approx(4.0) and math.isnan(error)


def test_report_from_files(tmp_path):
    # reference: fast - slow = -10 and -20 (mean -15, variance 50);
    # model: fast - slow = +10 and +20 and +30 (mean 20, variance 100)
    base = [
        _write(tmp_path / 'b1.json', mAP=0.5, mAP_fast=0.4, mAP_slow=0.5),
        _write(tmp_path / 'b2.json', mAP=0.7, mAP_fast=0.5, mAP_slow=0.7),
    ]
    model = [
        _write(tmp_path / f'm{i}.json', mAP=0.8, mAP_fast=fast, mAP_slow=slow)
        for i, (fast, slow) in enumerate([(0.7, 0.6), (0.8, 0.6), (0.9, 0.6)])
    ]
    out = tmp_path / 'report.md'
    report = tool.main([
        '--model', 'R-FCN', *base, '--model', 'MemNet', *model, '--out',
        str(out)
    ])
    assert out.read_text(encoding='utf-8').strip() == report
    lines = report.splitlines()
    rfcn = next(line for line in lines if line.startswith('| R-FCN |'))
    # mAP 50 and 70: mean 60, sd 14.1
    assert '| 2 | 60.0 ± 14.1 (50.0-70.0) |' in rfcn
    gains = next(
        line for line in lines if line.startswith('| MemNet |') and '±' in line
        and 'gain' not in line and '(' not in line)
    cells = [cell.strip() for cell in gains.strip('|').split('|')]
    # mAP: 80 - 60, error sqrt(0 / 3 + 200 / 2) = 10
    assert cells[1] == '+20.0 ± 10.0'
    # fast - slow contrast: 20 - (-15) = 35, error sqrt(100/3 + 50/2)
    assert cells[-1] == f'+35.0 ± {math.sqrt(100 / 3 + 50 / 2):.1f}'
    # medium is absent from the files: no column and no contrast with it
    assert 'mAP_medium' not in report and 'fast - medium' not in report


def test_bad_files_are_named(tmp_path):
    good = _write(tmp_path / 'good.json', mAP=0.5, mAP_fast=0.4)
    broken = tmp_path / 'broken.json'
    broken.write_text('{"vid/mAP": ')
    with pytest.raises(ValueError, match='broken.json: not valid JSON'):
        tool.load_metrics(str(broken))
    listing = tmp_path / 'list.json'
    listing.write_text('[0.5]')
    with pytest.raises(ValueError, match='list.json: expected a JSON'):
        tool.load_metrics(str(listing))
    other = tmp_path / 'other.json'
    other.write_text('{"coco/bbox_mAP": 0.5}')
    with pytest.raises(ValueError, match=r'other.json: no vid/mAP'):
        tool.load_metrics(str(other))
    text = tmp_path / 'text.json'
    text.write_text('{"vid/mAP": "high"}')
    with pytest.raises(ValueError, match="text.json: metric 'vid/mAP'"):
        tool.load_metrics(str(text))
    fewer = _write(tmp_path / 'fewer.json', mAP=0.5)
    with pytest.raises(ValueError, match='fewer.json reports'):
        tool.stack_runs([good, fewer])
    with pytest.raises(ValueError, match='MemNet lacks metrics'):
        tool.main(['--model', 'R-FCN', good, '--model', 'MemNet', fewer])
    with pytest.raises(ValueError, match='given twice'):
        tool.main(['--model', 'A', good, '--model', 'A', good])


def test_command_line_needs_a_reference_and_files(tmp_path, capsys):
    good = _write(tmp_path / 'good.json', mAP=0.5)
    with pytest.raises(SystemExit):
        tool.parse_args(['--model', 'R-FCN', good])
    assert 'give a reference and at least one other --model' in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.parse_args(['--model', 'R-FCN', good, '--model', 'MemNet'])
    assert '--model MemNet needs at least one metrics' in \
        capsys.readouterr().err


def test_a_file_given_twice_for_one_model_is_named(tmp_path):
    # it used to count as two runs, with a standard deviation of 0
    base = _write(tmp_path / 'b.json', mAP=0.5)
    run = _write(tmp_path / 'm.json', mAP=0.6)
    with pytest.raises(ValueError, match='m.json is given twice'):
        tool.main(['--model', 'R-FCN', base, '--model', 'MemNet', run, run])
    same = osp.join(str(tmp_path), '.', 'm.json')  # the same file
    with pytest.raises(
            ValueError, match=r'/\./m.json is given twice .*\(as .*m.json'):
        tool.stack_runs([run, same])


def test_a_file_given_for_two_models_is_named(tmp_path):
    """One run counted for two models made them look alike: rfcn_s1.json
    as a ClockNet run too gave a gain of +2.0 ± 3.2 for the model."""
    base = [_write(tmp_path / f'b{i}.json', mAP=0.5) for i in (1, 2)]
    runs = [_write(tmp_path / f'm{i}.json', mAP=0.6) for i in (1, 2)]
    other = _write(tmp_path / 'o.json', mAP=0.7)
    # a run of the reference given as one of another model's
    with pytest.raises(
            ValueError,
            match=r'b1.json is given for --model MemNet and for --model '
            r'R-FCN \(the reference\): one run would count as a run of '
            'two models'):
        tool.main(
            ['--model', 'R-FCN', *base, '--model', 'MemNet', runs[0], base[0]])
    # two models after the reference, the file spelt another way
    same = osp.join(str(tmp_path), '.', 'm2.json')
    with pytest.raises(
            ValueError,
            match=r'/\./m2.json is given for --model ClockNet and for '
            r'--model MemNet \(as .*/m2.json\)'):
        tool.main([
            '--model', 'R-FCN', *base, '--model', 'MemNet', *runs, '--model',
            'ClockNet', other, same
        ])
    assert 'ClockNet' in tool.main([
        '--model', 'R-FCN', *base, '--model', 'MemNet', *runs, '--model',
        'ClockNet', other
    ])


@pytest.mark.parametrize('value,match', [
    (55.0, "metric 'vid/mAP_fast' is 55.0, not an AP in \\[0, 1\\]"),
    (-0.1, "metric 'vid/mAP_fast' is -0.1"),
    (float('nan'), "metric 'vid/mAP_fast' is NaN"),
])
def test_a_metric_that_is_no_fraction_is_named(tmp_path, value, match):
    # a percentage gave gains like +5440.0; NaN silently became '-'
    base = _write(tmp_path / 'b.json', mAP=0.5, mAP_fast=0.4)
    bad = _write(tmp_path / 'bad.json', mAP=0.6, mAP_fast=value)
    with pytest.raises(ValueError, match='bad.json: ' + match):
        tool.main(['--model', 'R-FCN', base, '--model', 'MemNet', bad])


def test_a_nan_outside_the_report_is_allowed(tmp_path):
    """A class without ground truth has a NaN AP; the report skips it."""
    base = _write(tmp_path / 'b.json', mAP=0.5, AP_zebra=float('nan'))
    other = _write(tmp_path / 'm.json', mAP=0.6, AP_zebra=float('nan'))
    report = tool.main(['--model', 'R-FCN', base, '--model', 'MemNet', other])
    assert '| MemNet | +10.0 ± - |' in report


def test_runs_scored_on_other_annotation_files_are_refused(tmp_path):
    """Runs tested on different val sets would mix the data into the
    spread and the gains; the files record what they were scored on."""
    base = [_write(tmp_path / f'b{i}.json', mAP=0.5) for i in (1, 2)]
    other_val = dict(path='val_big.json', sha256='b' * 64)
    runs = [
        _write(tmp_path / 'm1.json', mAP=0.6),
        _write(tmp_path / 'm2.json', ann_file=other_val, mAP=0.6)
    ]
    with pytest.raises(
            ValueError,
            match=r'm2.json \(--model MemNet\) was scored on val_big.json '
            r'\(SHA-256 bbbbbbbbbbbb...\), but .*b1.json \(--model R-FCN\) '
            r'on val.json \(SHA-256 aaaaaaaaaaaa...\)'):
        tool.main(['--model', 'R-FCN', *base, '--model', 'MemNet', *runs])
    # the same bytes at another path are the same data
    moved = _write(
        tmp_path / 'm3.json',
        ann_file=dict(path='/elsewhere/val.json', sha256=VAL_SHA256),
        mAP=0.6)
    assert 'MemNet' in tool.main(
        ['--model', 'R-FCN', *base, '--model', 'MemNet', runs[0], moved])


def test_files_without_a_test_set_record_pass_with_a_warning(tmp_path):
    """Files written before tools/test.py recorded the annotation file
    cannot be checked; the warning names them."""
    base = _write(tmp_path / 'b.json', mAP=0.5)
    old = [
        _write(tmp_path / f'old{i}.json', ann_file=None, mAP=0.6)
        for i in range(5)
    ]
    with pytest.warns(
            UserWarning,
            match=r'5 metrics file\(s\) record no tested annotation file.*'
            r'old0.json, .*old1.json, .*old2.json and 2 more'):
        report = tool.main(['--model', 'R-FCN', base, '--model', 'Old', *old])
    assert '| Old | +10.0 ± - |' in report


def test_a_malformed_test_set_record_is_named(tmp_path):
    base = _write(tmp_path / 'b.json', mAP=0.5)
    bad = _write(
        tmp_path / 'bad.json', ann_file=dict(path='val.json'), mAP=0.6)
    with pytest.raises(ValueError, match="bad.json: 'ann_file' is"):
        tool.main(['--model', 'R-FCN', base, '--model', 'MemNet', bad])
