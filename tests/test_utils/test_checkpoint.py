# Copyright (c) memvid_mm contributors. All rights reserved.
"""load_fitting_checkpoint refuses a checkpoint that does not fit."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from memvid_mm.utils import (check_checkpoint_classes, check_num_classes,
                             check_training_start, load_fitting_checkpoint)


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


@pytest.mark.parametrize('content', [None, b'', b'\x80\x02 garbage' * 8])
def test_an_unreadable_checkpoint_names_the_file(tmp_path, content):
    # torch.load's own errors (OSError, RuntimeError, KeyError,
    # UnpicklingError, EOFError) name no file
    path = save(tmp_path, small_model().state_dict())
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] if content is None else content)
    with pytest.raises(ValueError, match=f'cannot read checkpoint {path}: '):
        load_fitting_checkpoint(small_model(), path)
    with pytest.raises(FileNotFoundError):
        load_fitting_checkpoint(small_model(), str(tmp_path / 'none.pth'))


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
    monkeypatch.setattr('mmengine.runner.checkpoint.get_dist_info',
                        lambda: (1, 2))
    state_dict = small_model().state_dict()
    change(state_dict)
    path = save(tmp_path, state_dict)
    with pytest.raises(RuntimeError,
                       match=f'checkpoint {path} does not fit the model '
                       fr'\(Sequential\).*{message}'):
        load_fitting_checkpoint(small_model(), path)


def test_a_wrapped_models_checkpoint_fits_and_bn_counts_may_miss(tmp_path):
    source = small_model()
    state_dict = {f'module.{k}': v for k, v in source.state_dict().items()}
    state_dict.pop('module.1.num_batches_tracked')
    load_fitting_checkpoint(small_model(), save(tmp_path, state_dict))


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path):
    state_dict = small_model().state_dict()
    state_dict['1.running_var'][2] = float('inf')
    path = save(tmp_path, state_dict)
    with pytest.raises(ValueError, match=f'checkpoint {path} holds NaN or '
                       r'infinite values in 1 tensors \(1.running_var\)'):
        load_fitting_checkpoint(small_model(), path)


def test_an_unreadable_checkpoint_keeps_its_own_error(tmp_path):
    path = tmp_path / 'broken.pth'
    path.write_bytes(b'not a checkpoint')
    with pytest.raises(Exception) as err:
        load_fitting_checkpoint(small_model(), str(path))
    assert 'does not fit' not in str(err.value)


def with_classes(classes):
    return dict(state_dict={}, meta=dict(dataset_meta=dict(classes=classes)))


def test_checkpoint_classes_must_be_the_test_classes_in_order():
    trained = ('disc', 'box', 'triangle')
    assert check_checkpoint_classes(
        with_classes(trained), list(trained), 'c.pth', 'the test set')
    with pytest.raises(ValueError, match=r"checkpoint c.pth was trained on "
                       r"classes \('disc', 'box', 'triangle'\) .* the test "
                       r"set lists \('box', 'disc', 'triangle'\): the same "
                       'classes in another order'):
        check_checkpoint_classes(with_classes(trained),
                                 ('box', 'disc', 'triangle'), 'c.pth',
                                 'the test set')
    with pytest.raises(ValueError, match='other classes'):
        check_checkpoint_classes(with_classes(trained),
                                 ('disc', 'box', 'cross'), 'c.pth', 'x')


@pytest.mark.parametrize('checkpoint', [
    dict(state_dict={}), dict(state_dict={}, meta=dict()),
    dict(state_dict={}, meta=dict(dataset_meta=dict()))
])
def test_a_checkpoint_without_classes_cannot_be_checked(checkpoint):
    assert not check_checkpoint_classes(checkpoint, ('a', 'b'), 'c.pth', 'x')


class VideoModel(nn.Module):
    """A stand-in video detector: an image ``detector`` and a ``motion``
    network that a per-frame start does not hold."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.detector = nn.Sequential(
            nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Linear(4, num_classes))
        self.motion = nn.Conv2d(2, 2, 1)


CLASSES = ('disc', 'box', 'triangle')


def fake_runner(tmp_path, model, classes=CLASSES, **cfg):
    """What check_training_start reads of a runner."""
    return SimpleNamespace(
        cfg=cfg, model=model, work_dir=str(tmp_path),
        train_dataloader=SimpleNamespace(dataset=SimpleNamespace(
            metainfo=dict(classes=classes))))


def save_start(tmp_path, state_dict, classes=CLASSES, name='start.pth'):
    path = str(tmp_path / name)
    torch.save(dict(state_dict=state_dict,
                    meta=dict(dataset_meta=dict(classes=classes))), path)
    return path


