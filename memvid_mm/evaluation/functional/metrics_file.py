# Copyright (c) memvid_mm contributors. All rights reserved.
"""The ``--metrics-out`` JSON of the test tools, with the annotation file
its metrics were scored on."""
import json
import os.path as osp
from typing import Mapping, Optional

from mmengine.utils import mkdir_or_exist

from .vid_frames import ann_file_record, is_ann_file_record

# the key of the tested annotation file in a metrics JSON; the metrics'
# own keys carry their metric's prefix (``vid/``)
TESTED_ANN_FILE_KEY = 'ann_file'


def write_metrics_file(path: str,
                       metrics: Mapping[str, object],
                       ann_file: Optional[str] = None) -> dict:
    """Write a test's metrics as a JSON object.

    Args:
        path (str): The JSON file to write (its folder is created).
        metrics (Mapping[str, object]): What the test loop returned, plus
            any of the tool's own entries.
        ann_file (str, optional): The tested annotation file. Recorded
            under :data:`TESTED_ANN_FILE_KEY` as ``{'path': str, 'sha256':
            str}`` (the SHA-256 of its bytes, read now), so that tools that
            combine metrics files (``seed_spread.py``) can refuse runs
            scored on different data. Defaults to None (not recorded).

    Returns:
        dict: The written object.

    Raises:
        ValueError: If a metric is named :data:`TESTED_ANN_FILE_KEY` and an
            annotation file is to be recorded beside it.
    """
    record = dict(metrics)
    if ann_file is not None:
        if TESTED_ANN_FILE_KEY in record:
            raise ValueError(f'a metric is named {TESTED_ANN_FILE_KEY!r}, '
                             f'the key that records the tested annotation '
                             f'file in {path}')
        record[TESTED_ANN_FILE_KEY] = ann_file_record(ann_file)
    mkdir_or_exist(osp.dirname(osp.abspath(path)))
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(record, f, indent=1)
    return record


def recorded_ann_file(record: Mapping[str, object],
                      path: str) -> Optional[dict]:
    """The annotation file a metrics JSON records, if it records one.

    Args:
        record (Mapping[str, object]): The JSON object read from ``path``.
        path (str): Its file, for the message.

    Returns:
        dict | None: ``{'path': str, 'sha256': str}``; None for a file
        written without one (by an older version, or a test whose dataset
        config has no ``ann_file``).

    Raises:
        ValueError: If the entry is not such a dict; names the file.
    """
    entry = record.get(TESTED_ANN_FILE_KEY)
    if entry is None:
        return None
    if not is_ann_file_record(entry) or set(entry) != {'path', 'sha256'}:
        raise ValueError(
            f'{path}: {TESTED_ANN_FILE_KEY!r} is {entry!r}, not the '
            "{'path': str, 'sha256': 64 hex digits} record of the tested "
            'annotation file that tools/test.py --metrics-out writes')
    return dict(entry)
