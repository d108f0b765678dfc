# Copyright (c) memvid_mm contributors. All rights reserved.
import copy
import os
import pathlib
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config

from memvid_mm.apis import OnlineVideoInferencer, init_video_detector
from memvid_mm.datasets import IMAGENET_VID_CLASSES
from memvid_mm.models.layers import StrongFeatureState

MEMNET_CFG = 'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py'
RFCN_CFG = 'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py'
STRONG_FEATURE_CFG = ('configs/strong_feature/strong-feature_rfcn_r18-w8-d8_'
                      'clocknet-featprop_1xb4-ft3e_synthvid.py')


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_video_detector(MEMNET_CFG)


def frames(seed, num=4):
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(num)
    ]


def scores(result):
    return result.pred_instances.scores.clone()


def interleaved_inferencer(model, num_frames):
    """Stream videos 'a' and 'b' frame by frame, interleaved; check each
    frame's scores against the video streamed alone; return the
    inferencer."""
    video_a, video_b = frames(1, num_frames), frames(2, num_frames)
    alone = OnlineVideoInferencer(model)
    expected_a = [scores(alone(f, 'a', t)) for t, f in enumerate(video_a)]
    expected_b = [scores(alone(f, 'b', t)) for t, f in enumerate(video_b)]
    mixed = OnlineVideoInferencer(model)
    for t in range(num_frames):
        assert torch.equal(scores(mixed(video_a[t], 'a', t)), expected_a[t])
        assert torch.equal(scores(mixed(video_b[t], 'b', t)), expected_b[t])
    assert set(mixed.states) == {'a', 'b'}
    return mixed


def test_interleaved_videos_keep_separate_states(model):
    mixed = interleaved_inferencer(model, 4)
    assert mixed.states['a'].frame_index == 4
    mixed.close('a')
    assert set(mixed.states) == {'b'}


def test_streams_the_two_detector_model_with_a_state_per_video():
    torch.manual_seed(0)
    mixed = interleaved_inferencer(init_video_detector(STRONG_FEATURE_CFG), 5)
    state = mixed.states['a']
    assert isinstance(state, StrongFeatureState)
    assert state.strong.frame_index == 5
    # delay 3: the memories of frames 2-4 wait for frames 5-7
    assert [d.frame_id for d in state.delayed] == [2, 3, 4]


def test_the_strong_detector_must_predict_the_classes_too():
    """Its boxes reach the output with propagate='boxes'."""
    cfg = Config.fromfile(STRONG_FEATURE_CFG)
    strong = Config.fromfile(cfg.model.strong_config)
    strong.model.detector.roi_head.bbox_head.num_classes = 30
    cfg.model.strong_config = dict(model=strong.model.to_dict())
    with pytest.raises(
            ValueError,
            match=r'strong.detector.roi_head.bbox_head \(RFCNBBoxHead\) '
            "predicts 30 classes, but the config's test dataset has 4"):
        init_video_detector(cfg)


def test_results_are_in_image_coordinates(model):
    inferencer = OnlineVideoInferencer(model)
    result = inferencer(frames(3, 1)[0], 'v', 0)
    boxes = result.pred_instances.bboxes
    assert boxes.shape[-1] == 4
    assert (boxes[:, 2] <= 96 + 1e-3).all()
    assert (boxes[:, 3] <= 64 + 1e-3).all()