def detector_only(model):
    return {k: v for k, v in model.state_dict().items()
            if k.startswith('detector.')}


def test_training_starts_from_a_fitting_or_per_frame_checkpoint(tmp_path):
    model = VideoModel()
    for state_dict in (model.state_dict(), detector_only(model)):
        path = save_start(tmp_path, state_dict)
        assert check_training_start(
            fake_runner(tmp_path, model, load_from=path)) is None
    assert check_training_start(fake_runner(tmp_path, model)) is None


def test_load_from_that_would_leave_random_weights_is_refused(tmp_path):
    model = VideoModel()
    other_classes = save_start(tmp_path, detector_only(VideoModel(4)),
                               CLASSES + ('cross', ), 'four.pth')
    no_head = detector_only(model)
    del no_head['detector.2.weight']
    reordered = ('box', 'disc', 'triangle')
    cases = [
        (other_classes, r'size mismatch for detector.2.weight: .* \(4, 4\) '
         r'.* \(3, 4\).*other classes'),
        (save_start(tmp_path, no_head, name='no_head.pth'),
         'missing keys in source state_dict: detector.2.weight'),
        (save_start(tmp_path, detector_only(model), reordered, 'order.pth'),
         'the same classes in another order'),
        (save_start(tmp_path, dict(model.state_dict(), extra=torch.ones(1)),
                    name='extra.pth'), 'unexpected key .*: extra'),
        (save_start(tmp_path, model.detector.state_dict(), name='bare.pth'),
         'keys are the image detector\'s without the "detector." prefix .*'
         'model.detector.init_cfg'),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=f'load_from {path} does not fit '
                           f'the model \\(VideoModel\\).*{message}.*'
                           'load_from_partial=True'):
            check_training_start(fake_runner(tmp_path, model, load_from=path))
    # on purpose: trained from what fits, and said
    said = check_training_start(
        fake_runner(tmp_path, model, load_from=other_classes,
                    load_from_partial=True))
    assert said.startswith(f'load_from_partial: {other_classes} does not '
                           'fit the model')
    assert 'size mismatch for detector.2.weight' in said


def test_a_non_finite_start_is_refused_even_when_partial(tmp_path):
    model = VideoModel()
    state_dict = detector_only(model)
    state_dict['detector.0.weight'][0, 0, 0, 0] = float('nan')
    path = save_start(tmp_path, state_dict)
    with pytest.raises(ValueError, match=f'load_from checkpoint {path} holds '
                       'NaN or infinite values in 1 tensors '
                       r'\(detector.0.weight\)'):
        check_training_start(fake_runner(tmp_path, model, load_from=path,
                                         load_from_partial=True))


def test_resume_needs_a_checkpoint_of_this_model(tmp_path):
    model = VideoModel()
    # a per-frame checkpoint is a start, not a run of this model to resume
    path = save_start(tmp_path, detector_only(model))
    with pytest.raises(ValueError, match=f'cannot resume from {path}: .*'
                       'missing keys in source state_dict: motion.weight'):
        check_training_start(
            fake_runner(tmp_path, model, resume=True, load_from=path,
                        load_from_partial=True))
    # the latest checkpoint of the work dir, when no path is given
    other = save_start(tmp_path, VideoModel(4).state_dict(),
                       CLASSES + ('cross', ), 'epoch_1.pth')
    with open(tmp_path / 'last_checkpoint', 'w') as f:
        f.write(other)
    with pytest.raises(ValueError, match=f'cannot resume from {other}'):
        check_training_start(fake_runner(tmp_path, model, resume=True))
    own = save_start(tmp_path, model.state_dict(), name='epoch_2.pth')
    with open(tmp_path / 'last_checkpoint', 'w') as f:
        f.write(own)
    assert check_training_start(fake_runner(tmp_path, model,
                                            resume=True)) is None


def test_heads_must_predict_the_data_sets_classes():
    model = VideoModel()
    model.detector.rpn_head = nn.Identity()
    model.detector.rpn_head.num_classes = 1  # the RPN's foreground
    model.detector.bbox_head = nn.Identity()
    model.detector.bbox_head.num_classes = 3
    check_num_classes(model, CLASSES, 'x')
    check_num_classes(model, None, 'x')  # no classes metainfo: unchecked
    with pytest.raises(ValueError, match=r'detector.bbox_head \(Identity\) '
                       r'predicts 3 classes, but the train set has 4'):
        check_num_classes(model, CLASSES + ('cross', ), 'the train set')
