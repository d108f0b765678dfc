# Copyright (c) memvid_mm contributors. All rights reserved.
"""Refuse a checkpoint whose classes are not the run's data sets'."""
from typing import List, Tuple

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop, Runner

from ...models.detectors import StrongFeatureRFCN
from ...utils import CheckpointClassesError, check_checkpoint_classes
from ...utils.checkpoint import class_difference, unwrapped
from ...utils.training_start import is_partial_start, loaded_checkpoint_file


def built_loop_datasets(runner: Runner) -> List[Tuple[str, object]]:
    """The data sets of the loops ``runner`` has built, by dataloader name.

    ``Runner.train`` builds its train and val loops, ``Runner.test`` its
    test loop and ``Runner.val`` its val loop before loading a checkpoint;
    a loop still given as a config is not used by the run (the runner's
    ``train_loop`` property would build it, data set and all).

    Args:
        runner (Runner): The runner.

    Returns:
        list[tuple[str, Dataset]]: ``('train_dataloader', dataset)`` and so
        on, for the built loops.
    """
    loops = (('train_dataloader', runner._train_loop),
             ('val_dataloader', runner._val_loop), ('test_dataloader',
                                                    runner._test_loop))
    return [(name, loop.dataloader.dataset) for name, loop in loops
            if isinstance(loop, BaseLoop)]


@HOOKS.register_module()
class CheckpointClassesHook(Hook):
    """Refuse a loaded checkpoint trained on other classes, or on the same
    in another order, than a data set of the run.

    A model predicts label indices; the data set turns them into class
    names. Tested (or validated) on a data set that lists the same classes
    in another order, every label is scored as the wrong class and the
    metric is silently wrong. memvid_mm's ``tools/test.py`` checks this
    itself, and in a training ``CheckpointFitHook`` (which runs first) does
    too; this hook makes MMDetection's own tools and ``Runner.from_cfg``
    check it in every run, for ``load_from`` and for a resumed checkpoint:
    mmengine calls ``after_load_checkpoint`` before it copies the weights.
    A checkpoint that records no classes
    (``meta['dataset_meta']['classes']``, written by mmengine's runner)
    cannot be checked and passes, and so does a training's ``load_from``
    with ``load_from_partial=True``, which starts from what fits on purpose
    (e.g. a head of other classes; ``CheckpointFitHook`` logs what).

    Before a training it also compares the classes of a
    :class:`StrongFeatureRFCN`'s ``strong_ckpt`` (recorded by its
    ``init_weights``) with each data set's: box propagation outputs the
    strong detector's labels. ``load_from_partial`` does not let these
    through, as it concerns ``load_from`` only.
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Compare the checkpoint's classes with each data set's.

        Args:
            runner (Runner): The runner loading the checkpoint.
            checkpoint (dict): The loaded checkpoint.

        Raises:
            CheckpointClassesError: Naming the data set, both class
                lists and the checkpoint file (see
                :func:`~memvid_mm.utils.training_start.loaded_checkpoint_file`).
        """
        cfg = runner.cfg
        datasets = built_loop_datasets(runner)
        training = any(name == 'train_dataloader' for name, _ in datasets)
        if training and is_partial_start(cfg):
            return
        for name, dataset in datasets:
            classes = getattr(dataset, 'metainfo', {}).get('classes')
            if classes is not None:
                check_checkpoint_classes(checkpoint, classes,
                                         loaded_checkpoint_file(runner),
                                         f'{name}.dataset')

    def before_train(self, runner: Runner) -> None:
        """Compare the classes of a :class:`StrongFeatureRFCN`'s
        ``strong_ckpt`` with each data set's; mmengine calls this after it
        has initialised the weights (which loads ``strong_ckpt``).

        Args:
            runner (Runner): The runner about to train.

        Raises:
            CheckpointClassesError: Naming ``strong_ckpt``, the data set
                and both class lists.
        """
        model = unwrapped(runner.model)
        if not isinstance(model, StrongFeatureRFCN):
            return
        trained = model.strong_ckpt_classes
        if trained is None:  # no strong_ckpt, or one without classes
            return
        for name, dataset in built_loop_datasets(runner):
            classes = getattr(dataset, 'metainfo', {}).get('classes')
            difference = (None if classes is None else class_difference(
                trained, classes, f'{name}.dataset'))
            if difference is not None:
                raise CheckpointClassesError(
                    f'strong_ckpt {model.strong_ckpt} was trained on '
                    f'{difference}, so the strong detector\'s labels would '
                    f'be read as the wrong classes. Use a strong detector '
                    f'trained on the classes (and their order) of the data '
                    f'set')
