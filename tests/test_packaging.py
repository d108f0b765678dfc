# Copyright (c) memvid_mm contributors. All rights reserved.
"""What setup.py puts in a (non-editable) install."""
import os.path as osp
import runpy

import setuptools

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_only_memvid_mm_is_installed(monkeypatch):
    """A top-level ``tests`` package (its sub-packages were not excluded)
    would land in site-packages beside other projects' packages."""
    arguments = {}
    monkeypatch.setattr(setuptools, 'setup', arguments.update)
    monkeypatch.chdir(REPO_ROOT)
    runpy.run_path('setup.py', run_name='__main__')
    packages = arguments['packages']
    assert 'memvid_mm' in packages
    assert 'memvid_mm.models.detectors' in packages
    assert {p.split('.')[0] for p in packages} == {'memvid_mm'}
