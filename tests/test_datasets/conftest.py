# Copyright (c) memvid_mm contributors. All rights reserved.
"""Shared tiny SynthVID fixtures for the data tests."""
import os.path as osp
import shutil

import pytest

from memvid_mm.datasets import (SYNTHVID_CLASS_TABLE, VID_ANN_FILES,
                                convert_vid, generate_synthvid, save_json)

TINY = dict(
    num_train_videos=2, num_val_videos=2, num_frames=12, width=64, height=48)


@pytest.fixture(scope='session')
def tiny_synthvid(tmp_path_factory) -> str:
    """A converted 2+2 video, 12-frame, 64x48 SynthVID (read only)."""
    root = str(tmp_path_factory.mktemp('synthvid_tiny'))
    generate_synthvid(root, seed=3, **TINY)
    for split in ('train', 'val'):
        coco = convert_vid(
            root, split, SYNTHVID_CLASS_TABLE, show_progress=False)
        save_json(coco, osp.join(root, 'annotations', VID_ANN_FILES[split]))
    return root


@pytest.fixture
def tiny_synthvid_copy(tiny_synthvid, tmp_path) -> str:
    """A private, writable copy of :func:`tiny_synthvid`."""
    root = str(tmp_path / 'synthvid')
    shutil.copytree(tiny_synthvid, root)
    return root
