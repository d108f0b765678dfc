# Copyright (c) memvid_mm contributors. All rights reserved.
"""Add the checking hooks a config leaves out, for memvid_mm's tools."""
from typing import Iterable, Type

from mmengine.hooks import Hook
from mmengine.runner import Runner


def register_missing_hooks(runner: Runner,
                           hook_types: Iterable[Type[Hook]]) -> None:
    """Register a hook of each type ``runner`` does not have yet.

    memvid_mm's ``tools/train.py`` and ``tools/test.py`` call it, so that
    a config written without the configs' ``default_hooks`` still gets
    their checks (e.g. :class:`NumClassesHook`).

    Args:
        runner (Runner): The built runner, before it runs.
        hook_types (Iterable[type]): Hook classes built without arguments.
    """
    for hook_type in hook_types:
        if not any(isinstance(hook, hook_type) for hook in runner.hooks):
            runner.register_hook(hook_type())
