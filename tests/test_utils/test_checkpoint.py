# Copyright (c) memvid_mm contributors. All rights reserved.
"""load_fitting_checkpoint refuses a checkpoint that does not fit."""
import logging
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader

from memvid_mm.utils import (check_checkpoint_classes, check_checkpoint_file,
                             load_fitting_checkpoint, load_test_checkpoint)
from ..test_engine.test_hooks.runner_stand_ins import ClassesDataset


def small_model():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def save(tmp_path, state_dict, name='ckpt.pth'):
    path = str(tmp_path / name)
    torch.save(dict(state_dict=state_dict, meta=dict()), path)
    return path


def test_a_fitting_checkpoint_loads_every_tensor(tmp_path):
    source = small_model()
    with torch.no_grad():
        source[0].weight.normal_()
    target = small_model()
    load_fitting_checkpoint(target, save(tmp_path, source.state_dict()))
    assert torch.equal(target[0].weight, source[0].weight)


@pytest.mark.parametrize('change, message', [
    (lambda sd: sd.pop('0.bias'), 'missing keys in source state_dict: 0.bias'),
    (lambda sd: sd.update(extra=torch.zeros(1)), 'unexpected key'),
    (lambda sd: sd.update({'1.weight': torch.ones(5)}), 'size mismatch'),
])
def test_a_checkpoint_that_does_not_fit_names_file_and_keys(
        tmp_path, change, message):
    state_dict = small_model().state_dict()
    change(state_dict)
    path = save(tmp_path, state_dict)
    with pytest.raises(RuntimeError) as err:
        load_fitting_checkpoint(small_model(), path)
    assert f'checkpoint {path} does not fit the model (Sequential)' in str(
        err.value)
    assert message in str(err.value)


@pytest.mark.parametrize(
    'content', [None, b'', b'\x80\x02 garbage' * 8, b'not a checkpoint'])
def test_an_unreadable_checkpoint_names_the_file(tmp_path, content):
    # torch.load's own errors (OSError, RuntimeError, KeyError,
    # UnpicklingError, EOFError) name no file
    path = save(tmp_path, small_model().state_dict())
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] if content is None else content)
    with pytest.raises(
            ValueError,
            match=f'cannot read checkpoint {path} '
            r'\(the file may be truncated, or not a '
            r'checkpoint\): [A-Za-z]+Error: '):
        load_fitting_checkpoint(small_model(), path)
    with pytest.raises(FileNotFoundError):
        load_fitting_checkpoint(small_model(), str(tmp_path / 'none.pth'))


def test_a_directory_is_refused_with_a_checkpoint_in_it(tmp_path):
    """mmengine said of a directory that it 'can not be found'."""
    work_dir = tmp_path / 'memnet'
    work_dir.mkdir()
    message = (f'checkpoint {work_dir} is a directory, but a checkpoint '
               'file (.pth) is expected')
    with pytest.raises(IsADirectoryError) as err:
        check_checkpoint_file(str(work_dir))
    assert str(err.value) == f'{message}; it holds no .pth file'
    old, new = save(work_dir, {}, 'epoch_1.pth'), save(work_dir, {},
                                                       'epoch_2.pth')
    os.utime(old, (1, 1))
    with pytest.raises(IsADirectoryError) as err:
        load_fitting_checkpoint(small_model(), str(work_dir))
    assert str(err.value) == f'{message}, e.g. {new} (the newest .pth in it)'
    # mmengine's CheckpointHook names the last one saved in last_checkpoint
    (work_dir / 'last_checkpoint').write_text(old)
    with pytest.raises(IsADirectoryError) as err:
        check_checkpoint_file(str(work_dir))
    assert str(err.value) == f'{message}, e.g. {old} (its last_checkpoint)'
    check_checkpoint_file(old)  # a file passes


def test_a_moved_work_dir_names_its_last_checkpoint_by_file_name(tmp_path):
    """last_checkpoint holds the path the training wrote, here a folder
    since moved: the file of that name in the directory is meant."""
    work_dir = tmp_path / 'memnet'
    work_dir.mkdir()
    last = save(work_dir, {}, 'epoch_1.pth')
    newer = save(work_dir, {}, 'epoch_2.pth')
    os.utime(last, (1, 1))
    (work_dir / 'last_checkpoint').write_text(
        str(tmp_path / 'old_place' / 'memnet' / 'epoch_1.pth') + '\n')
    with pytest.raises(IsADirectoryError) as err:
        check_checkpoint_file(str(work_dir))
    assert str(err.value).endswith(f', e.g. {last} (its last_checkpoint)')
    assert newer not in str(err.value)


