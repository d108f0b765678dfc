# Copyright (c) memvid_mm contributors. All rights reserved.
"""Refuse a box head of another number of classes than the run's data,
and data sets of one run that list other classes."""
from typing import Sequence, Tuple

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import Runner

from ...utils import check_num_classes
from ...utils.checkpoint import class_difference
from .checkpoint_classes_hook import built_loop_datasets


def check_datasets_share_classes(
        datasets: Sequence[Tuple[str, object]]) -> None:
    """Refuse data sets of one run whose classes differ, or their order.

    A training learns the labels of its train data set; a validation in
    the same run reads them as the classes its own data set lists. The
    same classes in another order there would score every label as the
    wrong class: per-class AP, mAP and ``save_best`` silently wrong.

    Args:
        datasets (Sequence[tuple[str, Dataset]]): ``(dataloader name, data
            set)`` pairs (:func:`built_loop_datasets`), the first the
            reference; data sets without ``classes`` metainfo are not
            compared.

    Raises:
        ValueError: Naming both data sets and both class lists.
    """
    listed = [(name, getattr(dataset, 'metainfo', {}).get('classes'))
              for name, dataset in datasets]
    listed = [(name, classes) for name, classes in listed
              if classes is not None]
    if len(listed) < 2:
        return
    first_name, first_classes = listed[0]
    for name, classes in listed[1:]:
        difference = class_difference(first_classes, classes,
                                      f'{name}.dataset')
        if difference is not None:
            raise ValueError(
                f'{first_name}.dataset lists {difference}. The model '
                f'learns the labels of {first_name} and {name} would read '
                f'them as its own classes, each as the wrong one: list the '
                f'same classes in the same order in both (the data sets\' '
                f'metainfo.classes)')


@HOOKS.register_module()
class NumClassesHook(Hook):
    """Refuse a model whose box head predicts another number of classes
    than a data set of the run lists, and data sets of the run that list
    other classes, before anything is loaded or run.

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

    The data sets of the built loops must also list the same classes in
    the same order (:func:`check_datasets_share_classes`): a validation
    during a training would otherwise read the labels the model learned
    from the train data set as other classes, with the same number of
    them and no error. A loaded checkpoint's classes are compared with
    the data sets' by ``CheckpointClassesHook``.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner: Runner) -> None:
        """Compare the model's heads with each built loop's data set, and
        the data sets' classes with each other.

        Args:
            runner (Runner): The runner about to run.

        Raises:
            ValueError: Naming the head, its ``num_classes``, the data set
                and its classes; or two data sets of the run and their
                classes, when these differ (in their order too).
        """
        datasets = built_loop_datasets(runner)
        for name, dataset in datasets:
            check_num_classes(runner.model,
                              getattr(dataset, 'metainfo', {}).get('classes'),
                              f'{name}.dataset')
        check_datasets_share_classes(datasets)
