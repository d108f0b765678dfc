# Copyright (c) memvid_mm contributors. All rights reserved.
import importlib.util
import os.path as osp
from types import ModuleType

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(path: str) -> ModuleType:
    """Import a script under ``tools/`` (not a package) as a module.

    Args:
        path (str): The script's path relative to the repository root,
            e.g. ``'tools/analysis_tools/compare_vid.py'``.

    Returns:
        ModuleType: The executed module, named after the file.
    """
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(REPO_ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
