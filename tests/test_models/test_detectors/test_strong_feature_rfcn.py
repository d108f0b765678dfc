# Copyright (c) memvid_mm contributors. All rights reserved.
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.structures import InstanceData

from memvid_mm.models.detectors import MemoryRFCN, StrongFeatureRFCN
from memvid_mm.models.detectors.memory_rfcn import propagated_detections
from memvid_mm.models.detectors.strong_feature_rfcn import (merge_detections,
                                                            without_init_cfgs)
from memvid_mm.models.layers import MemoryState, StrongFeatureState
from memvid_mm.utils import SyncingOpRecorder
from .clip_data import packed_clips

FAST_CFG = 'configs/rfcn/rfcn_r18-w8-d8_1xb4-ft3e_synthvid.py'
STRONG_CFG = 'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py'


def model_cfg(**kwargs) -> dict:
    """The SynthVID two-detector model without checkpoints; ``kwargs``
    replace its arguments."""
    fast = Config.fromfile(FAST_CFG).model
    cfg = dict(
        type='StrongFeatureRFCN',
        detector=copy.deepcopy(fast.detector),
        data_preprocessor=copy.deepcopy(fast.data_preprocessor),
        strong_config=Config.fromfile(STRONG_CFG),
        strong_test_cfg=dict(evidence_interval=4),
        delay=2)
    cfg.update(kwargs)
    return cfg


@pytest.fixture(scope='module')
def model() -> StrongFeatureRFCN:
    torch.manual_seed(0)
    built = MODELS.build(model_cfg())
    built.eval()
    return built


def preprocess(model, data, training=False):
    return model.data_preprocessor(copy.deepcopy(data), training)


def video_frames(model, num_frames, seed=0, video_id=3, size=(64, 64)):
    """``num_frames`` consecutive frames of one video, as ``predict_frame``
    takes them: a list of (image (1, 3, H, W), sample)."""
    batch = preprocess(
        model,
        packed_clips(
            num_clips=1,
            num_frames=num_frames,
            video_ids=[video_id],
            seed=seed,
            size=size))
    return [(batch['inputs'][:, t].clone(), batch['data_samples'][0][t])
            for t in range(num_frames)]


def run_online(model, frames, state=None):
    """Each frame's (bboxes, scores), predicted online in order."""
    state = StrongFeatureState() if state is None else state
    outputs = []
    with torch.no_grad():
        for image, sample in frames:
            result = model.predict_frame(image, copy.deepcopy(sample),
                                         state).pred_instances
            outputs.append((result.bboxes.clone(), result.scores.clone()))
    return outputs


def assert_same(a, b):
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def head_output(model, feature, sample):
    """The fast head's (bboxes, scores) on a given feature map."""
    with torch.no_grad():
        result = model.detector._head_predict((feature, ),
                                              [copy.deepcopy(sample)],
                                              rescale=True)[0]
    return result.pred_instances.bboxes, result.pred_instances.scores


def test_strong_detector_is_frozen_and_stays_in_eval_mode(model):
    assert isinstance(model.strong, MemoryRFCN)
    assert not any(p.requires_grad for p in model.strong.parameters())
    assert all(p.requires_grad for p in model.detector.parameters())
    model.train()
    try:
        assert model.detector.training
        assert not any(m.training for m in model.strong.modules())
    finally:
        model.eval()
    assert model.strong.test_cfg['evidence_interval'] == 4


def test_loss_trains_the_fast_detector_only(model):
    model.train()
    try:
        batch = preprocess(model, packed_clips(2, 5), True)
        losses = model.loss(**batch)
    finally:
        model.eval()
    total = sum(v for k, v in losses.items()
                if 'loss' in k and not isinstance(v, list))
    assert torch.isfinite(total)
    total.backward()
    fast_grads = [p.grad for p in model.detector.backbone.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in fast_grads)
    assert all(p.grad is None for p in model.strong.parameters())
    model.zero_grad()