def test_bad_inputs_raise(model):
    inferencer = OnlineVideoInferencer(model)
    frame = np.zeros((64, 96, 3), dtype=np.uint8)
    cases = [
        (frame[..., 0], 'v', 0,
         r'\(H, W, 3\) BGR array, H, W >= 1, got \(64, 96\)'),
        (np.zeros((64, 96, 4), np.uint8), 'v', 0, r'got \(64, 96, 4\)'),
        (np.zeros((0, 96, 3), np.uint8), 'v', 0, r'got \(0, 96, 3\)'),
        # a float image in [0, 1] would give detections without a word
        (frame.astype(np.float32) / 255, 'v', 0, 'must be uint8 .*float32'),
        (frame, None, 0, 'video_id must not be None'),
        (frame, ['v'], 0, 'video_id must be hashable .*got a list'),
        (frame, 'v', -1, "video 'v', frame -1: frame_id must be an int"),
        (frame, 'v', 1.0, 'frame_id must be an int'),
        # resized to a frame 0 pixels high, which OpenCV refuses unnamed
        (np.zeros((1, 2000, 3), np.uint8), 'v', 0,
         r"video 'v', frame 0: the test pipeline failed on this 1x2000 "
         r'\(H x W\) frame: error: .*inv_scale_x'),
    ]
    for image, video_id, frame_id, message in cases:
        with pytest.raises(ValueError, match=message):
            inferencer(image, video_id, frame_id)
    assert inferencer.states == {}
    inferencer(frame, 'v', np.int64(0))  # a numpy integer is an int
    with pytest.raises(TypeError, match='MemoryRFCN'):
        OnlineVideoInferencer(init_video_detector(RFCN_CFG))


def test_a_frame_of_another_size_names_the_image_and_keeps_the_state(model):
    inferencer = OnlineVideoInferencer(model)
    video = frames(4, 3)
    for t in range(2):
        inferencer(video[t], 'v', t)
    state = inferencer.states['v']
    tall = np.zeros((96, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError) as error:
        inferencer(tall, 'v', 2)
    # the model's message (network input sizes) and the caller's image size
    assert 'the memory can only be warped between frames of one size' in str(
        error.value)
    assert 'the image passed in is (96, 64) (H, W)' in str(error.value)
    assert (state.last_frame_id, state.frame_index) == (1, 2)
    # frame 2 sent again at the video's size continues the memory
    inferencer(video[2], 'v', 2)
    assert (state.last_frame_id, state.frame_index) == (2, 3)
    # a small change of aspect ratio pads to the same network input
    narrower = np.zeros((64, 94, 3), dtype=np.uint8)
    with pytest.raises(
            ValueError, match='the image passed in is '
            r'\(64, 94\) \(H, W\)'):
        inferencer(narrower, 'v', 3)
    assert (state.last_frame_id, state.frame_index) == (2, 3)


def test_streams_on_cuda(cuda_device):
    model = init_video_detector(MEMNET_CFG, device='cuda')
    inferencer = OnlineVideoInferencer(model)
    for t, frame in enumerate(frames(4)):
        result = inferencer(frame, 'v', t)
        boxes = result.pred_instances.bboxes
        assert torch.isfinite(boxes).all()
        assert (boxes[:, 2] <= 96 + 1e-3).all()
    state = inferencer.states['v']
    assert state.frame_index == 4
    assert all(m.device.type == 'cuda' for m in state.memories)


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    """An R-FCN checkpoint leaves MemNet's FlowNet random: refused."""
    path = str(tmp_path / 'rfcn.pth')
    torch.save(
        dict(state_dict=init_video_detector(RFCN_CFG).state_dict()), path)
    with pytest.raises(RuntimeError, match=f'checkpoint {path} does not fit'):
        init_video_detector(MEMNET_CFG, path)


def test_paths_may_be_path_objects(tmp_path):
    """``pathlib.Path`` config and checkpoint, as mmdet's init_detector
    takes a Path config; the same weights as from str paths."""
    path = tmp_path / 'rfcn.pth'
    model = init_video_detector(RFCN_CFG)
    torch.save(dict(state_dict=model.state_dict()), str(path))
    from_paths = init_video_detector(pathlib.Path(RFCN_CFG), path)
    from_strs = init_video_detector(RFCN_CFG, str(path))
    assert from_paths.cfg.filename == from_strs.cfg.filename
    for (key, a), b in zip(from_paths.state_dict().items(),
                           from_strs.state_dict().values()):
        assert torch.equal(a, b), key
    assert torch.equal(
        from_paths.state_dict()['detector.roi_head.bbox_head.conv_cls.weight'],
        model.state_dict()['detector.roi_head.bbox_head.conv_cls.weight'])


def test_no_checkpoint_is_said_in_the_log(tmp_path, log_records):
    model = init_video_detector(RFCN_CFG)
    warnings = [
        r.getMessage() for r in log_records if r.levelname == 'WARNING'
    ]
    assert warnings == [
        'init_video_detector got no checkpoint: the PerFrameVideoDetector '
        'keeps the random weights it was built with, so its detections mean '
        'nothing'
    ]
    path = str(tmp_path / 'rfcn.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    log_records.clear()
    init_video_detector(RFCN_CFG, path)
    assert not any('no checkpoint' in r.getMessage() for r in log_records)


def test_settings_other_than_the_trained_ones_are_said(tmp_path, log_records):
    """FlowNet's input scale changes no key: the checkpoint fits, and the
    log says the config is not what it was trained with."""
    cfg = Config.fromfile(MEMNET_CFG)
    model = init_video_detector(cfg)
    trained = copy.deepcopy(cfg)
    trained.model.motion.img_scale_factor = 0.5
    path = str(tmp_path / 'memnet.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(), meta=dict(cfg=trained.pretty_text)),
        path)
    log_records.clear()
    init_video_detector(cfg, path)
    warnings = [
        r.getMessage() for r in log_records if r.levelname == 'WARNING'
    ]
    assert len(warnings) == 1
    assert warnings[0].startswith(f'checkpoint {path} was trained with '
                                  'other model settings')
    assert warnings[0].endswith(
        'model.motion.img_scale_factor: 0.5 in training, '
        f'{cfg.model.motion.img_scale_factor!r} here')
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(cfg=cfg.pretty_text)),
        path)
    log_records.clear()
    init_video_detector(cfg, path)
    assert not [r for r in log_records if r.levelname == 'WARNING']


