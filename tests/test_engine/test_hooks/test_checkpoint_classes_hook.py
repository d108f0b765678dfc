# Copyright (c) memvid_mm contributors. All rights reserved.
"""CheckpointClassesHook; under MMDetection's own tools/test.py it is
tested in tests/test_tools/test_dist_tools.py."""
import copy
import types

import pytest
from mmdet.registry import HOOKS, MODELS
from mmengine.config import Config
from torch.utils.data import DataLoader

from memvid_mm.utils import CheckpointClassesError
from .runner_stand_ins import BuiltLoop, ClassesDataset

CLASSES = ('disc', 'box', 'triangle', 'cross')


def runner_with(load_from=None, cfg=None, work_dir='work_dirs/x', **loops):
    """A runner stand-in: loops given by dataloader name are built (with a
    data set of those classes), the others still configs."""
    cfg = Config(dict(load_from=load_from, **(cfg or {})))
    runner = types.SimpleNamespace(
        cfg=cfg,
        _load_from=load_from,
        _resume=cfg.get('resume', False),
        work_dir=work_dir,
        _train_loop=dict(),
        _val_loop=None,
        _test_loop=dict())
    for name, classes in loops.items():
        loader = DataLoader(ClassesDataset(classes))
        setattr(runner, f'_{name}_loop', BuiltLoop(runner, loader))
    return runner


def checkpoint_of(classes):
    return dict(meta=dict(dataset_meta=dict(classes=classes)), state_dict={})


def test_refuses_reordered_classes_of_a_built_loop_and_names_it():
    hook = HOOKS.build(dict(type='CheckpointClassesHook'))
    reordered = ('box', 'disc', 'triangle', 'cross')
    runner = runner_with('rfcn.pth', test=reordered)
    with pytest.raises(
            CheckpointClassesError,
            match=r'checkpoint rfcn\.pth was trained on classes .*'
            r'but test_dataloader\.dataset lists .*another order'):
        hook.after_load_checkpoint(runner, checkpoint_of(CLASSES))
    runner = runner_with(train=CLASSES, val=('disc', 'box', 'cross'))
    with pytest.raises(
            CheckpointClassesError,
            match=r'^the checkpoint .* val_dataloader\.dataset '
            r'.*other classes'):
        hook.after_load_checkpoint(runner, checkpoint_of(CLASSES))


def test_passes_matching_unbuilt_or_unrecorded_classes():
    hook = HOOKS.build(dict(type='CheckpointClassesHook'))
    hook.after_load_checkpoint(
        runner_with(train=CLASSES, val=CLASSES), checkpoint_of(CLASSES))
    # only the built loops are the run's: the test loop is still a config
    hook.after_load_checkpoint(
        runner_with(train=CLASSES), checkpoint_of(CLASSES))
    # ... and the built one is checked
    with pytest.raises(
            CheckpointClassesError,
            match=r'train_dataloader\.dataset .*another order'):
        hook.after_load_checkpoint(
            runner_with(train=CLASSES), checkpoint_of(CLASSES[::-1]))
    # a checkpoint not saved by mmengine's runner records no classes
    hook.after_load_checkpoint(
        runner_with(test=('box', 'disc')), dict(state_dict={}))


def test_a_data_set_without_classes_is_not_compared():
    """Its labels name no classes to compare; the other data sets of the
    run are still compared."""
    hook = HOOKS.build(dict(type='CheckpointClassesHook'))
    runner = runner_with('rfcn.pth', train=None, val=CLASSES[::-1])
    with pytest.raises(
            CheckpointClassesError,
            match=r'^checkpoint rfcn\.pth was trained on classes .* but '
            r'val_dataloader\.dataset lists .*another order'):
        hook.after_load_checkpoint(runner, checkpoint_of(CLASSES))
    runner = runner_with('rfcn.pth')
    runner._test_loop = BuiltLoop(runner, DataLoader([]))  # no metainfo
    hook.after_load_checkpoint(runner, checkpoint_of(CLASSES))


