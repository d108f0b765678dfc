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


def write_box_propagation_config(directory) -> str:
    """Write a two-detector config whose fast R-FCN propagates boxes.

    The tiny SynthVID R-FCN beside the tiny ClockNet, with
    ``test_cfg.propagate='boxes'``; the paths are absolute, so the config
    loads from any directory.

    Args:
        directory (str | Path): Where to write ``boxprop.py``.

    Returns:
        str: The config's path.
    """
    two = ('configs/strong_feature/strong-feature_'
           'rfcn_r18-w8-d8_clocknet-featprop_1xb4-ft3e_synthvid.py')
    strong = 'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py'
    config = osp.join(str(directory), 'boxprop.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = '{osp.join(REPO_ROOT, two)}'\n"
                f"model = dict(strong_config='{osp.join(REPO_ROOT, strong)}', "
                "test_cfg=dict(propagate='boxes'))\n")
    return config
