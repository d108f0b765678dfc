# Copyright (c) memvid_mm contributors. All rights reserved.
"""Load the checkpoint to test, strictly, once the run's hooks are set up."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop, Runner

from ...utils.checkpoint import load_test_checkpoint


@HOOKS.register_module()
class LoadTestCheckpointHook(Hook):
    """Load a checkpoint to test where mmengine's runner loads ``load_from``.

    ``Runner.test`` calls the hooks' ``before_run`` and then loads
    ``load_from``, leniently. memvid_mm's test tools load strictly instead
    (:func:`~memvid_mm.utils.checkpoint.load_test_checkpoint`: the
    checkpoint must fit the model and its classes the test data set), and
    this hook does it at the same point, in ``before_run`` at the lowest
    priority. Registered after the runner is built (as the tools do), it
    comes after every hook of the config, so that a hook's
    ``after_load_checkpoint`` finds what its ``before_run`` set up
    (mmengine's ``EMAHook`` builds its EMA model there; loaded before it,
    a config with the hook could not be tested).

    Args:
        checkpoint (str): The checkpoint file to test.
    """

    priority = 'LOWEST'

    def __init__(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint

    def before_run(self, runner: Runner) -> None:
        """Load ``checkpoint`` into the runner's model.

        Args:
            runner (Runner): The runner about to test; the checkpoint's
                classes are checked against its test data set (also under
                ``Runner.val``, which memvid_mm's tools do not call).

        Raises:
            RuntimeError: In a training, which starts from ``load_from``
                or ``--resume``, not from a test checkpoint.
        """
        if isinstance(runner._train_loop, BaseLoop):
            raise RuntimeError(
                f'LoadTestCheckpointHook loads {self.checkpoint} to test; a '
                'training starts from load_from or --resume')
        # the runner's load_from, as under MMDetection's tools/test.py: the
        # checking hooks name it; load_or_resume then finds it loaded
        runner._load_from = self.checkpoint
        load_test_checkpoint(runner, self.checkpoint)
