# Copyright (c) memvid_mm contributors. All rights reserved.
"""check_training_start refuses a start that would leave weights random;
check_num_classes a head of another class count."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from memvid_mm.utils import check_num_classes, check_training_start


class VideoModel(nn.Module):
    """A stand-in video detector: an image ``detector`` and a ``motion``
    network that a per-frame start does not hold."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.detector = nn.Sequential(
            nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Linear(4, num_classes))
        self.motion = nn.Conv2d(2, 2, 1)
        # as a config's pre-trained FlowNet (loaded by init_weights)
        self.motion.init_cfg = dict(type='Pretrained', checkpoint='f.pth')


CLASSES = ('disc', 'box', 'triangle')


class RecordingLogger:

    def __init__(self):
        self.infos = []
        self.warnings = []

    def info(self, message):
        self.infos.append(message)

    def warning(self, message):
        self.warnings.append(message)


def fake_runner(tmp_path, model, classes=CLASSES, **cfg):
    """What check_training_start reads of a runner."""
    return SimpleNamespace(
        cfg=cfg,
        model=model,
        work_dir=str(tmp_path),
        _load_from=cfg.get('load_from'),
        _resume=cfg.get('resume', False),
        logger=RecordingLogger(),
        train_dataloader=SimpleNamespace(
            dataset=SimpleNamespace(metainfo=dict(classes=classes))))


def save_start(tmp_path, state_dict, classes=CLASSES, name='start.pth'):
    path = str(tmp_path / name)
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(dataset_meta=dict(classes=classes))), path)
    return path


def detector_only(model):
    return {
        k: v
        for k, v in model.state_dict().items() if k.startswith('detector.')
    }


def test_training_starts_from_a_fitting_or_per_frame_checkpoint(tmp_path):
    model = VideoModel()
    logs = []
    for state_dict in (model.state_dict(), detector_only(model)):
        path = save_start(tmp_path, state_dict)
        runner = fake_runner(tmp_path, model, load_from=path)
        assert check_training_start(runner) is None
        logs.append(runner.logger.infos)
    assert check_training_start(fake_runner(tmp_path, model)) is None
    # the per-frame start says what keeps its own initialisation
    assert logs[0] == []
    assert logs[1] == [
        f'load_from {path} holds no motion.* weights: they '
        'keep their own initialisation (motion.init_cfg for '
        'FlowNet)'
    ]
    assert runner.logger.warnings == []


def test_a_per_frame_start_without_a_flownet_init_cfg_is_warned(tmp_path):
    """The log said FlowNet came from motion.init_cfg when there was none:
    it starts from random weights."""
    model = VideoModel()
    model.motion.init_cfg = None
    path = save_start(tmp_path, detector_only(model))
    runner = fake_runner(tmp_path, model, load_from=path)
    assert check_training_start(runner) is None
    assert runner.logger.infos == []
    assert runner.logger.warnings == [
        f'load_from {path} holds no motion.* weights and model.motion has '
        'no init_cfg: FlowNet starts from random weights (the real configs '
        "load a pre-trained one, mmtrack's flownet_simple.pth, with "
        'motion.init_cfg)'
    ]


class TwoDetectorModel(nn.Module):
    """A stand-in StrongFeatureRFCN: a fast ``detector`` and a ``strong``
    one whose weights come from its own checkpoint."""

    def __init__(self):
        super().__init__()
        self.detector = nn.Linear(4, 3)
        self.strong = nn.Linear(4, 4)


def test_a_fast_detector_starts_from_its_per_frame_checkpoint(tmp_path):
    model = TwoDetectorModel()
    path = save_start(tmp_path, detector_only(model))
    runner = fake_runner(tmp_path, model, load_from=path)
    assert check_training_start(runner) is None
    assert runner.logger.infos == [
        f'load_from {path} holds no strong.* weights: they keep their own '
        'initialisation (strong_ckpt for the strong detector)'
    ]