def test_a_partial_training_start_passes_but_not_a_resume_or_a_test():
    """``load_from_partial=True`` starts a training from a checkpoint of
    other classes on purpose (tools/train.py logs it)."""
    hook = HOOKS.build(dict(type='CheckpointClassesHook'))
    other = checkpoint_of(('a', 'b'))
    partial = dict(load_from_partial=True)
    hook.after_load_checkpoint(
        runner_with('coco.pth', partial, train=CLASSES, val=CLASSES), other)
    for runner in (runner_with(
            'coco.pth', dict(partial, resume=True),
            train=CLASSES), runner_with('coco.pth', partial, test=CLASSES)):
        with pytest.raises(CheckpointClassesError, match='other classes'):
            hook.after_load_checkpoint(runner, other)


def test_a_resume_names_the_file_it_resumes_from(tmp_path):
    """With ``resume=True`` and no ``load_from`` mmengine resumes from the
    work dir's latest checkpoint; the error names that file, or
    ``load_from`` where it is given."""
    latest = tmp_path / 'iter_40.pth'
    (tmp_path / 'last_checkpoint').write_text(str(latest))
    hook = HOOKS.build(dict(type='CheckpointClassesHook'))
    runner = runner_with(
        cfg=dict(resume=True), work_dir=str(tmp_path), train=CLASSES)
    with pytest.raises(
            CheckpointClassesError,
            match=f'^checkpoint {latest} was trained on classes'):
        hook.after_load_checkpoint(runner, checkpoint_of(('a', 'b')))
    runner = runner_with(
        'iter_20.pth', dict(resume=True), str(tmp_path), train=CLASSES)
    with pytest.raises(
            CheckpointClassesError,
            match='^checkpoint iter_20.pth was trained on classes'):
        hook.after_load_checkpoint(runner, checkpoint_of(('a', 'b')))


@pytest.fixture(scope='module')
def two_detectors():
    """The SynthVID two-detector model, without its checkpoints."""
    cfg = Config.fromfile('configs/strong_feature/strong-feature_rfcn_r18-w8-'
                          'd8_clocknet-featprop_1xb4-ft3e_synthvid.py')
    model = copy.deepcopy(cfg.model)
    model.strong_ckpt = None
    return MODELS.build(model)


def test_a_strong_ckpt_of_other_classes_is_refused_before_training(
        two_detectors):
    """Box propagation outputs the strong detector's labels: its
    strong_ckpt's classes must be each built data set's, in order, also
    with load_from_partial (which concerns load_from only)."""
    hook = HOOKS.build(dict(type='CheckpointClassesHook'))
    runner = runner_with(train=CLASSES, val=CLASSES)
    runner.model = two_detectors
    two_detectors.strong_ckpt = 'clocknet.pth'
    two_detectors.strong_ckpt_classes = CLASSES
    hook.before_train(runner)
    for classes, what in ((CLASSES[::-1], 'the same classes in another '
                           'order'), (('a', 'b'), 'other classes')):
        two_detectors.strong_ckpt_classes = classes
        for runner in (runner_with(train=CLASSES, val=CLASSES),
                       runner_with(
                           cfg=dict(load_from_partial=True), train=CLASSES)):
            runner.model = two_detectors
            with pytest.raises(
                    CheckpointClassesError,
                    match=r'^strong_ckpt clocknet\.pth was trained on '
                    r'classes .* but train_dataloader\.dataset lists .*: ' +
                    what + r", so the strong detector's labels would be "
                    'read as the wrong classes'):
                hook.before_train(runner)
    # none recorded (no strong_ckpt, or one not saved by mmengine's
    # runner: init_weights warns), and other models, are not compared
    two_detectors.strong_ckpt_classes = None
    runner.model = two_detectors
    hook.before_train(runner)
    runner.model = types.SimpleNamespace()
    hook.before_train(runner)