def test_training_feature_is_the_fast_features_averaged_with_the_warped_strong_memory(  # noqa: E501
        model):
    batch = preprocess(model, packed_clips(1, 6), True)
    inputs = batch['inputs']
    with torch.no_grad():
        fused = model._fused_clip_feature(inputs, 1, 3)
        # by hand: the strong memory of position 3 from position 1 (the
        # evidence interval 4 gives evidence at position 1 only)
        state = MemoryState()
        memory = None
        for t in (1, 2, 3):
            feature = model.strong.extract_feat(inputs[:,
                                                       t]) if t == 1 else None
            memory = model.strong.memory_step(state, inputs[:, t], feature,
                                              None, t, t - 1)
        flow = model.strong.motion(inputs[:, 5], inputs[:, 3])
        warped = model.strong.warp(memory, flow)
        expected = (model.extract_feat(inputs[:, 5]) + warped) / 2
    torch.testing.assert_close(fused, expected)


def test_loss_refuses_clips_shorter_than_the_delay_or_strided(model):
    with pytest.raises(ValueError, match='at least 3 frames'):
        model.loss(**preprocess(model, packed_clips(1, 2), True))
    with pytest.raises(ValueError, match='stride 2'):
        model.loss(
            **preprocess(model, packed_clips(1, 4, clip_stride=2), True))


def test_the_first_delay_frames_get_the_fast_features_alone(model):
    frames = video_frames(model, 3)
    outputs = run_online(model, frames)
    for t in range(model.delay):
        image, sample = frames[t]
        assert_same(outputs[t],
                    head_output(model, model.extract_feat(image), sample))


def test_a_frame_reads_the_strong_memory_of_delay_frames_before(model):
    frames = video_frames(model, 6)
    outputs = run_online(model, frames)
    strong_state = MemoryState()
    with torch.no_grad():
        memories = [
            model.strong.online_memory(image, copy.deepcopy(sample),
                                       strong_state)
            for image, sample in frames
        ]
        for t in range(model.delay, len(frames)):
            image, sample = frames[t]
            source = t - model.delay
            flow = model.strong.motion(image, frames[source][0])
            warped = model.strong.warp(memories[source], flow)
            fused = (model.extract_feat(image) + warped) / 2
            assert_same(outputs[t], head_output(model, fused, sample))


def test_output_ignores_the_frames_between_the_delayed_one_and_itself(model):
    """At frame t only frames <= t - delay and t itself are read."""
    frames = video_frames(model, 6, seed=1)
    outputs = run_online(model, frames)
    t = 5
    between = [(torch.randn_like(image), sample)
               for image, sample in frames[t - model.delay + 1:t]]
    changed = frames[:t - model.delay + 1] + between + [frames[t]]
    assert_same(run_online(model, changed)[t], outputs[t])
    # while the delayed frame itself is read
    delayed = t - model.delay
    changed = list(frames)
    changed[delayed] = (torch.randn_like(frames[delayed][0]),
                        frames[delayed][1])
    assert not torch.equal(run_online(model, changed)[t][1], outputs[t][1])


def test_no_delay_fuses_the_current_strong_memory_unwarped():
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(delay=0)).eval()
    frames = video_frames(model, 3)
    outputs = run_online(model, frames)
    strong_state = MemoryState()
    with torch.no_grad():
        for t, (image, sample) in enumerate(frames):
            memory = model.strong.online_memory(image, copy.deepcopy(sample),
                                                strong_state)
            fused = (model.extract_feat(image) + memory) / 2
            assert_same(outputs[t], head_output(model, fused, sample))


def test_a_new_video_drops_the_delayed_memories(model):
    state = StrongFeatureState()
    first = video_frames(model, 4, video_id=1)
    run_online(model, first, state)
    assert [d.frame_id for d in state.delayed] == [2, 3]
    second = video_frames(model, 1, seed=5, video_id=2)
    output = run_online(model, second, state)[0]
    assert [d.frame_id for d in state.delayed] == [0]
    image, sample = second[0]
    assert_same(output, head_output(model, model.extract_feat(image), sample))


