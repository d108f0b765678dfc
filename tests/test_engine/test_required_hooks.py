# Copyright (c) memvid_mm contributors. All rights reserved.
import types

from memvid_mm.engine import (NonEmptyDatasetHook, NumClassesHook,
                              register_missing_hooks)


def test_registers_only_the_hooks_the_runner_lacks():
    own = NumClassesHook()
    runner = types.SimpleNamespace(hooks=[own])
    runner.register_hook = runner.hooks.append
    register_missing_hooks(runner, (NumClassesHook, NonEmptyDatasetHook))
    assert runner.hooks[0] is own
    assert [type(hook)
            for hook in runner.hooks] == [NumClassesHook, NonEmptyDatasetHook]