def test_load_from_may_not_replace_the_strong_ckpt_detector(tmp_path):
    """strong_ckpt is loaded, and its classes and settings checked, in
    init_weights; a load_from of an earlier two-detector training replaced
    its weights with others without a word."""
    model = TwoDetectorModel()
    model.strong_ckpt = 'strong.pth'
    same = save_start(tmp_path, model.state_dict(), name='same.pth')
    runner = fake_runner(tmp_path, model, load_from=same)
    assert check_training_start(runner) is None  # the same strong detector
    other_state = model.state_dict()
    other_state['strong.bias'] = other_state['strong.bias'] + 1
    other = save_start(tmp_path, other_state, name='other.pth')
    with pytest.raises(
            ValueError,
            match=f'load_from {other} holds strong.* weights other than '
            r'those of model.strong_ckpt strong.pth \(1 tensors, e.g. '
            r'strong.bias\).*model.strong_ckpt=None'):
        check_training_start(fake_runner(tmp_path, model, load_from=other))
    # resuming this run's own checkpoint; or no strong_ckpt (the strong
    # detector comes from load_from then)
    assert check_training_start(
        fake_runner(tmp_path, model, load_from=other, resume=True)) is None
    model.strong_ckpt = None
    assert check_training_start(fake_runner(tmp_path, model,
                                            load_from=other)) is None


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
        (save_start(
            tmp_path,
            dict(model.state_dict(), extra=torch.ones(1)),
            name='extra.pth'), 'unexpected key .*: extra'),
        (save_start(tmp_path, model.detector.state_dict(), name='bare.pth'),
         'keys are the image detector\'s without the "detector." prefix .*'
         'model.detector.init_cfg'),
    ]
    for path, message in cases:
        with pytest.raises(
                ValueError,
                match=f'load_from {path} does not fit '
                f'the model \\(VideoModel\\).*{message}.*'
                'load_from_partial=True'):
            check_training_start(fake_runner(tmp_path, model, load_from=path))
    # every parameter fits, but the labels meant other classes: not said to
    # start at random, and no test-time advice
    order = save_start(tmp_path, detector_only(model), reordered, 'order.pth')
    with pytest.raises(ValueError) as refused:
        check_training_start(fake_runner(tmp_path, model, load_from=order))
    message = str(refused.value)
    assert message.startswith(
        f"load_from {order} was trained on classes ('box', 'disc', "
        "'triangle') (label order), but train_dataloader.dataset lists "
        "('disc', 'box', 'triangle'): the same classes in another order, so "
        'its head would learn classes under the labels of others. Set '
        'load_from_partial=True')
    assert 'initialisation' not in message and 'Use the classes' not in message
    assert message.count(order) == 1
    said = check_training_start(
        fake_runner(tmp_path, model, load_from=order, load_from_partial=True))
    assert said == (
        f"load_from_partial: {order} was trained on classes ('box', 'disc', "
        "'triangle') (label order), but train_dataloader.dataset lists "
        "('disc', 'box', 'triangle'): the same classes in another order, so "
        'its head learns classes under the labels of others')
    # on purpose: trained from what fits, and said
    said = check_training_start(
        fake_runner(
            tmp_path, model, load_from=other_classes, load_from_partial=True))
    assert said.startswith(f'load_from_partial: {other_classes} does not '
                           'fit the model (VideoModel), so training starts '
                           'with these parameters at their random '
                           'initialisation: ')
    assert 'size mismatch for detector.2.weight' in said
    assert said.endswith("; and it was trained on classes ('disc', 'box', "
                         "'triangle', 'cross') (label order), but "
                         "train_dataloader.dataset lists ('disc', 'box', "
                         "'triangle'): other classes, so its head learns "
                         'classes under the labels of others')


def test_a_non_finite_start_is_refused_even_when_partial(tmp_path):
    model = VideoModel()
    state_dict = detector_only(model)
    state_dict['detector.0.weight'][0, 0, 0, 0] = float('nan')
    path = save_start(tmp_path, state_dict)
    with pytest.raises(
            ValueError,
            match=f'load_from checkpoint {path} holds '
            'NaN or infinite values in 1 tensors '
            r'\(detector.0.weight\)'):
        check_training_start(
            fake_runner(
                tmp_path, model, load_from=path, load_from_partial=True))


def test_resume_needs_a_checkpoint_of_this_model(tmp_path):
    model = VideoModel()
    # every parameter fits, but it learned the classes in another order:
    # said as such, not as another config's checkpoint
    order = save_start(tmp_path, model.state_dict(),
                       ('box', 'disc', 'triangle'), 'order.pth')
    with pytest.raises(ValueError) as refused:
        check_training_start(
            fake_runner(tmp_path, model, resume=True, load_from=order))
    assert str(refused.value) == (
        f"cannot resume from {order}: it was trained on classes ('box', "
        "'disc', 'triangle') (label order), but train_dataloader.dataset "
        "lists ('disc', 'box', 'triangle'): the same classes in another "
        'order, so its head would learn classes under the labels of others')
    # a per-frame checkpoint is a start, not a run of this model to resume
    path = save_start(tmp_path, detector_only(model))
    with pytest.raises(
            ValueError,
            match=f'cannot resume from {path}: .*'
            'missing keys in source state_dict: motion.weight'):
        check_training_start(
            fake_runner(
                tmp_path,
                model,
                resume=True,
                load_from=path,
                load_from_partial=True))
    # the latest checkpoint of the work dir, when no path is given
    other = save_start(tmp_path,
                       VideoModel(4).state_dict(), CLASSES + ('cross', ),
                       'epoch_1.pth')
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
    with pytest.raises(
            ValueError,
            match=r'detector.bbox_head \(Identity\) '
            r'predicts 3 classes, but the train set has 4'):
        check_num_classes(model, CLASSES + ('cross', ), 'the train set')


class TwoPartMotionModel(VideoModel):
    """A stand-in whose FlowNet has two layers."""

    def __init__(self):
        super().__init__()
        self.motion = nn.Sequential(nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1))
        self.motion.init_cfg = dict(type='Pretrained', checkpoint='f.pth')


def test_load_from_with_part_of_the_memory_weights_is_refused(tmp_path):
    """A prefix that a per-frame start lacks may be missing whole, not in
    part: the rest would mix with its own initialisation unsaid."""
    model = TwoPartMotionModel()
    part = {
        k: v
        for k, v in model.state_dict().items() if not k.startswith('motion.1.')
    }
    path = save_start(tmp_path, part)
    runner = fake_runner(tmp_path, model, load_from=path)
    with pytest.raises(
            ValueError,
            match=rf'load_from {path} does not fit the model '
            r'\(TwoPartMotionModel\), .*: motion\.\* only in part '
            r"\(2 of the model's 4 entries; .*\); missing keys in "
            r'source state_dict: motion\.1\.weight, '
            r'motion\.1\.bias'):
        check_training_start(runner)
    # nor does the log say the checkpoint holds none of them
    assert runner.logger.infos == []
    # the whole FlowNet missing is a per-frame start
    runner = fake_runner(
        tmp_path,
        model,
        load_from=save_start(
            tmp_path, detector_only(model), name='per_frame.pth'))
    assert check_training_start(runner) is None
    assert 'holds no motion.* weights' in runner.logger.infos[0]