def test_predict_runs_the_test_loop_path_with_its_own_state(model):
    frames = packed_clips(num_clips=1, num_frames=1, video_ids=[4])
    with torch.no_grad():
        result = model.predict(**preprocess(model, frames))
    assert 'pred_instances' in result[0][0]
    assert model.test_state.strong.video_id == 4
    model.train()
    model.eval()
    assert model.test_state.strong.is_empty and not model.test_state.delayed


def test_tensor_mode_gives_the_fast_head_outputs(model):
    batch = preprocess(model, packed_clips(1, 3))
    with torch.no_grad():
        outputs = model._forward(**batch)
    cls_score, bbox_pred = outputs[0]
    assert cls_score.shape[1] == 5  # 4 classes + background
    with pytest.raises(ValueError, match='at least 3 frames'):
        model._forward(**preprocess(model, packed_clips(1, 2)))


def test_strong_ckpt_is_loaded_strictly(model, tmp_path):
    good = tmp_path / 'strong.pth'
    torch.save(dict(state_dict=model.strong.state_dict()), good)
    other = MODELS.build(model_cfg(strong_ckpt=str(good)))
    other.init_weights()
    for key, value in model.strong.state_dict().items():
        assert torch.equal(other.strong.state_dict()[key], value), key
    # a per-frame R-FCN's checkpoint does not fit the strong memory model
    bad = tmp_path / 'rfcn.pth'
    torch.save(
        dict(
            state_dict={
                f'detector.{k}': v
                for k, v in model.strong.detector.state_dict().items()
            }), bad)
    with pytest.raises(RuntimeError, match='rfcn.pth'):
        MODELS.build(model_cfg(strong_ckpt=str(bad))).init_weights()


def test_strong_ckpt_classes_are_recorded_or_their_absence_said(
        model, tmp_path, log_records):
    """``init_weights`` records the classes strong_ckpt was trained on
    (CheckpointClassesHook compares them with the data sets), and warns
    when the checkpoint records none."""
    assert model.strong_ckpt_classes is None  # nothing loaded
    classes = ['disc', 'box', 'triangle', 'cross']
    recorded = tmp_path / 'strong.pth'
    torch.save(
        dict(
            state_dict=model.strong.state_dict(),
            meta=dict(dataset_meta=dict(classes=classes))), recorded)
    built = MODELS.build(model_cfg(strong_ckpt=str(recorded)))
    log_records.clear()
    built.init_weights()
    assert built.strong_ckpt_classes == tuple(classes)
    assert not [r for r in log_records if r.levelname == 'WARNING']
    unrecorded = tmp_path / 'bare.pth'
    torch.save(dict(state_dict=model.strong.state_dict()), unrecorded)
    built = MODELS.build(model_cfg(strong_ckpt=str(unrecorded)))
    built.init_weights()
    assert built.strong_ckpt_classes is None
    assert [r.getMessage() for r in log_records
            if r.levelname == 'WARNING'] == [
                f'StrongFeatureRFCN: strong_ckpt {unrecorded} records no '
                "classes (meta['dataset_meta']['classes']), so they cannot "
                "be compared with the data set's"
            ]


def test_strong_settings_other_than_the_trained_ones_are_said(
        model, tmp_path, log_records):
    """The ClockNet's strides change no key of its checkpoint: the log
    says the strong config is not the one it was trained with, and names
    strong_test_cfg's change too."""
    trained = Config.fromfile(STRONG_CFG)
    trained.model.aggregator.strides = (1, 2, 4)
    path = tmp_path / 'strong.pth'
    classes = ['disc', 'box', 'triangle', 'cross']
    torch.save(
        dict(
            state_dict=model.strong.state_dict(),
            meta=dict(
                cfg=trained.pretty_text, dataset_meta=dict(classes=classes))),
        path)
    log_records.clear()
    MODELS.build(model_cfg(strong_ckpt=str(path))).init_weights()
    warnings = [
        r.getMessage() for r in log_records if r.levelname == 'WARNING'
    ]
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f'StrongFeatureRFCN: strong_ckpt checkpoint {path} was trained with '
        'other model settings')
    assert warnings[0].endswith(
        'model.aggregator.strides: [1, 2, 4] in training, [1, 4, 8] here; '
        'model.test_cfg.evidence_interval: absent in training, 4 here')