@pytest.mark.parametrize('pointer', ['epoch_3.pth', ''])
def test_a_last_checkpoint_naming_no_file_falls_back_to_the_newest(
        tmp_path, pointer):
    work_dir = tmp_path / 'memnet'
    work_dir.mkdir()
    old = save(work_dir, {}, 'epoch_1.pth')
    new = save(work_dir, {}, 'epoch_2.pth')
    os.utime(old, (1, 1))
    # epoch_3.pth was removed after the pointer was written
    (work_dir /
     'last_checkpoint').write_text(str(work_dir / pointer) if pointer else '')
    with pytest.raises(IsADirectoryError) as err:
        check_checkpoint_file(str(work_dir))
    assert str(err.value).endswith(f', e.g. {new} (the newest .pth in it)')


@pytest.mark.parametrize('change, message', [
    (lambda sd: sd.pop('0.bias'), 'missing keys in source state_dict: 0.bias'),
    (lambda sd: sd.update(extra=torch.zeros(1)),
     'unexpected key in source state_dict: extra'),
    (lambda sd: sd.update({'1.weight': torch.ones(5)}),
     r'size mismatch for 1.weight: copying a param with shape \(5,\)'),
])
def test_every_rank_refuses_a_checkpoint_that_does_not_fit(
        tmp_path, monkeypatch, change, message):
    """mmengine's strict load raises on rank 0 only; rank 1 of 2 here."""
    monkeypatch.setattr('mmengine.runner.checkpoint.get_dist_info', lambda:
                        (1, 2))
    state_dict = small_model().state_dict()
    change(state_dict)
    path = save(tmp_path, state_dict)
    with pytest.raises(
            RuntimeError,
            match=f'checkpoint {path} does not fit the model '
            fr'\(Sequential\).*{message}'):
        load_fitting_checkpoint(small_model(), path)


def test_a_wrapped_models_checkpoint_fits_and_bn_counts_may_miss(tmp_path):
    source = small_model()
    state_dict = {f'module.{k}': v for k, v in source.state_dict().items()}
    state_dict.pop('module.1.num_batches_tracked')
    target = small_model()
    load_fitting_checkpoint(target, save(tmp_path, state_dict))
    for key, value in source.state_dict().items():
        if key != '1.num_batches_tracked':
            assert torch.equal(target.state_dict()[key], value), key


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path):
    state_dict = small_model().state_dict()
    state_dict['1.running_var'][2] = float('inf')
    path = save(tmp_path, state_dict)
    with pytest.raises(
            ValueError,
            match=f'checkpoint {path} holds NaN or '
            r'infinite values in 1 tensors \(1.running_var\)'):
        load_fitting_checkpoint(small_model(), path)


def with_classes(classes):
    return dict(state_dict={}, meta=dict(dataset_meta=dict(classes=classes)))


def test_checkpoint_classes_must_be_the_test_classes_in_order():
    trained = ('disc', 'box', 'triangle')
    assert check_checkpoint_classes(
        with_classes(trained), list(trained), 'c.pth', 'the test set')
    with pytest.raises(
            ValueError,
            match=r'checkpoint c.pth was trained on '
            r"classes \('disc', 'box', 'triangle'\) .* the test "
            r"set lists \('box', 'disc', 'triangle'\): the same "
            'classes in another order'):
        check_checkpoint_classes(
            with_classes(trained), ('box', 'disc', 'triangle'), 'c.pth',
            'the test set')
    with pytest.raises(ValueError, match='other classes'):
        check_checkpoint_classes(
            with_classes(trained), ('disc', 'box', 'cross'), 'c.pth', 'x')


@pytest.mark.parametrize('checkpoint', [
    dict(state_dict={}),
    dict(state_dict={}, meta=dict()),
    dict(state_dict={}, meta=dict(dataset_meta=dict()))
])
def test_a_checkpoint_without_classes_cannot_be_checked(checkpoint):
    assert not check_checkpoint_classes(checkpoint, ('a', 'b'), 'c.pth', 'x')


@pytest.mark.parametrize('checkpoint, match', [
    (dict(meta='x'), r"checkpoint c.pth: meta must be a dict, got str 'x'"),
    (dict(meta=dict(dataset_meta=3)),
     r"meta\['dataset_meta'\] must be a dict, got int 3"),
    (with_classes('abcd'), r"\['classes'\] must be a list of class names, "
     "got 'abcd'"),
    (with_classes(['a', 2]), 'must be a list of class names'),
])
def test_malformed_class_metadata_is_named(checkpoint, match):
    """A string would be read as one class per letter: refused."""
    with pytest.raises(ValueError, match=match):
        check_checkpoint_classes(checkpoint, ('a', 'b', 'c', 'd'), 'c.pth',
                                 'x')


class _Head(nn.Module):

    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes
        self.fc = nn.Linear(1, num_classes)


class _Detector(BaseModel):
    """A model whose head predicts ``num_classes`` classes."""

    def __init__(self, num_classes=2):
        super().__init__()
        self.head = _Head(num_classes)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return []


class _NoMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        pass

    def compute_metrics(self, results):
        return {}


