# Copyright (c) memvid_mm contributors. All rights reserved.
"""The ``--metrics-out`` JSON and its record of the tested annotation
file."""
import hashlib
import json

import pytest

from memvid_mm.evaluation.functional import (TESTED_ANN_FILE_KEY,
                                             recorded_ann_file,
                                             write_metrics_file)


def test_write_records_the_annotation_file_and_its_digest(tmp_path):
    ann_file = tmp_path / 'val.json'
    ann_file.write_bytes(b'{"videos": []}')
    out = tmp_path / 'deep' / 'metrics.json'  # the folder is created
    metrics = {'vid/mAP': 0.75, 'true_flow_calls': 8}
    written = write_metrics_file(str(out), metrics, str(ann_file))
    with open(out) as f:
        assert json.load(f) == written
    assert written['vid/mAP'] == 0.75 and written['true_flow_calls'] == 8
    assert written[TESTED_ANN_FILE_KEY] == dict(
        path=str(ann_file),
        sha256=hashlib.sha256(b'{"videos": []}').hexdigest())
    assert TESTED_ANN_FILE_KEY not in metrics  # the caller's is left alone
    assert recorded_ann_file(written, str(out)) == written[TESTED_ANN_FILE_KEY]


def test_write_without_an_annotation_file_records_none(tmp_path):
    out = tmp_path / 'metrics.json'
    written = write_metrics_file(str(out), {'vid/mAP': 0.5})
    assert written == {'vid/mAP': 0.5}
    assert recorded_ann_file(written, str(out)) is None


def test_a_metric_under_the_record_key_is_refused(tmp_path):
    ann_file = tmp_path / 'val.json'
    ann_file.write_text('{}')
    out = tmp_path / 'metrics.json'
    with pytest.raises(ValueError, match="a metric is named 'ann_file'"):
        write_metrics_file(str(out), {'ann_file': 0.5}, str(ann_file))
    assert not out.exists()
    # without a record to write, the metric is kept as it is
    assert write_metrics_file(str(out), {'ann_file': 0.5}) == {'ann_file': 0.5}


def test_a_missing_annotation_file_is_named(tmp_path):
    missing = str(tmp_path / 'missing.json')
    with pytest.raises(FileNotFoundError, match='missing.json'):
        write_metrics_file(str(tmp_path / 'metrics.json'), {}, missing)


@pytest.mark.parametrize('entry', [
    'val.json',
    dict(path='val.json'),
    dict(path='val.json', sha256='abc'),
    dict(path='val.json', sha256='A' * 64),
    dict(path=3, sha256='a' * 64),
    dict(path='val.json', sha256='a' * 64, size=3),
])
def test_a_malformed_record_is_named(entry):
    with pytest.raises(ValueError, match="m.json: 'ann_file' is"):
        recorded_ann_file({'ann_file': entry}, 'runs/m.json')