def test_without_init_cfgs_drops_nested_init_cfgs():
    cfg = dict(
        init_cfg=dict(type='Pretrained'),
        a=dict(b=[dict(init_cfg=1, c=2)], init_cfg=None),
        d=3)
    assert without_init_cfgs(cfg) == dict(a=dict(b=[dict(c=2)]), d=3)
    assert 'init_cfg' in cfg


@pytest.mark.parametrize('change, error, message', [
    (dict(delay=-1), ValueError, 'delay must be an int'),
    (dict(delay=True), ValueError, 'delay must be an int'),
    (dict(strong_test_cfg=dict(evidence_interval=4, propagate='boxes')),
     ValueError, "propagate must be 'features'"),
    (dict(strong_test_cfg=dict(evidence_interval=4, anticipate=True)),
     ValueError, 'anticipate must be False: training builds'),
    (dict(strong_test_cfg=dict(evidence_interval=1, chain_flows=True)),
     ValueError, 'chain_flows must be False: training builds'),
    (dict(strong_config=dict(model=dict(type='RFCN'))), TypeError,
     'must be a MemoryRFCN'),
    (dict(strong_config=dict(detector=None)), ValueError, 'holding'),
])
def test_bad_arguments_are_refused(change, error, message):
    with pytest.raises(error, match=message):
        MODELS.build(model_cfg(**change))


def test_features_that_cannot_be_averaged_are_refused():
    cfg = model_cfg()
    cfg['detector'].neck.out_channels = 32
    cfg['detector'].rpn_head.in_channels = 32
    cfg['detector'].roi_head.bbox_head.in_channels = 32
    with pytest.raises(ValueError, match='set the fast embedding'):
        MODELS.build(cfg)
    cfg = model_cfg()
    cfg['detector'].roi_head.bbox_head.featmap_stride = 16
    with pytest.raises(ValueError, match='stride 16'):
        MODELS.build(cfg)


def test_other_normalisation_of_the_strong_detector_is_refused():
    cfg = model_cfg()
    cfg['data_preprocessor'].std = [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match='std differs'):
        MODELS.build(cfg)


