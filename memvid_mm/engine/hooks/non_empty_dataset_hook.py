# Copyright (c) memvid_mm contributors. All rights reserved.
"""Refuse a run whose data set has no samples, naming its file."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import Runner

from .checkpoint_classes_hook import built_loop_datasets


def empty_dataset_message(name: str, dataset: object) -> str:
    """Say which data set of a run is empty, and what it counts.

    Args:
        name (str): Its dataloader, e.g. ``'train_dataloader'``.
        dataset (object): The data set.

    Returns:
        str: The message, naming ``ann_file`` where the data set has one.
    """
    ann_file = getattr(dataset, 'ann_file', None)
    where = f'{name}.dataset' + (f' ({ann_file})' if ann_file else '')
    if name == 'train_dataloader':
        return (f'{where} has no training samples. An ImageNet VID data '
                f'set trains on the frames that have is_vid_train_frame '
                f'and a box of its classes after filter_cfg: is it a '
                f'val/test file, or are its classes or filter_cfg not '
                f'those of the file?')
    return f'{where} has no videos or images to evaluate'


@HOOKS.register_module()
class NonEmptyDatasetHook(Hook):
    """Refuse a data set of the run that has no samples, before the run.

    mmengine's samplers divide by the data set's length: an empty training
    set (e.g. a val file, whose frames are not ``is_vid_train_frame``,
    given as the training ``ann_file``) ends the first epoch in a bare
    ``ZeroDivisionError``, and an empty val or test set gives a metric of
    nothing. ``before_run`` comes after the runner has built the run's
    loops; each built loop's data set must have a sample. memvid_mm's
    ``tools/train.py`` and ``tools/test.py`` add this hook to a config
    without it.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner: Runner) -> None:
        """Check that every built loop's data set has a sample.

        Args:
            runner (Runner): The runner about to run.

        Raises:
            ValueError: Naming the dataloader and the annotation file.
        """
        for name, dataset in built_loop_datasets(runner):
            if len(dataset) == 0:
                raise ValueError(empty_dataset_message(name, dataset))