def _test_runner(tmp_path, classes, model_cfg):
    """A runner that tests a 2-class ``_Detector`` on a data set of
    ``classes``, its config's ``model`` being ``model_cfg``."""
    with DefaultScope.overwrite_default_scope('mmengine'):
        return Runner(
            model=_Detector(),
            work_dir=str(tmp_path / 'work_dir'),
            test_dataloader=DataLoader(ClassesDataset(classes)),
            test_cfg=dict(),
            test_evaluator=[_NoMetric()],
            default_hooks=dict(logger=None, checkpoint=None),
            cfg=Config(dict(model=model_cfg)),
            default_scope='mmengine',
            experiment_name=f'test_checkpoint_{tmp_path.name}')


def _trained(tmp_path, classes, model_cfg):
    """A checkpoint of a trained 2-class ``_Detector`` as the runner saves
    it: its weights, classes and config."""
    model = _Detector()
    with torch.no_grad():
        model.head.fc.weight.normal_()
    path = str(tmp_path / 'trained.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(
                dataset_meta=dict(classes=classes),
                cfg=Config(dict(model=model_cfg)).pretty_text)), path)
    return path, model


def _warnings_of(runner):
    """The WARNING records of ``runner.logger`` from now on."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    runner.logger.addHandler(handler)
    return records


def test_a_test_checkpoint_of_the_test_classes_loads_without_a_warning(
        tmp_path):
    model_cfg = dict(type='Detector', depth=18)
    path, trained = _trained(tmp_path, ['a', 'b'], model_cfg)
    runner = _test_runner(tmp_path, ('a', 'b'), model_cfg)
    warnings = _warnings_of(runner)
    checkpoint = load_test_checkpoint(runner, path)
    assert checkpoint['meta']['dataset_meta']['classes'] == ['a', 'b']
    assert torch.equal(runner.model.head.fc.weight, trained.head.fc.weight)
    assert warnings == []


def test_a_test_checkpoint_of_other_model_settings_is_said_in_the_log(
        tmp_path):
    path, _ = _trained(tmp_path, ['a', 'b'], dict(type='Detector', depth=50))
    runner = _test_runner(tmp_path, ('a', 'b'),
                          dict(type='Detector', depth=18))
    warnings = _warnings_of(runner)
    load_test_checkpoint(runner, path)
    assert [r.getMessage() for r in warnings] == [
        f'checkpoint {path} was trained with other model settings than the '
        'config has (on purpose for a test-time setting such as '
        'test_cfg.chain_flows; otherwise is it the config of another model? '
        'A key absent in training may also be a misspelt one, which the '
        'model does not read): model.depth: 50 in training, 18 here'
    ]


def test_a_test_checkpoint_without_classes_loads_with_a_warning(tmp_path):
    model = _Detector()
    path = str(tmp_path / 'no_classes.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    runner = _test_runner(tmp_path, ('a', 'b'), dict(type='Detector'))
    warnings = _warnings_of(runner)
    load_test_checkpoint(runner, path)
    assert torch.equal(runner.model.head.fc.weight, model.head.fc.weight)
    assert [r.getMessage() for r in warnings] == [
        f"checkpoint {path} records no class names (meta['dataset_meta']"
        "['classes']), so they cannot be checked against the test data "
        "set's ('a', 'b'); the labels are read in that order"
    ]


def test_a_test_data_set_without_classes_loads_the_checkpoint_unchecked(
        tmp_path):
    """Nothing names what the labels mean: neither the classes nor their
    number is compared."""
    model_cfg = dict(type='Detector')
    path, trained = _trained(tmp_path, ['a', 'b', 'c'], model_cfg)
    runner = _test_runner(tmp_path, None, model_cfg)
    warnings = _warnings_of(runner)
    load_test_checkpoint(runner, path)
    assert torch.equal(runner.model.head.fc.weight, trained.head.fc.weight)
    assert warnings == []


def test_an_error_of_a_hook_is_not_blamed_on_the_file(tmp_path):
    """A hook's after_load_checkpoint error passes as it is: the file was
    read (it used to be reported as a truncated checkpoint)."""
    from mmengine.hooks import Hook

    class SetUpInBeforeRun(Hook):

        def after_load_checkpoint(self, runner, checkpoint):
            self.not_set_up_yet

    model_cfg = dict(type='Detector')
    path, trained = _trained(tmp_path, ['a', 'b'], model_cfg)
    runner = _test_runner(tmp_path, ('a', 'b'), model_cfg)
    runner.register_hook(SetUpInBeforeRun())
    with pytest.raises(AttributeError, match='not_set_up_yet') as error:
        load_fitting_checkpoint(runner, path)
    assert 'cannot read checkpoint' not in str(error.value)
    # a file that is not a checkpoint is still named
    (tmp_path / 'broken.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='cannot read checkpoint .*broken'):
        load_fitting_checkpoint(
            _test_runner(tmp_path, ('a', 'b'), model_cfg),
            str(tmp_path / 'broken.pth'))
