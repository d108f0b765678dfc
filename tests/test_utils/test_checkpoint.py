# Copyright (c) memvid_mm contributors. All rights reserved.
"""load_fitting_checkpoint refuses a checkpoint that does not fit."""
import os

import pytest
import torch
from torch import nn

from memvid_mm.utils import (check_checkpoint_classes, check_checkpoint_file,
                             load_fitting_checkpoint)


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
