# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/test.py's own option handling (its runs: test_dist_tools.py)."""
import argparse

import pytest
from mmengine.config import Config

from memvid_mm.engine import VIDVisualizationHook
from . import load_tool


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/test.py')


def show_dir_args(**overrides) -> argparse.Namespace:
    args = dict(show=False, wait_time=2, show_dir='vis', frame_interval=None)
    args.update(overrides)
    return argparse.Namespace(**args)


class ProjectVisualizationHook(VIDVisualizationHook):
    """A user project's hook, registered in the project's own scope."""


@pytest.fixture(scope='module')
def project_scope():
    """A project's registry below mmdet's (as ``custom_imports`` gives),
    holding :class:`ProjectVisualizationHook`."""
    from mmdet.registry import HOOKS as MMDET_HOOKS
    from mmengine.registry import Registry
    hooks = Registry('hook', parent=MMDET_HOOKS, scope='memvid_test_project')
    hooks.register_module(module=ProjectVisualizationHook)
    return 'memvid_test_project'


@pytest.mark.parametrize('hook_type,scope', [
    ('VIDVisualizationHook', 'mmdet'),
    ('mmdet.VIDVisualizationHook', None),
    (VIDVisualizationHook, None),
    ('ProjectVisualizationHook', 'project'),
])
def test_show_dir_turns_on_the_vid_visualization_hook(tool, project_scope,
                                                      hook_type, scope):
    cfg = Config(dict(default_hooks=dict(visualization=dict(type=hook_type))))
    if scope is not None:
        cfg.default_scope = project_scope if scope == 'project' else scope
    tool.enable_visualization(cfg, show_dir_args(frame_interval=3))
    assert cfg.default_hooks.visualization == dict(
        type=hook_type, draw=True, test_out_dir='vis', frame_interval=3)


@pytest.mark.parametrize('hook_type', ['DetVisualizationHook', 'NoSuchHook'])
def test_show_dir_refuses_another_visualization_hook(tool, hook_type):
    """mmdet's default runtime brings DetVisualizationHook, which failed
    on the first video sample, after the model and checkpoint were
    loaded."""
    cfg = Config(
        dict(
            default_scope='mmdet',
            default_hooks=dict(visualization=dict(type=hook_type))))
    with pytest.raises(ValueError) as error:
        tool.enable_visualization(cfg, show_dir_args())
    assert str(error.value) == (
        '--show/--show-dir need VIDVisualizationHook, but the config has '
        f"default_hooks.visualization of type '{hook_type}': set "
        "default_hooks.visualization=dict(type='VIDVisualizationHook'); it "
        'draws the frames of video samples')
    with pytest.raises(ValueError, match='need a visualization hook'):
        tool.enable_visualization(
            Config(dict(default_hooks=dict())), show_dir_args())