def test_learned_fusion_starts_as_the_average_and_is_trained():
    torch.manual_seed(0)
    fusion = dict(type='MemNetAggregator', mode='weighting', hidden_channels=8)
    weighted = MODELS.build(model_cfg(fusion=fusion))
    assert weighted.fusion.in_channels == 64
    feature, memory = torch.randn(2, 1, 64, 4, 4).unbind(0)
    torch.testing.assert_close(
        weighted.fuse(feature, memory), (feature + memory) / 2)
    weighted.train()
    losses = weighted.loss(**preprocess(weighted, packed_clips(1, 4), True))
    sum(v for k, v in losses.items()
        if 'loss' in k and not isinstance(v, list)).backward()
    grads = [p.grad for p in weighted.fusion.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    with pytest.raises(TypeError, match='MemNetAggregator'):
        MODELS.build(model_cfg(fusion=dict(type='FlowWarp')))


def test_non_finite_strong_flows_empty_the_delayed_queue(model, monkeypatch):
    frames = video_frames(model, 5)
    state = StrongFeatureState()
    run_online(model, frames[:4], state)
    assert state.delayed
    forward = model.strong.motion.forward
    monkeypatch.setattr(model.strong.motion, 'forward',
                        lambda *args: forward(*args) * float('nan'))
    with pytest.raises(
            ValueError,
            match=r'video 3: frame 4: FlowNet gave '
            r'a flow \(1, 2, 64, 64\) with 8192 NaN or infinite '
            'values'):
        run_online(model, frames[4:], state)
    assert state.strong.is_empty and state.delayed == []


@pytest.mark.parametrize('delay', [0, 2])
def test_no_host_read_before_the_fast_backbone(delay):
    """The strong step, its flow checks pending, and the flow to the
    delayed memory reach the fast backbone without a syncing op: on CUDA
    the host launches the fast detector without waiting for the strong
    FlowNet (the checks come after the head)."""
    torch.manual_seed(0)
    built = MODELS.build(model_cfg(delay=delay)).eval()
    state = StrongFeatureState()
    for image, sample in video_frames(built, 4):
        with SyncingOpRecorder() as recorder:
            before_backbone = []
            hook = built.detector.backbone.register_forward_pre_hook(
                lambda module, args: before_backbone.append(
                    list(recorder.ops)))
            try:
                with torch.no_grad():
                    built.predict_frame(image, copy.deepcopy(sample), state)
            finally:
                hook.remove()
        assert before_backbone == [[]]
        assert '_local_scalar_dense' in recorder.ops  # the checks, later


def test_a_non_finite_flow_to_the_delayed_memory_keeps_the_state(
        model, monkeypatch):
    frames = video_frames(model, 6, seed=2)
    expected = run_online(model, frames)
    state = StrongFeatureState()
    run_online(model, frames[:4], state)
    strong_flows = model.strong_flows

    def non_finite(image, strong_image):
        flow, count = strong_flows(image, strong_image)
        return flow, count + 1

    monkeypatch.setattr(model, 'strong_flows', non_finite)
    with pytest.raises(ValueError, match='the state is kept'):
        run_online(model, frames[4:5], state)
    monkeypatch.undo()
    assert [d.frame_id for d in state.delayed] == [3, 4]
    assert_same(run_online(model, frames[5:], state)[0], expected[5])


@pytest.mark.parametrize('change, error, message', [
    (dict(
        fusion=dict(
            type='MemNetAggregator',
            mode='weighting',
            in_channels=32,
            hidden_channels=8)), ValueError, 'fusion.in_channels'),
    (dict(strong_test_cfg=4), TypeError, 'strong_test_cfg must be a dict'),
])
def test_other_bad_arguments_are_refused(change, error, message):
    with pytest.raises(error, match=message):
        MODELS.build(model_cfg(**change))


def test_merge_detections_suppresses_overlaps_within_a_class():
    first = InstanceData(
        bboxes=torch.tensor([[0., 0., 10., 10.], [20., 20., 30., 30.]]),
        scores=torch.tensor([0.9, 0.5]),
        labels=torch.tensor([0, 1]))
    second = InstanceData(
        bboxes=torch.tensor([[1., 0., 10., 10.], [0., 0., 10., 10.]]),
        scores=torch.tensor([0.8, 0.7]),
        labels=torch.tensor([0, 2]))
    merged = merge_detections(first, second,
                              dict(type='nms', iou_threshold=0.5), 10)
    # the class-0 box of the second set overlaps a better one: suppressed
    assert merged.scores.tolist() == pytest.approx([0.9, 0.7, 0.5])
    assert merged.labels.tolist() == [0, 2, 1]
    top = merge_detections(first, second, dict(type='nms', iou_threshold=0.5),
                           2)
    assert top.labels.tolist() == [0, 2]
    empty = InstanceData(
        bboxes=torch.zeros(0, 4),
        scores=torch.zeros(0),
        labels=torch.zeros(0, dtype=torch.long))
    assert len(
        merge_detections(empty, empty, dict(type='nms', iou_threshold=0.5),
                         10)) == 0


def test_box_propagation_merges_the_delayed_strong_detections():
    """The paper's "BoxProp" baseline (``test_cfg.propagate='boxes'``): the
    fast detector's own detections at t with the strong detector's of
    t - delay, moved by the mean flow in each box, by class-wise NMS."""
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(test_cfg=dict(propagate='boxes'))).eval()
    frames = video_frames(model, 4, seed=2)
    outputs = run_online(model, frames)
    strong_state = MemoryState()
    rcnn = model.detector.test_cfg.rcnn
    with torch.no_grad():
        strong_boxes = []
        for image, sample in frames:
            memory = model.strong.online_memory(image, copy.deepcopy(sample),
                                                strong_state)
            strong_boxes.append(model.strong_detections(image, memory, sample))
        assert all(len(boxes.scores) for boxes in strong_boxes)
        for t, (image, sample) in enumerate(frames):
            fast = model.detector.predict(image, [copy.deepcopy(sample)])[0]
            expected = fast.pred_instances
            if t >= model.delay:
                source = t - model.delay
                flow = model.strong.motion(image, frames[source][0])
                expected = merge_detections(
                    expected,
                    propagated_detections(strong_boxes[source], flow, sample),
                    rcnn.nms, rcnn.max_per_img)
            assert_same(outputs[t], (expected.bboxes, expected.scores))
            if t >= model.delay:  # strong detections made it in
                assert torch.isin(outputs[t][1],
                                  strong_boxes[source].scores).any()