def test_class_names_come_with_the_model(tmp_path):
    """From the checkpoint's meta when the runner saved it, else the config."""
    model = init_video_detector(RFCN_CFG)
    assert model.dataset_meta['classes'] == ('disc', 'box', 'triangle',
                                             'cross')
    path = str(tmp_path / 'rfcn.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=('a', 'b', 'c', 'd')))), path)
    assert init_video_detector(RFCN_CFG,
                               path).dataset_meta['classes'] == ('a', 'b', 'c',
                                                                 'd')
    # names of another class count would label every detection wrongly
    for classes in (('a', 'b'), tuple('abcdefgh')):
        torch.save(
            dict(
                state_dict=model.state_dict(),
                meta=dict(dataset_meta=dict(classes=classes))), path)
        with pytest.raises(
                ValueError,
                match=r'detector.roi_head.bbox_head \(RFCNBBoxHead\) '
                f"predicts 4 classes, but checkpoint {path}'s meta has "
                f'{len(classes)}'):
            init_video_detector(RFCN_CFG, path)
    # a meta that is not a dict is named, not an AttributeError
    torch.save(dict(state_dict=model.state_dict(), meta='abc'), path)
    with pytest.raises(
            ValueError, match=f'checkpoint {path}: meta must be a dict'):
        init_video_detector(RFCN_CFG, path)
    # malformed metadata is named, not read letter by letter or skipped
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes='abcd'))), path)
    with pytest.raises(
            ValueError,
            match=f'checkpoint {path}: '
            r"meta\['dataset_meta'\]\['classes'\] must be a list"):
        init_video_detector(RFCN_CFG, path)
    # a checkpoint whose meta records no classes: the config's test set
    torch.save(dict(state_dict=model.state_dict(), meta=None), path)
    assert init_video_detector(RFCN_CFG,
                               path).dataset_meta['classes'] == ('disc', 'box',
                                                                 'triangle',
                                                                 'cross')
    cfg = Config.fromfile(RFCN_CFG)
    cfg.test_dataloader.dataset.metainfo = dict(classes=('disc', 'box'))
    with pytest.raises(
            ValueError,
            match="predicts 4 classes, but the config's test dataset has 2"):
        init_video_detector(cfg)


