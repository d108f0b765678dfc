# Copyright (c) memvid_mm contributors. All rights reserved.
"""Refuse a checkpoint that the runner would load only in part."""
from typing import Mapping

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop, Runner

from ...utils.checkpoint import check_checkpoint_fits, unwrapped
from ...utils.training_start import (check_training_start,
                                     loaded_checkpoint_file)


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Refuse a ``load_from`` or resumed checkpoint that does not fit the
    model, also under MMDetection's own tools.

    mmengine's runner loads both leniently: a parameter the checkpoint
    lacks, or holds in another shape, keeps its random initialisation, and
    the run goes on with a logged list of keys (a per-frame R-FCN
    checkpoint tested in a MemNet config would test a random FlowNet).
    mmengine calls ``after_load_checkpoint`` before it copies the weights;
    this hook then raises, naming the file:

    * in a training (its train loop built): what
      :func:`~memvid_mm.utils.training_start.check_training_start` refuses
      (a ``load_from`` may lack FlowNet and the memory, a resume must fit
      exactly); with ``load_from_partial=True`` it logs, as a warning,
      what starts at its initialisation;
    * in a test or a validation on its own: a checkpoint that does not fit
      the model exactly, or holds a NaN or an infinity
      (:func:`~memvid_mm.utils.checkpoint.check_checkpoint_fits`).

    It checks the checkpoint the runner loads itself (``load_from``, or
    the one it resumes from); a checkpoint loaded by an explicit
    ``runner.load_checkpoint`` call is the caller's to check
    (memvid_mm's ``tools/test.py`` loads strictly itself).
    """

    # before CheckpointClassesHook (VERY_HIGH), whichever order a config
    # lists them in: a training's message here names the classes too, with
    # what load_from_partial would let through
    priority = 'HIGHEST'

    def after_load_checkpoint(self, runner: Runner,
                              checkpoint: Mapping) -> None:
        """Check the checkpoint the runner is about to load.

        Args:
            runner (Runner): The runner loading the checkpoint.
            checkpoint (Mapping): The loaded checkpoint.

        Raises:
            ValueError: In a training, for a checkpoint that does not fit
                (see :func:`check_training_start`); in a test, for one with
                a NaN or an infinity.
            RuntimeError: In a test, for a checkpoint that does not fit the
                model exactly.
        """
        if isinstance(runner._train_loop, BaseLoop):
            # None (nothing to check) for a load of no load_from nor resume
            started_partly = check_training_start(runner, checkpoint)
            if started_partly:
                runner.logger.warning(started_partly)
            return
        filename = loaded_checkpoint_file(runner)
        if filename is not None:
            check_checkpoint_fits(
                unwrapped(runner.model),
                checkpoint.get('state_dict', checkpoint), filename)