def test_test_cfg_is_checked():
    with pytest.raises(ValueError, match='unknown StrongFeatureRFCN'):
        MODELS.build(model_cfg(test_cfg=dict(interval=2)))
    with pytest.raises(ValueError, match="'features' or 'boxes'"):
        MODELS.build(model_cfg(test_cfg=dict(propagate='memory')))


def test_box_propagation_without_delay_merges_the_current_boxes():
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(delay=0,
                                   test_cfg=dict(propagate='boxes'))).eval()
    frames = video_frames(model, 2, seed=3)
    outputs = run_online(model, frames)
    strong_state = MemoryState()
    rcnn = model.detector.test_cfg.rcnn
    with torch.no_grad():
        for t, (image, sample) in enumerate(frames):
            memory = model.strong.online_memory(image, copy.deepcopy(sample),
                                                strong_state)
            strong = model.strong.detector._head_predict(
                (memory, ), [copy.deepcopy(sample)])[0].pred_instances
            fast = model.detector.predict(image, [copy.deepcopy(sample)])[0]
            expected = merge_detections(fast.pred_instances, strong, rcnn.nms,
                                        rcnn.max_per_img)
            assert_same(outputs[t], (expected.bboxes, expected.scores))


def test_no_strong_test_cfg_keeps_the_strong_config_s():
    strong = Config.fromfile(STRONG_CFG)
    strong.model.test_cfg = dict(evidence_interval=2)
    built = MODELS.build(model_cfg(strong_config=strong, strong_test_cfg=None))
    assert built.strong.test_cfg['evidence_interval'] == 2


@pytest.mark.parametrize('change, setting', [
    (dict(bgr_to_rgb=False), 'bgr_to_rgb'),
    (dict(mean=None, std=None), 'mean and std'),
])
def test_a_fast_preprocessor_that_normalises_otherwise_is_refused(
        change, setting):
    """The strong detector reads the images the fast detector's data
    preprocessor made: a switch it does not share is named."""
    cfg = model_cfg()
    cfg['data_preprocessor'].update(change)
    with pytest.raises(
            ValueError, match=f'the data preprocessors differ in {setting}'):
        MODELS.build(cfg)


def test_no_strong_ckpt_is_said_when_the_weights_are_initialised(log_records):
    built = MODELS.build(model_cfg())
    log_records.clear()
    built.init_weights()
    assert built.strong_ckpt_classes is None
    assert [
        r.getMessage() for r in log_records if r.levelname == 'WARNING'
    ] == [
        'StrongFeatureRFCN: no strong_ckpt, the strong detector keeps its '
        'random initialisation'
    ]