@pytest.mark.parametrize(
    'metainfo', ['absent', None, dict()], ids=['absent', 'None', 'empty'])
def test_class_names_of_a_test_dataset_without_metainfo_are_its_types(
        metainfo):
    """As the data set itself: without ``metainfo['classes']`` it has the
    classes of its type's ``METAINFO`` (ImageNet VID's 30)."""
    cfg = Config.fromfile(RFCN_CFG)
    cfg.model.detector.roi_head.bbox_head.num_classes = 30
    if metainfo == 'absent':
        del cfg.test_dataloader.dataset.metainfo
    else:
        cfg.test_dataloader.dataset.metainfo = metainfo
    model = init_video_detector(cfg)
    assert model.dataset_meta['classes'] == IMAGENET_VID_CLASSES


class Payload:
    """An object whose unpickling would run code (here: set a flag)."""
    ran = False

    def __reduce__(self):
        return (setattr, (Payload, 'ran', True))


def test_loading_a_checkpoint_keeps_safe_loading_for_the_caller(
        tmp_path, monkeypatch):
    """init_video_detector loads its (trusted, mmengine) checkpoint in full,
    but later ``torch.load`` calls of the caller stay ``weights_only``."""
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    path = str(tmp_path / 'rfcn.pth')
    model = init_video_detector(RFCN_CFG)
    # a Python object beside the weights, as mmengine's message hub
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(note=Payload)), path)
    init_video_detector(RFCN_CFG, path)
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
    untrusted = str(tmp_path / 'untrusted.pth')
    torch.save(Payload(), untrusted)
    with pytest.raises(
            pickle.UnpicklingError, match='Weights only load failed'):
        torch.load(untrusted)
    assert not Payload.ran


def test_a_model_in_training_mode_is_refused(model):
    inferencer = OnlineVideoInferencer(model)
    model.train()
    try:
        with pytest.raises(RuntimeError, match=r'model.eval\(\)'):
            inferencer(frames(5)[0], 'v', 0)
        assert inferencer.states == {}
    finally:
        model.eval()


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float64])
def test_a_model_cast_from_float32_is_refused(model, dtype):
    """The data preprocessor gives float32 frames: a model cast to another
    dtype is refused by the inferencer, not deep in the network."""
    cast = copy.deepcopy(model)
    inferencer = OnlineVideoInferencer(cast)
    inferencer(frames(5)[0], 'v', 0)
    cast.to(dtype)
    with pytest.raises(TypeError, match=f'weights are {dtype}'):
        inferencer(frames(5)[0], 'w', 0)
    assert set(inferencer.states) == {'v'}


def test_results_carry_no_made_up_video_length(model):
    """The stream's length is unknown online: the results do not say 1."""
    result = OnlineVideoInferencer(model)(frames(5)[0], 'v', 0)
    assert 'video_length' not in result.metainfo
    assert 'ori_video_length' not in result.metainfo
    assert (result.metainfo['video_id'], result.metainfo['frame_id']) == \
        ('v', 0)


def test_a_directory_checkpoint_is_refused_before_the_model_is_built(
        tmp_path, monkeypatch):
    import memvid_mm.apis.inference as inference_module

    def no_build(*args, **kwargs):
        raise AssertionError('the model was built')

    monkeypatch.setattr(inference_module.MODELS, 'build', no_build)
    with pytest.raises(IsADirectoryError, match='is a directory'):
        init_video_detector(MEMNET_CFG, str(tmp_path))
