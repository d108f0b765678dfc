# Copyright (c) memvid_mm contributors. All rights reserved.
"""Refuse a box head of another number of classes than the run's data."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import Runner

from ...utils import check_num_classes
from .checkpoint_classes_hook import built_loop_datasets


@HOOKS.register_module()
class NumClassesHook(Hook):
    """Refuse a model whose box head predicts another number of classes
    than a data set of the run lists, before anything is loaded or run.

    A head of more classes trains without an error (its extra classes are
    never positives) and fails only at the first validation, when it
    predicts a label beyond the data set's classes. A head of one class
    fewer trains the last class's boxes as background and never reports
    it, without an error anywhere; of more than one fewer, the loss fails
    on a label out of range. memvid_mm's ``tools/test.py`` checks the test
    data set itself, and its ``tools/train.py`` adds this hook to a config
    without it; the hook makes MMDetection's own tools and
    ``Runner.from_cfg`` check every run. ``before_run`` comes after the
    runner has built the run's loops (their data sets are the run's) and
    before it loads a checkpoint. The check is
    :func:`~memvid_mm.utils.check_num_classes`: every module with an
    integer ``num_classes`` but the RPN head, against the data set's
    ``classes`` metainfo (a data set without it is not checked), raised as
    a ValueError that names the head and the data set. (MMDetection's
    ``NumClassCheckHook`` asserts at the start of each train and val epoch
    only, after the checkpoint is loaded, and never in a test.)
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner: Runner) -> None:
        """Compare the model's heads with each built loop's data set.

        Args:
            runner (Runner): The runner about to run.

        Raises:
            ValueError: Naming the head, its ``num_classes``, the data set
                and its classes.
        """
        for name, dataset in built_loop_datasets(runner):
            check_num_classes(runner.model,
                              getattr(dataset, 'metainfo', {}).get('classes'),
                              f'{name}.dataset')