def test_a_fast_neck_with_several_maps_is_refused():
    cfg = model_cfg()
    cfg['detector'].backbone.out_indices = (2, 3)
    cfg['detector'].neck.in_channels = [32, 64]
    built = MODELS.build(cfg).eval()
    with torch.no_grad(), pytest.raises(
            ValueError,
            match='StrongFeatureRFCN needs a single embedded feature map '
            'from the detector neck, got 2'):
        built.extract_feat(video_frames(built, 1)[0][0])


def test_tensor_mode_without_delay_fuses_the_key_frame_s_memory_unwarped():
    """delay=0: the key frame's fast features averaged with the strong
    memory of the key frame itself, which no flow moves."""
    torch.manual_seed(0)
    built = MODELS.build(model_cfg(delay=0)).eval()
    frames = video_frames(built, 3)
    inputs = torch.stack([image[0] for image, _ in frames])[None]
    samples = [[sample for _, sample in frames]]
    strong_state = MemoryState()
    with torch.no_grad():
        outputs = built._forward(inputs, samples)
        for image, sample in frames:
            memory = built.strong.online_memory(image, copy.deepcopy(sample),
                                                strong_state)
        fused = (built.extract_feat(frames[2][0]) + memory) / 2
        expected = built.detector._head_forward((fused, ), [frames[2][1]])
    for got, want in zip(outputs[0], expected[0]):
        torch.testing.assert_close(got, want)


def test_training_refuses_a_non_finite_strong_flow(model, monkeypatch):
    """delay=2 on 3-frame clips: the strong memory of position 0 is warped
    to the key frame with a flow of NaNs."""
    forward = model.strong.motion.forward
    monkeypatch.setattr(model.strong.motion, 'forward',
                        lambda *args: forward(*args) * float('nan'))
    with pytest.raises(
            ValueError,
            match='the strong FlowNet gave 8192 NaN or infinite flow '
            'values on a training clip'):
        model.loss(**preprocess(model, packed_clips(1, 3), True))


def test_a_strong_step_failing_after_its_reset_empties_the_delayed_queue(
        model, monkeypatch):
    """A new video resets the strong memory; when its first step then
    fails (here the strong backbone), no memory of the old video stays
    queued for the new one."""
    state = StrongFeatureState()
    run_online(model, video_frames(model, 4, video_id=1), state)
    assert [d.frame_id for d in state.delayed] == [2, 3]

    def out_of_memory(images):
        raise RuntimeError('out of memory')

    monkeypatch.setattr(model.strong, 'extract_feat', out_of_memory)
    with pytest.raises(RuntimeError, match='out of memory'):
        run_online(model, video_frames(model, 1, video_id=2), state)
    assert state.strong.is_empty and state.delayed == []


def test_a_frame_the_strong_detector_refuses_keeps_the_state(model):
    state = StrongFeatureState()
    frames = video_frames(model, 4)
    run_online(model, frames[:3], state)
    assert [d.frame_id for d in state.delayed] == [1, 2]
    image, sample = frames[3]
    with torch.no_grad(), pytest.raises(
            TypeError, match='video 3: frame 3: the frame is torch.float64'):
        model.predict_frame(image.double(), copy.deepcopy(sample), state)
    assert [d.frame_id for d in state.delayed] == [1, 2]
    assert state.strong.last_frame_id == 2


def test_strong_config_may_be_the_config_file(model):
    built = MODELS.build(model_cfg(strong_config=STRONG_CFG))
    assert built.strong_model_config == model.strong_model_config
    assert 'init_cfg' not in built.strong_model_config.motion


def test_new_online_state_is_empty_and_new(model):
    state = model.new_online_state()
    assert isinstance(state, StrongFeatureState)
    assert state.strong.is_empty and state.delayed == []
    assert model.new_online_state() is not state
