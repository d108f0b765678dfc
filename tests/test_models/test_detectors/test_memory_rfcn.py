# Copyright (c) memvid_mm contributors. All rights reserved.
import copy
import importlib
import logging
import random

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config

from memvid_mm.models.detectors import MemoryRFCN
from memvid_mm.models.detectors.memory_rfcn import evidence_keep_mask
from memvid_mm.models.layers import MemoryState
from memvid_mm.utils import SyncingOpRecorder
from .clip_data import packed_clips
from .fgfa_wiring import fgfa_wired

MEMNET_CFG = 'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py'
FASTER_RCNN_CFG = ('configs/faster_rcnn/'
                   'faster-rcnn_r18-tiny-d8_1xb4-6e_synthvid.py')


def tiny_cfg(**aggregator) -> dict:
    """The SynthVID MemNet config; ``aggregator`` replaces its aggregator."""
    cfg = copy.deepcopy(Config.fromfile(MEMNET_CFG).model)
    if aggregator:
        cfg.aggregator = aggregator
    return cfg


def build(cfg: dict) -> MemoryRFCN:
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def memnet_cfg() -> dict:
    return tiny_cfg()


@pytest.fixture(scope='module')
def clocknet_cfg() -> dict:
    return tiny_cfg(
        type='ClockNetAggregator',
        strides=(1, 4, 8),
        memnet=dict(type='MemNetAggregator', in_channels=64, mode='average'))


def preprocess(model, data, training):
    return model.data_preprocessor(copy.deepcopy(data), training)


def frame_data(video_id, frame_id, seed=0, size=(64, 64)):
    """One frame (N = 1, T = 1) of a video, as served by TrackImgSampler."""
    return packed_clips(
        num_clips=1,
        num_frames=1,
        video_ids=[video_id],
        first_frame_id=frame_id,
        seed=seed + 101 * frame_id,
        size=size)


def frame_inputs(model, frame_id, size=(64, 64)):
    """Frame ``frame_id`` of video 3 as ``predict_frame`` takes it: the
    normalised image (1, 3, H, W) and its sample."""
    batch = preprocess(model, frame_data(3, frame_id, size=size), False)
    return batch['inputs'][:, 0], batch['data_samples'][0][0]


def online_scores(model, frames):
    """Run frames online; return each frame's (bboxes, scores)."""
    outputs = []
    for data in frames:
        batch = preprocess(model, data, False)
        with torch.no_grad():
            result = model.predict(**batch)[0][0].pred_instances
        outputs.append((result.bboxes.clone(), result.scores.clone()))
    return outputs


def perturb_aggregator(model, seed):
    """Move the learned weightings away from the plain mean, in place."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in model.aggregator.parameters():
            param.add_(torch.randn_like(param) * 0.3)
    return model


def test_loss_refuses_a_key_frame_before_the_end_of_the_clip(memnet_cfg):
    model = build(memnet_cfg)
    model.train()
    batch = preprocess(model, packed_clips(1, 3), True)
    batch['data_samples'][0].set_metainfo(dict(key_frames_inds=[1]))
    with pytest.raises(ValueError, match='must end at their key frame'):
        model.loss(**batch)


def test_loss_returns_finite_scalars(memnet_cfg):
    model = build(memnet_cfg)
    model.train()
    losses = model.loss(**preprocess(model, packed_clips(2, 3), True))
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'
            } <= set(losses)
    total = 0
    for name, value in losses.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            assert torch.isfinite(v).all(), name
            if 'loss' in name:
                total = total + v.sum()
    total.backward()
    grads = [p.grad for p in model.motion.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads), \
        'no gradient reached FlowNet'


def test_memory_on_an_embedding_split_between_the_heads(clocknet_cfg):
    """FGFA's wiring (the paper-scale configs): the memory holds the whole
    embedding; the RPN reads its first channels and the R-FCN head the
    rest, in training and online."""
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.detector = fgfa_wired(cfg.detector, 24, 40)
    model = build(cfg)
    assert model.detector.feature_channels == 64
    model.train()
    losses = model.loss(**preprocess(model, packed_clips(1, 3), True))
    sum(
        sum(v) if isinstance(v, list) else v for k, v in losses.items()
        if 'loss' in k).backward()
    for module in (model.motion, model.detector.rpn_head,
                   model.detector.roi_head):
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters())

    model.eval()
    seen = []
    model.detector.rpn_head.rpn_cls.register_forward_pre_hook(
        lambda module, args: seen.append(('rpn', args[0])))
    model.detector.roi_head.bbox_head.conv_cls.register_forward_pre_hook(
        lambda module, args: seen.append(('rcnn', args[0])))
    head_predict = model.detector._head_predict

    def recording(x, *args, **kwargs):
        seen.append(('memory', x[0]))
        return head_predict(x, *args, **kwargs)

    model.detector._head_predict = recording
    online_scores(model, [frame_data(3, i) for i in range(3)])
    assert [name for name, _ in seen] == ['memory', 'rpn', 'rcnn'] * 3
    for i in range(0, 9, 3):
        memory, rpn_input, rcnn_input = (x for _, x in seen[i:i + 3])
        assert memory.shape[1] == 64
        assert torch.equal(torch.cat([rpn_input, rcnn_input], 1), memory)


@pytest.mark.parametrize('sampler', ['gather', 'grid_sample'])
def test_gradients_reach_earlier_frames(memnet_cfg, sampler):
    """Through either warp sampler ('auto' takes grid_sample on CUDA)."""
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.0, loss_frames='last')
    cfg.warp = dict(type='FlowWarp', sampler=sampler)
    model = build(cfg)
    model.train()
    batch = preprocess(model, packed_clips(1, 3), True)
    inputs = batch['inputs'].clone().requires_grad_(True)
    losses = model.loss(inputs, batch['data_samples'])
    sum(v for k, v in losses.items()
        if 'loss' in k and not isinstance(v, list)).backward()
    per_frame = inputs.grad.abs().sum(dim=(0, 2, 3, 4))  # [T]
    assert (per_frame > 0).all(), per_frame
    flow_grads = [
        p.grad for p in model.motion.parameters() if p.grad is not None
    ]
    assert flow_grads and any(g.abs().sum() > 0 for g in flow_grads)


def test_warp_samplers_give_the_same_losses(memnet_cfg):
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.0, loss_frames='all')
    model = build(cfg)
    model.train()
    batch = preprocess(model, packed_clips(2, 3), True)
    totals = {}
    for sampler in ('gather', 'grid_sample'):
        model.warp.sampler = sampler
        torch.manual_seed(0)  # the same RPN and R-FCN samples
        losses = model.loss(batch['inputs'], batch['data_samples'])
        totals[sampler] = sum(v for k, v in losses.items()
                              if 'loss' in k and not isinstance(v, list))
    assert torch.allclose(totals['grid_sample'], totals['gather'], rtol=1e-5)


def test_evidence_dropout_skips_features(memnet_cfg, monkeypatch):
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.999999, loss_frames='last')
    model = build(cfg)
    seen = []
    original = model.extract_feat
    monkeypatch.setattr(model, 'extract_feat',
                        lambda x: seen.append(x.shape[0]) or original(x))
    model.loss(**preprocess(model, packed_clips(2, 4), True))
    assert seen == [2], 'only the first frame of each clip keeps evidence'


def test_clip_skips_only_steps_nothing_later_sees(clocknet_cfg, monkeypatch):
    """A position without evidence and without a loss changes no memory:
    skipping its step gives the same M_t and gradients bit for bit, with
    fewer FlowNet calls."""
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.aggregator.update(combine='weighting', combine_hidden_channels=8)
    model = build(cfg).train()
    batch = preprocess(model, packed_clips(2, 6), True)
    inputs = batch['inputs']
    keep = [True, False, True, False, False, False]
    flow_calls = []
    flownet = model.motion.forward
    monkeypatch.setattr(model.motion, 'forward',
                        lambda *args: flow_calls.append(1) or flownet(*args))

    def memory_and_grads(run):
        model.zero_grad()
        flow_calls.clear()
        memory = run()
        memory.square().sum().backward()
        return memory.detach(), len(flow_calls), {
            name: param.grad.clone()
            for name, param in model.named_parameters()
            if param.grad is not None
        }

    def every_step():  # what the clip computed before, M_t at every t
        feats = model.extract_feat(inputs[:, [0, 2]].flatten(0, 1))
        feats = feats.unflatten(0, (2, 2))
        feat_at = {0: feats[:, 0], 2: feats[:, 1]}
        state = MemoryState()
        return [
            model.memory_step(state, inputs[:, t], feat_at.get(t), None, t, t)
            for t in range(6)
        ][5]

    skipped = memory_and_grads(
        lambda: model.clip_memories(inputs, keep, 1, [5])[5])
    reference = memory_and_grads(every_step)
    assert torch.equal(skipped[0], reference[0])
    assert skipped[2].keys() == reference[2].keys()
    assert any(name.startswith('aggregator') for name in skipped[2])
    for name, grad in reference[2].items():
        assert torch.equal(skipped[2][name], grad), name
    # steps at 2 (one anchor, frame 0) and 5 (anchors 2 and 0), against
    # every step from 1 to 5
    assert (skipped[1], reference[1]) == (3, 8)
    # the loss frames are computed, with or without evidence
    both = model.clip_memories(inputs, keep, 1, [3, 5])
    assert sorted(both) == [3, 5]


def test_evidence_dropout_follows_the_seed(memnet_cfg):
    """The runner's seed (torch's) decides which clip positions drop."""

    def drops(seed):
        torch.manual_seed(seed)
        model = build(memnet_cfg)
        return [evidence_keep_mask(6, 0.5, model.rng) for _ in range(8)]

    assert drops(1) == drops(1)
    assert drops(1) != drops(2)
    # seed 0 draws what the fixed seed of earlier versions drew
    fixed = random.Random(0)
    assert drops(0) == [evidence_keep_mask(6, 0.5, fixed) for _ in range(8)]


def test_a_first_frame_feature_that_does_not_fit_its_frame_is_refused(
        memnet_cfg):
    """memory_step stored any first feature; a wrong one failed only at
    the next, correct frame, blaming its flow or the padding."""
    model = build(memnet_cfg).eval()
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feature = model.extract_feat(image)
    stride = model.feature_stride
    assert feature.shape[-2:] == (64 // stride, 64 // stride)
    state = MemoryState()
    with pytest.raises(
            ValueError,
            match=r'video v: frame 0: features of shape \(2, .*\) for frames '
            r'of shape \(1, 3, 64, 64\)'):
        model.memory_step(state, image, feature.expand(2, -1, -1, -1), 'v', 0)
    with pytest.raises(
            ValueError,
            match=rf'frames of 64x64 \(padded\) are not {stride} times their '
            rf'{64 // stride // 2}x{64 // stride // 2} feature map'):
        model.memory_step(state, image, feature[..., ::2, ::2], 'v', 0)
    assert state.is_empty  # nothing was stored
    with torch.no_grad():
        assert torch.equal(
            model.memory_step(state, image, feature, 'v', 0), feature)


def test_loss_frames_all(memnet_cfg):
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.8, loss_frames='all')
    model = build(cfg)
    losses = model.loss(**preprocess(model, packed_clips(2, 3), True))
    assert torch.isfinite(losses['loss_cls'])


def test_training_warns_of_an_own_psi_that_clips_never_apply(clocknet_cfg):
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.aggregator.share_memnet = False
    cfg.aggregator.memnet = dict(
        type='MemNetAggregator',
        in_channels=64,
        mode='weighting',
        hidden_channels=8)
    model = build(cfg).train()
    batch = preprocess(model, packed_clips(1, 3), True)
    with pytest.warns(
            UserWarning,
            match=r'memories \[1, 2\] \(strides '
            r'\[4, 8\]\) take no evidence after the first frame '
            'of 3-frame clips of stride 1'):
        model.loss(batch['inputs'], batch['data_samples'])


def test_training_needs_clip_stride(memnet_cfg):
    model = build(memnet_cfg)
    data = packed_clips(1, 2)
    for frame in data['data_samples'][0]:
        frame.set_metainfo(dict(clip_stride=None))
        del frame.clip_stride
    with pytest.raises(ValueError, match='clip_stride'):
        model.loss(**preprocess(model, data, True))


def test_bad_config_raises(memnet_cfg):
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=1.5)
    with pytest.raises(ValueError, match='evidence_drop_prob'):
        build(cfg)
    cfg.train_cfg = dict(loss_frames='middle')
    with pytest.raises(ValueError, match='loss_frames'):
        build(cfg)
    for bad in (None, True, '0.8', float('nan')):
        cfg.train_cfg = dict(evidence_drop_prob=bad)
        with pytest.raises(
                ValueError,
                match='evidence_drop_prob must be a '
                f'number in \\[0, 1\\), got {bad!r}'):
            build(cfg)


def test_training_on_one_frame_clips_raises(memnet_cfg):
    """The memory, FlowNet and psi would get no gradient."""
    model = build(memnet_cfg)
    with pytest.raises(ValueError, match='clips of at least 2 frames, got 1'):
        model.loss(**preprocess(model, packed_clips(2, 1), True))


def test_predict_clip_returns_every_frame(memnet_cfg):
    model = build(memnet_cfg).eval()
    batch = preprocess(model, packed_clips(1, 3), False)
    with torch.no_grad():
        results = model.predict(**batch)
    assert len(results) == 1 and len(results[0]) == 3
    for frame in results[0]:
        pred = frame.pred_instances
        assert pred.bboxes.shape[1] == 4
        assert len(pred.scores) == len(pred.labels) == len(pred.bboxes)


def test_predict_keeps_its_own_copy_of_a_clip_frame(memnet_cfg):
    """The state's anchor image is the last frame's own tensor, not a view
    that would keep the whole clip alive."""
    model = build(memnet_cfg).eval()
    batch = preprocess(model, packed_clips(1, 4), False)
    with torch.no_grad():
        model.predict(**batch)
    anchor, = model.test_state.anchor_imgs
    assert torch.equal(anchor, batch['inputs'][:, 3])
    assert anchor.untyped_storage().nbytes() == \
        anchor.numel() * anchor.element_size()


def test_training_mode_ends_the_online_state(memnet_cfg):
    model = build(memnet_cfg).eval()
    online_scores(model, [frame_data(3, t) for t in range(2)])
    model.eval()
    assert model.test_state.frame_index == 2
    model.train()
    assert model.test_state.is_empty and model.test_state.video_id is None


def test_backbone_runs_only_where_a_memory_takes_evidence(clocknet_cfg):
    """Strides (4, 8): F_t is computed at frames 0, 4 and 8 of 10 only, and
    the memories are those of a run that computed it at every frame."""
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.aggregator.strides = (4, 8)
    model = build(cfg).eval()
    calls = []
    model.detector.backbone.register_forward_hook(lambda *_: calls.append(t))
    reference = MemoryState()
    with torch.no_grad():
        for t in range(10):
            image, sample = frame_inputs(model, t)
            model.predict_frame(image, sample, model.test_state)
            feature = model.extract_feat(image)  # the reference's, each frame
            model.memory_step(reference, image, feature, 3, t)
    assert sorted(calls) == sorted(list(range(10)) + [0, 4, 8])
    assert model.test_state.anchor_frame_ids == [8, 8]
    for memory, expected in zip(model.test_state.memories, reference.memories):
        assert torch.equal(memory, expected)


def test_online_output_is_causal(clocknet_cfg):
    model = build(clocknet_cfg).eval()
    frames = [frame_data(7, t) for t in range(6)]
    reference = online_scores(model, frames)
    # perturb the frames after t = 2: outputs up to t = 2 must not change
    model.test_state.reset()
    perturbed = frames[:3] + [frame_data(7, t, seed=99) for t in range(3, 6)]
    changed = online_scores(model, perturbed)
    for t in range(3):
        assert torch.equal(reference[t][0], changed[t][0])
        assert torch.equal(reference[t][1], changed[t][1])
    assert any(not torch.equal(reference[t][1], changed[t][1])
               for t in range(3, 6))


def test_state_resets_between_videos(memnet_cfg):
    model = build(memnet_cfg).eval()
    fresh = online_scores(model, [frame_data(2, 0, seed=5)])[0]
    model.test_state.reset()
    online_scores(model, [frame_data(1, t) for t in range(3)])
    assert model.test_state.video_id == 1
    after = online_scores(model, [frame_data(2, 0, seed=5)])[0]
    assert model.test_state.video_id == 2
    assert model.test_state.frame_index == 1
    assert torch.equal(fresh[1], after[1])


def test_state_resets_on_frame_gap(memnet_cfg):
    model = build(memnet_cfg).eval()
    online_scores(model, [frame_data(3, t) for t in range(3)])
    assert model.test_state.frame_index == 3
    online_scores(model, [frame_data(3, 7)])
    assert model.test_state.frame_index == 1
    assert model.test_state.last_frame_id == 7


def flow_and_warp_counts(model, num_frames):
    """(FlowNet calls, FlowWarp calls) of each of the first frames of a
    video, run online."""
    counts = dict(flow=0, warp=0)
    model.motion.register_forward_hook(
        lambda *_: counts.__setitem__('flow', counts['flow'] + 1))
    model.warp.register_forward_hook(
        lambda *_: counts.__setitem__('warp', counts['warp'] + 1))
    per_frame = []
    for t in range(num_frames):
        counts.update(flow=0, warp=0)
        online_scores(model, [frame_data(0, t)])
        per_frame.append((counts['flow'], counts['warp']))
    return per_frame


def test_clocknet_flow_and_warp_counts(clocknet_cfg):
    """NF = number of distinct anchors, NW = K per frame (strides 1, 4, 8)."""
    model = build(clocknet_cfg).eval()
    per_frame = flow_and_warp_counts(model, 10)
    # anchors before frame t: memory 1 at t-1, memory 2 at 4*floor((t-1)/4),
    # memory 3 at 8*floor((t-1)/8); NF counts the distinct ones.
    expected = [(0, 0)]
    for t in range(1, 10):
        anchors = {t - 1, 4 * ((t - 1) // 4), 8 * ((t - 1) // 8)}
        expected.append((len(anchors), 3))
    assert per_frame == expected


def test_online_memnet_is_the_memnet_recurrence(memnet_cfg):
    """M_1 = F_1, M_t = psi(warp(M_{t-1}, flow(I_t, I_{t-1})), F_t)."""
    cfg = copy.deepcopy(memnet_cfg)
    cfg.aggregator = dict(
        type='MemNetAggregator',
        in_channels=64,
        mode='weighting',
        hidden_channels=8)
    model = perturb_aggregator(build(cfg).eval(), seed=3)
    images = [torch.randn(1, 3, 64, 64) for _ in range(5)]
    state = MemoryState()
    psi = model.aggregator.memnets[0]
    with torch.no_grad():
        feats = [model.extract_feat(image) for image in images]
        memory = feats[0]
        for t, (image, feat) in enumerate(zip(images, feats)):
            online = model.memory_step(state, image, feat, 'v', t)
            if t > 0:
                flow = model.motion(image, images[t - 1])
                memory = psi(model.warp(memory, flow), feat)
            assert torch.equal(online, memory), t


def test_online_clocknet_equals_the_reference_recurrence(clocknet_cfg):
    """memory_step over 10 frames is clocknet_reference (K = 3, weighted)."""
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.aggregator.combine = 'weighting'
    cfg.aggregator.combine_hidden_channels = 8
    cfg.aggregator.memnet = dict(
        type='MemNetAggregator',
        in_channels=64,
        mode='weighting',
        hidden_channels=8)
    # neither psi nor the combination is the mean
    model = perturb_aggregator(build(cfg).eval(), seed=4)
    images = [torch.randn(1, 3, 64, 64) for _ in range(10)]
    with torch.no_grad():
        feats = [model.extract_feat(image) for image in images]
        reference = model.aggregator.run_sequence(feats, images, model.motion,
                                                  model.warp)
        state = MemoryState()
        for t in range(10):
            online = model.memory_step(state, images[t], feats[t], 'v', t)
            # t = 0 returns F_1 itself, the reference combines K copies
            assert torch.allclose(online, reference[t], atol=1e-6), t
        assert state.anchor_frame_ids == [9, 8, 8]
    # the combination really depends on which memories are combined
    assert not torch.allclose(reference[9], reference[8], atol=1e-3)


def test_memory_step_first_write_is_the_feature(memnet_cfg):
    model = build(memnet_cfg).eval()
    state = MemoryState()
    image = torch.randn(1, 3, 64, 64)
    feature = torch.randn(1, 64, 8, 8)  # stride 8
    out = model.memory_step(state, image, feature, 'v', 0)
    assert torch.equal(out, feature)
    assert torch.equal(state.memories[0], feature)
    with pytest.raises(ValueError, match='first frame'):
        model.memory_step(MemoryState(), image, None, 'v', 0)


def test_memory_step_refuses_a_state_of_another_model(memnet_cfg,
                                                      clocknet_cfg):
    memnet, clocknet = build(memnet_cfg).eval(), build(clocknet_cfg).eval()
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for writer, reader in ((memnet, clocknet), (clocknet, memnet)):
            state = MemoryState()
            for t in range(2):
                writer.memory_step(state, image, writer.extract_feat(image),
                                   'v', t)
            with pytest.raises(ValueError, match='frame 2: the state holds'):
                reader.memory_step(state, image, reader.extract_feat(image),
                                   'v', 2)


def test_anchor_flows_are_one_flow_per_distinct_anchor(clocknet_cfg):
    """Flows computed before the step are those the step would compute."""
    model = build(clocknet_cfg).eval()
    images = [torch.randn(1, 3, 64, 64) for _ in range(7)]
    state, reference = MemoryState(), MemoryState()
    with torch.no_grad():
        assert model.anchor_flows(state, images[0]) == {}
        for t, image in enumerate(images):
            feature = model.extract_feat(image)
            flows = model.anchor_flows(state, image)
            # strides 1, 4, 8: the anchors at t = 6 are frames 5, 4 and 0
            assert set(flows) == set(state.anchor_frame_ids)
            for anchor_id, anchor_img in zip(state.anchor_frame_ids,
                                             state.anchor_imgs):
                assert torch.equal(flows[anchor_id],
                                   model.motion(image, anchor_img))
            memory = model.memory_step(
                state, image, feature, 'v', t, flows=flows)
            expected = model.memory_step(reference, image, feature, 'v', t)
            assert torch.equal(memory, expected), t
    assert sorted(flows) == [0, 4, 5]
    with pytest.raises(ValueError, match=r'flows are for anchor frames \[5'):
        model.memory_step(state, images[0], None, 'v', 7, flows={5: flows[5]})


def test_test_cfg_refuses_unknown_keys_and_non_bools(memnet_cfg):
    assert build(memnet_cfg).concurrent_flow is False
    cfg = copy.deepcopy(memnet_cfg)
    cfg.test_cfg = dict(concurrent_flow=True)
    assert build(cfg).concurrent_flow is True
    cfg.test_cfg = dict(concurent_flow=True)
    with pytest.raises(ValueError, match="test_cfg keys: \\['concurent_flow"):
        build(cfg)
    cfg.test_cfg = dict(concurrent_flow='false')  # truthy
    with pytest.raises(TypeError, match='concurrent_flow must be a bool'):
        build(cfg)


def test_concurrent_flow_changes_nothing_on_the_cpu(memnet_cfg):
    """Off CUDA the flows run in line; the side stream needs CUDA."""
    cfg = copy.deepcopy(memnet_cfg)
    cfg.test_cfg = dict(concurrent_flow=True)
    model = build(cfg).eval()
    reference = build(memnet_cfg).eval()
    reference.load_state_dict(model.state_dict())
    frames = [frame_data(0, t) for t in range(3)]
    assert all(
        torch.equal(a, b) for pair in zip(
            online_scores(model, frames), online_scores(reference, frames))
        for a, b in zip(*pair))
    with pytest.raises(ValueError, match='needs a CUDA image'):
        model.flows_beside_features(model.test_state,
                                    torch.randn(1, 3, 64, 64))


def test_tensor_mode_returns_tensors(memnet_cfg):
    model = build(memnet_cfg).eval()
    batch = preprocess(model, packed_clips(1, 3), False)
    with torch.no_grad():
        outs = model(batch['inputs'], batch['data_samples'], mode='tensor')
    flat = []

    def collect(x):
        if isinstance(x, torch.Tensor):
            flat.append(x)
        elif isinstance(x, (list, tuple)):
            for item in x:
                collect(item)

    collect(outs)
    assert flat and all(torch.isfinite(t).all() for t in flat)
    with pytest.raises(ValueError, match='tensor mode .* needs the data'):
        model(batch['inputs'], mode='tensor')


@pytest.mark.parametrize('clip_stride', [1, 4])
def test_tensor_mode_runs_the_clocks_at_the_clip_stride(
        clocknet_cfg, monkeypatch, clip_stride):
    """As in ``loss``: a strided clip's positions are clip_stride frames
    apart for the ClockNet schedule."""
    model = build(clocknet_cfg).eval()
    batch = preprocess(model, packed_clips(1, 3, clip_stride=clip_stride),
                       False)
    strides = []
    clip_memories = model.clip_memories

    def recorded(inputs, keep, stride, output_frames):
        strides.append(stride)
        return clip_memories(inputs, keep, stride, output_frames)

    monkeypatch.setattr(model, 'clip_memories', recorded)
    with torch.no_grad():
        model(batch['inputs'], batch['data_samples'], mode='tensor')
    assert strides == [clip_stride]


def test_wrong_input_shape_raises(memnet_cfg):
    model = build(memnet_cfg)
    batch = preprocess(model, packed_clips(1, 2), True)
    with pytest.raises(ValueError, match=r'\(N, T, 3, H, W\)'):
        model.loss(batch['inputs'][0], batch['data_samples'])
    frames = [sample[0] for sample in batch['data_samples']]
    with pytest.raises(
            TypeError,
            match='one TrackDataSample per clip .* '
            'got DetDataSample'):
        model.predict(batch['inputs'], frames)


def test_online_frame_of_another_dtype_raises(memnet_cfg):
    """A frame the data preprocessor did not turn into the weights'
    dtype (uint8, or float64) is named, not failed on inside a conv."""
    model = build(memnet_cfg).eval()
    image, sample = frame_inputs(model, 0)
    for dtype in (torch.uint8, torch.float64):
        with pytest.raises(
                TypeError,
                match=f'video 3: frame 0: the frame is '
                f'{dtype}, the model\'s weights torch.float32'):
            model.predict_frame(image.to(dtype), sample, MemoryState())


def test_aggregator_must_be_a_memory_aggregator(memnet_cfg):
    cfg = copy.deepcopy(memnet_cfg)
    cfg.aggregator = dict(type='FlowWarp')
    with pytest.raises(TypeError, match='aggregator'):
        build(cfg)


@pytest.mark.parametrize('aggregator', [
    dict(type='MemNetAggregator', in_channels=32, mode='average'),
    dict(
        type='ClockNetAggregator',
        strides=(1, 4),
        share_memnet=False,
        memnet=dict(
            type='MemNetAggregator',
            in_channels=128,
            mode='weighting',
            hidden_channels=8)),
    dict(type='CausalFGFAAggregator', in_channels=32, num_frames=3),
])
def test_aggregator_of_other_channels_is_refused_at_build(
        memnet_cfg, aggregator):
    """The tiny features have 64 channels (what the heads read); an
    aggregator for others fails when built, not at the second frame."""
    cfg = copy.deepcopy(memnet_cfg)
    cfg.aggregator = aggregator
    channels = aggregator.get('in_channels',
                              aggregator.get('memnet', {}).get('in_channels'))
    with pytest.raises(
            ValueError,
            match=rf'in_channels={channels}.*have 64 channels '
            r'\(detector.feature_channels\)'):
        build(cfg)


def test_normalisation_must_match_flownet(memnet_cfg):
    """FlowNet un-normalises the images: the two settings must agree."""
    for preprocessor, message in ((dict(mean=[103.53, 116.28, 123.675]),
                                   'data_preprocessor.mean'),
                                  (dict(std=[1., 1., 1.]),
                                   'data_preprocessor.std'),
                                  (dict(bgr_to_rgb=False), 'bgr_to_rgb'),
                                  (dict(mean=None, std=None), 'normalises')):
        cfg = copy.deepcopy(memnet_cfg)
        cfg.data_preprocessor.update(preprocessor)
        with pytest.raises(ValueError, match=message):
            build(cfg)
    cfg = copy.deepcopy(memnet_cfg)  # both changed alike: accepted
    cfg.data_preprocessor.update(mean=[0., 0., 0.], std=[1., 1., 1.])
    cfg.motion.update(img_norm_mean=[0., 0., 0.], img_norm_std=[1., 1., 1.])
    build(cfg)


def test_frame_gap_reset_is_logged_once_per_video(memnet_cfg, log_records):
    model = build(memnet_cfg).eval()
    online_scores(model, [frame_data(3, t) for t in (0, 1, 5, 9)])
    online_scores(model, [frame_data(4, 0)])  # a new video: no gap
    online_scores(model, [frame_data(4, 2)])  # another video's gap
    messages = [
        r.getMessage() for r in log_records if r.levelno == logging.WARNING
    ]
    assert len(messages) == 2, messages
    assert 'video 3: frame 5 does not follow frame 1' in messages[0]
    assert 'video 4: frame 2 does not follow frame 0' in messages[1]
    assert 'logged once per video' in messages[1]
    assert model.test_state.video_id == 4
    assert model.videos_restarted_midway == {3, 4}


def test_interleaved_videos_are_logged(memnet_cfg, log_records):
    """Frames of two videos in turn restart the memory at every frame."""
    model = build(memnet_cfg).eval()
    online_scores(model, [frame_data(v, t) for t in (0, 1, 2) for v in (5, 6)])
    messages = [
        r.getMessage() for r in log_records if r.levelno == logging.WARNING
    ]
    assert len(messages) == 2, messages  # once for each video
    assert ('video 5: frame 1 follows frame 0 of video 6, not frame 0'
            in messages[0])
    assert ('video 6: frame 1 follows frame 1 of video 5, not frame 0'
            in messages[1])
    assert 'one MemoryState per video' in messages[0]


def test_frame_size_must_not_change_within_a_video(memnet_cfg):
    model = build(memnet_cfg).eval()
    state = MemoryState()
    with torch.no_grad():
        model.predict_frame(*frame_inputs(model, 0), state)
        image, sample = frame_inputs(model, 1, size=(64, 96))
        with pytest.raises(
                ValueError,
                match=r'video 3: frame 1 is \(64, 96\) \(H, W; padded to '
                r'\(64, 96\)\) after frames of \(64, 64\)'):
            model.predict_frame(image, sample, state)


def test_frame_size_change_hidden_by_padding_is_refused(memnet_cfg):
    # 64x60 pads to the same 64x64 network input as the 64x64 frames
    model = build(memnet_cfg).eval()
    state = MemoryState()
    with torch.no_grad():
        model.predict_frame(*frame_inputs(model, 0), state)
        assert state.img_shape == (64, 64)
        image, sample = frame_inputs(model, 1, size=(64, 60))
        assert image.shape[-2:] == (64, 64)
        with pytest.raises(
                ValueError,
                match=r'frame 1 is \(64, 60\) \(H, W; padded to \(64, '
                r'64\)\) after frames of \(64, 64\) \(padded to \(64, 64\)'):
            model.predict_frame(image, sample, state)
        assert state.last_frame_id == 0  # the state is left as it was
        state.reset()
        assert state.img_shape is None


def test_predict_frame_takes_one_frame(memnet_cfg):
    model = build(memnet_cfg).eval()
    image, sample = frame_inputs(model, 0)
    with torch.no_grad(), pytest.raises(
            ValueError,
            match=r'video 3: frame 0: .*one frame '
            r'\(1, 3, H, W\), got \(2, 3, 64, 64\)'):
        model.predict_frame(image.expand(2, -1, -1, -1), sample, MemoryState())


def test_predict_refuses_a_batch_of_frames_of_two_sizes(memnet_cfg):
    model = build(memnet_cfg).eval()
    small, large = frame_data(1, 2), frame_data(2, 0, size=(64, 96))
    data = {key: small[key] + large[key] for key in small}
    batch = preprocess(model, data, False)
    assert batch['inputs'].shape[-2:] == (64, 96)  # padded to the larger
    with torch.no_grad(), pytest.raises(
            ValueError,
            match=r'\(64, 64\) \(video 1, frame 2\), '
            r'\(64, 96\) \(video 2, frame 0\).*batch_size=1'):
        model.predict(**batch)
    assert model.test_state.is_empty


def test_predict_runs_a_batch_of_frames_of_one_size(memnet_cfg):
    model = build(memnet_cfg).eval()
    first, second = frame_data(1, 0), frame_data(1, 1)
    data = {key: first[key] + second[key] for key in first}
    with torch.no_grad():
        model.predict(**preprocess(model, data, False))
    assert model.test_state.last_frame_id == 1
    assert model.test_state.frame_index == 2


def test_online_state_keeps_no_graph_with_gradients_on(clocknet_cfg):
    model = build(clocknet_cfg).eval()
    state = MemoryState()
    assert torch.is_grad_enabled()
    for frame_id in range(3):
        result = model.predict_frame(*frame_inputs(model, frame_id), state)
        assert all(t.grad_fn is None and not t.requires_grad
                   for t in state.memories + state.anchor_imgs)
    # the frame's own output keeps its graph
    assert result.pred_instances.scores.requires_grad


def test_frame_id_must_be_an_int(memnet_cfg):
    model = build(memnet_cfg).eval()
    image, sample = frame_inputs(model, 0)
    for bad in ('1', 1.0, True):
        sample.set_metainfo(dict(frame_id=bad))
        with pytest.raises(TypeError, match='video 3: frame_id must be'):
            model.predict_frame(image, sample, MemoryState())


def nan_flownet(model, monkeypatch, bad_values=3):
    """Make FlowNet put ``bad_values`` NaNs into every flow it returns."""
    forward = model.motion.forward

    def nan_forward(img_cur, img_prev):
        flow = forward(img_cur, img_prev).clone()
        flow.view(-1)[:bad_values] = float('nan')
        return flow

    monkeypatch.setattr(model.motion, 'forward', nan_forward)


def test_online_non_finite_flow_raises_after_the_head(memnet_cfg, monkeypatch):
    """Checked after the head (no wait between flow and warp), with the
    frame named and the state reset."""
    model = build(memnet_cfg).eval()
    head_calls = []
    head_predict = model.detector._head_predict

    def counted_head_predict(*args, **kwargs):
        head_calls.append(kwargs)
        return head_predict(*args, **kwargs)

    monkeypatch.setattr(model.detector, '_head_predict', counted_head_predict)
    state = MemoryState()
    with torch.no_grad():
        model.predict_frame(*frame_inputs(model, 0), state)
        nan_flownet(model, monkeypatch)
        image, sample = frame_inputs(model, 1)
        with pytest.raises(
                ValueError,
                match=r'video 3: frame 1: FlowNet gave a flow \(1, 2, 64, '
                r'64\) with 3 NaN or infinite values.*state is reset'):
            model.predict_frame(image, sample, state)
    assert len(head_calls) == 2  # the failing frame's head ran first
    assert state.is_empty


def test_memory_step_refuses_a_non_finite_flow(clocknet_cfg, monkeypatch):
    """Without precomputed flows the step checks all of them at once."""
    model = build(clocknet_cfg).eval()
    state = MemoryState()
    images = [torch.randn(1, 3, 64, 64) for _ in range(6)]
    with torch.no_grad():
        for t in range(5):
            model.memory_step(state, images[t], model.extract_feat(images[t]),
                              'v', t)
        nan_flownet(model, monkeypatch, bad_values=2)
        # at t = 5 the anchors are frames 4, 4 and 0: two flows
        with pytest.raises(
                ValueError,
                match=r'video v: frame 5: FlowNet '
                r'gave a flow \(1, 2, 64, 64\) with 4 NaN.*the 2 '
                r'flow\(s\)'):
            model.memory_step(state, images[5], None, 'v', 5)
    assert state.is_empty


def test_training_refuses_a_non_finite_flow(memnet_cfg, monkeypatch):
    model = build(memnet_cfg)
    model.train()
    nan_flownet(model, monkeypatch)
    with pytest.raises(ValueError, match='FlowNet gave a flow'):
        model.loss(**preprocess(model, packed_clips(2, 3), True))


def test_zeroed_flows_keep_the_memory_finite(memnet_cfg, monkeypatch):
    """Between the warp and the check the memory and head see no NaN."""
    model = build(memnet_cfg).eval()
    images = [torch.randn(1, 3, 64, 64) for _ in range(2)]
    state = MemoryState()
    with torch.no_grad():
        model.memory_step(state, images[0], model.extract_feat(images[0]), 'v',
                          0)
        nan_flownet(model, monkeypatch, bad_values=40)
        flows, count = model.zero_non_finite_flows(
            model.anchor_flows(state, images[1]))
        assert int(count) == 40 and torch.isfinite(flows[0]).all()
        memory = model.memory_step(
            state,
            images[1],
            model.extract_feat(images[1]),
            'v',
            1,
            flows=flows)
    assert torch.isfinite(memory).all()
    assert model.zero_non_finite_flows({}) == ({}, None)


@pytest.mark.parametrize('aggregator', ['memnet', 'clocknet'])
def test_online_memory_step_has_no_syncing_op(aggregator, memnet_cfg,
                                              clocknet_cfg):
    """The flows, the finite guard, the K warps and the aggregation of an
    online frame run no op that would wait for a CUDA device (the finite
    check comes after the head)."""
    cfg = copy.deepcopy(memnet_cfg if aggregator == 'memnet' else clocknet_cfg)
    cfg.motion.img_scale_factor = 0.5  # the paper's: the flow is resized
    model = build(cfg).eval()
    state = MemoryState()
    with torch.no_grad():
        for t in range(9):
            image = torch.randn(1, 3, 64, 64)
            feature = model.extract_feat(image)
            with SyncingOpRecorder() as recorder:
                flows, count = model.zero_non_finite_flows(
                    model.anchor_flows(state, image))
                model.memory_step(state, image, feature, 'v', t, flows=flows)
            assert recorder.ops == [], t
            if t:
                model.check_flows_were_finite(count, flows, state, 'v', t)
    # the recorder does see the check's host read
    with SyncingOpRecorder() as recorder:
        model.check_flows_were_finite(count, flows, state, 'v', 8)
    assert recorder.ops == ['_local_scalar_dense']


def test_online_memory_unchecked_leaves_the_host_read_to_the_caller(
        clocknet_cfg):
    model = build(clocknet_cfg).eval()
    checked, unchecked = MemoryState(), MemoryState()
    with torch.no_grad():
        for t in range(6):
            image, sample = frame_inputs(model, t)
            expected = model.online_memory(image, sample, checked)
            with SyncingOpRecorder() as recorder:
                memory, pending = model.online_memory_unchecked(
                    image, sample, unchecked)
            assert recorder.ops == [], t
            assert torch.equal(memory, expected)
            assert (pending.video_id, pending.frame_id) == (3, t)
            with SyncingOpRecorder() as recorder:
                model.check_pending_flows(pending, unchecked)
            # one read per flow check; frame 0 has no flow to check
            reads = sum(count is not None for count, _ in pending.checks)
            assert reads == (1 if t else 0)
            assert recorder.ops == ['_local_scalar_dense'] * reads


@pytest.mark.parametrize('concurrent_flow', [False, True])
def test_cuda_online_memory_step_does_not_synchronise(clocknet_cfg,
                                                      cuda_device,
                                                      concurrent_flow):
    """The CUDA twin of the syncing-op test: torch's sync debug mode raises
    on any synchronising call in the flows, the finite guard, the K warps
    and the aggregation of an online ClockNet frame."""
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.test_cfg = dict(concurrent_flow=concurrent_flow)
    cfg.motion.img_scale_factor = 0.5
    model = build(cfg).to(cuda_device).eval()
    state = MemoryState()
    with torch.no_grad():
        for t in range(9):
            image = torch.randn(1, 3, 64, 64, device=cuda_device)
            torch.cuda.synchronize(cuda_device)
            torch.cuda.set_sync_debug_mode('error')
            try:
                flows, feature = model.flows_and_feature(state, image)
                flows, count = model.zero_non_finite_flows(flows)
                model.memory_step(state, image, feature, 'v', t, flows=flows)
            finally:
                torch.cuda.set_sync_debug_mode('default')
            model.check_flows_were_finite(count, flows, state, 'v', t)
    assert state.anchor_frame_ids == [8, 8, 8]


def weighted_clocknet(clocknet_cfg, seed):
    """A ClockNet whose learned combination is away from the plain mean."""
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.aggregator.combine = 'weighting'
    cfg.aggregator.combine_hidden_channels = 8
    return perturb_aggregator(build(cfg).eval(), seed)


def channels_last_memories_match(cfg, device, rtol):
    """Memories of a model and of its channels-last copy agree on device,
    within ``rtol`` of the largest value."""
    model = weighted_clocknet(cfg, seed=5).to(device)
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    weight = nhwc.motion.conv1[0].conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not weight.is_contiguous()
    state, nhwc_state = MemoryState(), MemoryState()
    with torch.no_grad():
        for t in range(9):
            image = torch.randn(
                1, 3, 64, 64,
                generator=torch.Generator().manual_seed(t)).to(device)
            memory = model.memory_step(state, image, model.extract_feat(image),
                                       'v', t)
            nhwc_memory = nhwc.memory_step(nhwc_state, image,
                                           nhwc.extract_feat(image), 'v', t)
            scale = memory.abs().max()
            assert (nhwc_memory - memory).abs().max() <= rtol * scale, t
    assert nhwc_state.anchor_frame_ids == state.anchor_frame_ids
    # the convolutions run channels-last: their outputs come out that way
    features = nhwc.extract_feat(image)  # [1, C, h, w]
    assert features.is_contiguous(memory_format=torch.channels_last)
    flow = nhwc.motion(image, image)
    assert flow.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_weights_give_the_same_memories(clocknet_cfg):
    """``model.to(memory_format=torch.channels_last)`` (NHWC convolutions,
    ``benchmark.py --channels-last``) computes the same online ClockNet."""
    channels_last_memories_match(clocknet_cfg, torch.device('cpu'), 1e-4)


def test_cuda_channels_last_weights_give_the_same_memories(
        clocknet_cfg, cuda_device):
    # cuDNN may convolve in TF32 (10-bit mantissa), and NHWC and NCHW
    # kernels round differently; a layout mistake would be off by O(1)
    channels_last_memories_match(clocknet_cfg, cuda_device, 1e-3)


def test_cuda_online_clocknet_matches_cpu(clocknet_cfg, cuda_device):
    """The weighted ClockNet recurrence gives the CPU's memories on CUDA."""
    model = weighted_clocknet(clocknet_cfg, seed=4)
    model_gpu = copy.deepcopy(model).to(cuda_device)
    images = [torch.randn(1, 3, 64, 64) for _ in range(10)]
    cpu_state, gpu_state = MemoryState(), MemoryState()
    with torch.no_grad():
        for t, image in enumerate(images):
            on_cpu = model.memory_step(cpu_state, image,
                                       model.extract_feat(image), 'v', t)
            image_gpu = image.to(cuda_device)
            on_gpu = model_gpu.memory_step(gpu_state, image_gpu,
                                           model_gpu.extract_feat(image_gpu),
                                           'v', t)
            assert on_gpu.device.type == 'cuda'
            scale = on_cpu.abs().max()
            assert (on_gpu.cpu() - on_cpu).abs().max() <= 1e-4 * scale, t
    assert gpu_state.anchor_frame_ids == cpu_state.anchor_frame_ids
    assert all(m.device.type == 'cuda' for m in gpu_state.memories)


def test_cuda_concurrent_flow_gives_the_same_memories(clocknet_cfg,
                                                      cuda_device):
    """FlowNet on a side stream beside the backbone: the same memories."""
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.test_cfg = dict(concurrent_flow=True)
    model = build(cfg).to(cuda_device).eval()
    reference = build(clocknet_cfg).to(cuda_device).eval()
    reference.load_state_dict(model.state_dict())
    calls = []
    model.motion.register_forward_hook(
        lambda *_: calls.append(torch.cuda.current_stream(cuda_device)))
    for t in range(9):
        # (boxes, scores) of the frame; with random weights many scores
        # tie, so the memories are compared, not the ranked boxes
        (boxes, _), = online_scores(model, [frame_data(0, t)])
        online_scores(reference, [frame_data(0, t)])
        assert torch.isfinite(boxes).all()
        for memory, ref_memory in zip(model.test_state.memories,
                                      reference.test_state.memories):
            scale = ref_memory.abs().max()
            assert (memory - ref_memory).abs().max() <= 1e-5 * scale, t
    assert (model.test_state.anchor_frame_ids ==
            reference.test_state.anchor_frame_ids)
    # frames 1..8 of strides (1, 4, 8): 1 + 2 + 2 + 2 + 2 + 3 + 3 + 3 flows,
    # all on the model's one side stream, not the default stream
    assert len(calls) == 18
    default = torch.cuda.default_stream(cuda_device)
    assert all(stream == calls[0] for stream in calls)
    assert calls[0] != default


def test_cuda_online_predict_keeps_its_state_on_the_gpu(
        memnet_cfg, cuda_device):
    model = build(memnet_cfg).to(cuda_device).eval()
    for t in range(3):
        batch = preprocess(model, frame_data(0, t), False)
        assert batch['inputs'].device.type == 'cuda'
        with torch.no_grad():
            pred = model.predict(**batch)[0][0].pred_instances
        assert pred.bboxes.device.type == 'cuda'
        assert torch.isfinite(pred.bboxes).all()
        assert ((pred.bboxes >= -1e-3) & (pred.bboxes <= 64 + 1e-3)).all()
    assert model.test_state.frame_index == 3
    assert all(m.device.type == 'cuda' for m in model.test_state.memories)


def test_cuda_gradients_reach_flownet_and_earlier_frames(
        memnet_cfg, cuda_device):
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.0, loss_frames='last')
    model = build(cfg).to(cuda_device).train()
    batch = preprocess(model, packed_clips(1, 3), True)
    inputs = batch['inputs'].clone().requires_grad_(True)
    losses = model.loss(inputs, batch['data_samples'])
    total = sum(v for k, v in losses.items()
                if 'loss' in k and not isinstance(v, list))
    assert torch.isfinite(total)
    total.backward()
    per_frame = inputs.grad.abs().sum(dim=(0, 2, 3, 4))  # [T]
    assert (per_frame > 0).all(), per_frame
    flow_grads = [
        p.grad for p in model.motion.parameters() if p.grad is not None
    ]
    assert flow_grads and any(g.abs().sum() > 0 for g in flow_grads)
    assert all(g.device.type == 'cuda' for g in flow_grads)


# backward ops PyTorch refuses on CUDA under deterministic algorithms
# (torch.use_deterministic_algorithms' documentation); CumsumBackward0
# stands for a floating cumsum, whose CUDA forward is refused already
REFUSED_IN_DETERMINISTIC_CUDA = {
    'UpsampleBilinear2DBackward0', 'UpsampleBicubic2DBackward0',
    'GridSampler2DBackward0', 'CumsumBackward0', 'AdaptiveAvgPool2DBackward0',
    'ReflectionPad2DBackward0'
}


def autograd_op_names(tensor):
    """Names of every backward node in ``tensor``'s autograd graph."""
    names, seen, stack = set(), set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


def training_loss(cfg, roi_op):
    """Total loss of a MemNet on 2 clips of 3 frames, FlowNet at half
    resolution (two flow resizes) and the given PS RoI op."""
    cfg = copy.deepcopy(cfg)
    cfg.motion.img_scale_factor = 0.5
    cfg.detector.roi_head.bbox_head.roi_op = roi_op
    cfg.train_cfg = dict(evidence_drop_prob=0.0, loss_frames='all')
    torch.manual_seed(0)  # the same weights
    model = build(cfg).train()
    batch = preprocess(model, packed_clips(2, 3), True)
    torch.manual_seed(0)  # the same RPN and R-FCN samples
    losses = model.loss(batch['inputs'], batch['data_samples'])
    return sum(v for k, v in losses.items()
               if 'loss' in k and not isinstance(v, list))


@pytest.mark.parametrize('roi_op', ['align', 'pool'])
def test_deterministic_cuda_training_avoids_refused_ops(
        memnet_cfg, monkeypatch, roi_op):
    """Training as under ``randomness=dict(deterministic=True)`` on CUDA
    (the device check forced on the CPU) uses no op that PyTorch refuses
    there, and computes the same loss."""
    usual = training_loss(memnet_cfg, roi_op)
    assert 'UpsampleBilinear2DBackward0' in autograd_op_names(usual)

    def as_on_cuda(device, needs_grad=True):
        return needs_grad

    # the module, not the function memvid_mm.models.layers.flow_warp
    for module in ('memvid_mm.ops.deterministic',
                   'memvid_mm.models.layers.flow_warp'):
        monkeypatch.setattr(
            importlib.import_module(module), 'deterministic_cuda_required',
            as_on_cuda)
    deterministic = training_loss(memnet_cfg, roi_op)
    assert not autograd_op_names(deterministic) & \
        REFUSED_IN_DETERMINISTIC_CUDA
    assert torch.allclose(deterministic, usual, rtol=1e-5)


@pytest.mark.parametrize('roi_op', ['align', 'pool'])
def test_cuda_training_runs_under_deterministic_algorithms(
        memnet_cfg, cuda_device, deterministic_algorithms, monkeypatch,
        roi_op):
    # cuBLAS needs a fixed workspace to be deterministic
    monkeypatch.setenv('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    cfg = copy.deepcopy(memnet_cfg)
    cfg.motion.img_scale_factor = 0.5
    cfg.detector.roi_head.bbox_head.roi_op = roi_op
    model = build(cfg).to(cuda_device).train()
    batch = preprocess(model, packed_clips(2, 3), True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    sum(v for k, v in losses.items()
        if 'loss' in k and not isinstance(v, list)).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.motion.parameters())


@pytest.fixture
def nms_taking_half_floats(monkeypatch):
    """mmcv's NMS kernels read float32 boxes (the CUDA one sorts the
    scores in any dtype). Under CUDA autocast the RPN's box decoding gives
    float32 boxes (its ``exp`` runs in float32 there), but CPU autocast
    keeps them in half precision, and the CPU kernel refuses half scores
    too. This casts both to float32 for the kernel (which keeps their
    values), so that autocast can run the detector on the CPU; whether
    ``--amp`` runs on CUDA is ``test_cuda_amp_training_steps``'s to show.
    """
    nms_module = importlib.import_module('mmcv.ops.nms')
    ext_module = nms_module.ext_module

    class FloatNMS:

        def __getattr__(self, name):
            return getattr(ext_module, name)

        @staticmethod
        def nms(boxes, scores, *args, **kwargs):
            return ext_module.nms(boxes.float(), scores.float(), *args,
                                  **kwargs)

    monkeypatch.setattr(nms_module, 'ext_module', FloatNMS())


@pytest.mark.parametrize(
    'half', [torch.bfloat16, torch.float16], ids=['bfloat16', 'float16'])
def test_clocknet_trains_and_predicts_under_autocast(clocknet_cfg,
                                                     nms_taking_half_floats,
                                                     half):
    """What ``tools/train.py --amp`` runs (FlowNet, the warps, the learned
    weighting and the PS RoI head in half precision where autocast puts
    them): finite losses close to float32's, gradients reaching FlowNet,
    and online prediction."""
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.0, loss_frames='all')
    model = perturb_aggregator(build(cfg), seed=1).train()
    batch = preprocess(model, packed_clips(2, 4), True)
    totals = {}
    for dtype in (torch.float32, half):
        torch.manual_seed(0)  # the same RPN and R-FCN samples
        with torch.autocast(
                'cpu', dtype=dtype, enabled=dtype is not torch.float32):
            losses = model.loss(batch['inputs'], batch['data_samples'])
        totals[dtype] = sum(v for k, v in losses.items()
                            if 'loss' in k and not isinstance(v, list))
    assert totals[half].dtype == torch.float32
    assert torch.isfinite(totals[half])
    # half precision ran (the losses differ), and only rounds
    assert not torch.equal(totals[half], totals[torch.float32])
    assert torch.allclose(totals[half], totals[torch.float32], rtol=0.05)
    totals[half].backward()
    flow_grads = [
        p.grad for p in model.motion.parameters() if p.grad is not None
    ]
    assert flow_grads and all(torch.isfinite(g).all() for g in flow_grads)
    assert any(g.abs().sum() > 0 for g in flow_grads)

    model.eval()
    with torch.autocast('cpu', dtype=half), torch.no_grad():
        for frame_id in range(3):
            batch = preprocess(model, frame_data(3, frame_id), False)
            pred = model.predict(**batch)[0][0].pred_instances
            assert torch.isfinite(pred.bboxes).all()
            assert torch.isfinite(pred.scores).all()
    assert all(torch.isfinite(m).all() for m in model.test_state.memories)


def test_cuda_amp_training_steps(clocknet_cfg, cuda_device):
    """Two steps of mmengine's ``AmpOptimWrapper`` (float16 autocast and a
    dynamic loss scale), as ``tools/train.py --amp`` builds it."""
    from mmengine.optim import AmpOptimWrapper
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.0, loss_frames='all')
    model = build(cfg).to(cuda_device).train()
    optim_wrapper = AmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=1e-3),
        loss_scale='dynamic')
    flownet_before = [p.detach().clone() for p in model.motion.parameters()]
    for _ in range(2):
        log_vars = model.train_step(packed_clips(2, 4), optim_wrapper)
        assert torch.isfinite(log_vars['loss'])
    assert any(not torch.equal(before, p)
               for before, p in zip(flownet_before, model.motion.parameters()))


def test_loss_pairs_each_memory_with_its_own_frame(memnet_cfg, monkeypatch):
    """loss_frames='all' with N = 2, T = 3: the memory row given to the
    head for a frame is that clip's M_t at that position (clip-major, as
    the samples)."""
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.0, loss_frames='all')
    model = perturb_aggregator(build(cfg).eval(), seed=5)
    batch = preprocess(model, packed_clips(2, 3), True)
    seen = {}

    def head_loss(feats, samples):
        seen.update(memory=feats[0], samples=list(samples))
        return {}

    monkeypatch.setattr(model.detector, '_head_loss', head_loss)
    with torch.no_grad():
        model.loss(batch['inputs'], batch['data_samples'])
        expected = model.clip_memories(batch['inputs'], [True] * 3, 1,
                                       [0, 1, 2])
    assert len(seen['samples']) == seen['memory'].shape[0] == 6
    for row, sample in enumerate(seen['samples']):
        clip, position = divmod(sample.img_id, 1000)
        assert torch.equal(seen['memory'][row], expected[position][clip]), \
            (row, clip, position)
    # the rows of one position differ between the clips, so a time-major
    # order would be caught
    assert not torch.allclose(expected[1][0], expected[1][1])


class ScriptedDraws:
    """A ``random.Random`` stand-in whose ``random()`` gives set values."""

    def __init__(self, values):
        self.values = iter(values)

    def random(self):
        return next(self.values)


def test_evidence_keep_mask_drops_at_the_configured_rate():
    """A frame keeps its evidence when the draw is >= drop_prob."""
    assert evidence_keep_mask(4, 0.8,
                              ScriptedDraws([0.79, 0.8, 0.81
                                             ])) == [True, False, True, True]
    rng = random.Random(0)
    kept = [
        keep for _ in range(2000)
        for keep in evidence_keep_mask(6, 0.8, rng)[1:]
    ]
    assert abs(sum(kept) / len(kept) - 0.2) < 0.02


def test_loss_keeps_the_frames_the_configured_draws_keep(
        memnet_cfg, monkeypatch):
    """train_cfg's evidence_drop_prob decides, with the model's draws,
    which clip positions' features are extracted."""
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.8, loss_frames='last')
    model = build(cfg)
    model.rng = ScriptedDraws([0.79, 0.8, 0.81])
    seen = []
    original = model.extract_feat
    monkeypatch.setattr(model, 'extract_feat',
                        lambda x: seen.append(x.shape[0]) or original(x))
    model.loss(**preprocess(model, packed_clips(2, 4), True))
    # positions 0, 2 and 3 keep evidence, of 2 clips each
    assert seen == [6]


def test_gradients_reach_every_frames_features(memnet_cfg, monkeypatch):
    """Back-propagation through time reaches the backbone's features of
    the earlier frames, not only their images through FlowNet."""
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.0, loss_frames='last')
    model = build(cfg).train()
    feats = []
    original = model.extract_feat

    def retained(images):
        out = original(images)
        out.retain_grad()
        feats.append(out)
        return out

    monkeypatch.setattr(model, 'extract_feat', retained)
    losses = model.loss(**preprocess(model, packed_clips(1, 3), True))
    sum(v for k, v in losses.items()
        if 'loss' in k and not isinstance(v, list)).backward()
    assert len(feats) == 1 and feats[0].shape[0] == 3
    per_frame = feats[0].grad.abs().sum(dim=(1, 2, 3))  # [T]
    assert (per_frame > 0).all(), per_frame


def test_clip_clocks_run_at_the_clip_stride(clocknet_cfg):
    """Position t of a clip of stride 4 is frame 4 t of the ClockNet
    schedule: the stride-4 memory takes evidence at every position, the
    stride-8 one at position 2 (frame 8)."""
    model = build(clocknet_cfg).eval()
    inputs = preprocess(model, packed_clips(1, 3), False)['inputs']
    with torch.no_grad():
        clip = model.clip_memories(inputs, [True] * 3, 4, [2])[2]
        feats = [model.extract_feat(inputs[:, t]) for t in range(3)]

        def online(step):
            state = MemoryState()
            for t in range(3):
                memory = model.memory_step(state, inputs[:, t], feats[t], 'v',
                                           t, step * t)
            return memory, state.anchor_frame_ids

        strided, anchors = online(4)
        consecutive, consecutive_anchors = online(1)
    assert anchors == [2, 2, 2]
    assert consecutive_anchors == [2, 0, 0]
    assert torch.allclose(clip, strided, atol=1e-5)
    assert not torch.allclose(clip, consecutive, atol=1e-3)


def test_tensor_mode_is_the_head_on_the_last_memory(clocknet_cfg):
    """mode='tensor' gives the head's outputs on M_t of the clip's last
    frame, as the online recurrence computes it."""
    model = build(clocknet_cfg).eval()
    batch = preprocess(model, packed_clips(1, 4), False)
    inputs, samples = batch['inputs'], batch['data_samples']
    with torch.no_grad():
        outs = model(inputs, samples, mode='tensor')
        state = MemoryState()
        for t in range(4):
            memory = model.memory_step(state, inputs[:, t],
                                       model.extract_feat(inputs[:, t]), 'v',
                                       t)
        expected = model.detector._head_forward((memory, ), [samples[0][3]])
        first = model.detector._head_forward(
            (model.extract_feat(inputs[:, 0]), ), [samples[0][3]])

    def flat(x):
        if isinstance(x, torch.Tensor):
            return [x]
        return [t for item in x for t in flat(item)]

    got, want, other = flat(outs), flat(expected), flat(first)
    assert len(got) == len(want) > 0
    for a, b in zip(got, want):
        assert torch.allclose(a, b, atol=1e-4)
    assert any(not torch.allclose(a, b, atol=1e-3) for a, b in zip(got, other))


def test_each_memory_is_warped_with_the_flow_to_its_own_anchor(
        clocknet_cfg, monkeypatch):
    """memory_step warps memory k of strides (1, 4, 8) at frame t with
    flow(I_t, I_anchor_k): memories that share no anchor share no flow."""
    model = build(clocknet_cfg).eval()

    def tagged_flow(img_cur, img_anchor):
        tag = 100 * img_cur[0, 0, 0, 0] + img_anchor[0, 0, 0, 0]
        return torch.full((1, 2) + tuple(img_cur.shape[-2:]), float(tag))

    warps = []

    def recording_warp(memory, flow, check_finite=True):
        warps.append(int(flow[0, 0, 0, 0]))
        return memory

    monkeypatch.setattr(model.motion, 'forward', tagged_flow)
    monkeypatch.setattr(model.warp, 'forward', recording_warp)
    state = MemoryState()
    with torch.no_grad():
        for t in range(10):
            model.memory_step(state, torch.full((1, 3, 16, 16), float(t)),
                              torch.randn(1, 64, 2, 2), 'v', t)
    # anchors at frame t: t - 1, 4 floor((t - 1) / 4), 8 floor((t - 1) / 8)
    assert warps == [
        100 * t + anchor for t in range(1, 10)
        for anchor in (t - 1, 4 * ((t - 1) // 4), 8 * ((t - 1) // 8))
    ]


def test_a_frame_not_a_multiple_of_the_feature_stride_is_refused(memnet_cfg):
    """At stride 8 a 14-pixel side has 2 cells: FlowWarp's own check (14 is
    a multiple of 2) would pass it, and its rescaling by 2 / 14 = 1 / 7
    would make every displacement 8/7 too long."""
    model = build(memnet_cfg).eval()
    assert model.feature_stride == 8
    with torch.no_grad():
        state = MemoryState()
        for t in range(2):  # 16 = 8 x 2: warped
            model.memory_step(state, torch.randn(1, 3, 16, 24),
                              torch.randn(1, 64, 2, 3), 'v', t)
        # refused at the first frame already, before it is stored
        state = MemoryState()
        with pytest.raises(
                ValueError,
                match=r'^frames of 14x24 \(padded\) are not 8 '
                r'times their 2x3 feature map .*pad the frames '
                r'to a multiple of 8 .*pad_size_divisor'):
            model.memory_step(state, torch.randn(1, 3, 14, 24),
                              torch.randn(1, 64, 2, 3), 'w', 0)
        assert state.is_empty


def test_a_detector_without_a_feature_stride_is_refused(memnet_cfg):
    cfg = copy.deepcopy(memnet_cfg)
    cfg['detector']['roi_head']['bbox_head']['featmap_stride'] = None
    with pytest.raises(
            ValueError,
            match=r'MemoryRFCN needs the stride of '
            r'its detector\'s features \(roi_head\.bbox_head\.'
            r'featmap_stride\), got None'):
        build(cfg)


def with_test_cfg(cfg, **test_cfg):
    cfg = copy.deepcopy(cfg)
    cfg.test_cfg = test_cfg
    return cfg


@pytest.mark.parametrize('test_cfg, error, match', [
    (dict(evidence_interval=0), ValueError, 'evidence_interval must be an'),
    (dict(evidence_interval=True), ValueError, 'evidence_interval must be'),
    (dict(evidence_interval=2.0), ValueError, 'evidence_interval must be'),
    (dict(anticipate=1,
          evidence_interval=4), TypeError, 'anticipate must be a bool'),
    (dict(anticipate=True), ValueError, 'needs test_cfg.evidence_interval'),
    (dict(propagate='box', evidence_interval=4), ValueError,
     "propagate must be 'features' or 'boxes'"),
    (dict(propagate='boxes'), ValueError, "propagate='boxes' needs"),
    (dict(propagate='boxes', evidence_interval=4,
          anticipate=True), ValueError, 'and no anticipate'),
])
def test_test_cfg_checks_propagation_settings(memnet_cfg, test_cfg, error,
                                              match):
    with pytest.raises(error, match=match):
        build(with_test_cfg(memnet_cfg, **test_cfg))


def call_counter(module):
    """Count the forward calls of ``module``; the list of frames it ran."""
    calls = []
    module.register_forward_hook(lambda *_: calls.append(None))
    return calls


def test_propagation_runs_the_backbone_every_interval(clocknet_cfg):
    """evidence_interval=4: F_t at frames 0, 4 and 8 of 10, FlowNet's flows
    everywhere, and the memories of memory_step without F_t between."""
    model = build(with_test_cfg(clocknet_cfg, evidence_interval=4)).eval()
    backbone = call_counter(model.detector.backbone)
    flownet = call_counter(model.motion)
    reference = MemoryState()
    backbone_frames, flownet_per_frame = [], []
    with torch.no_grad():
        for t in range(10):
            image, sample = frame_inputs(model, t)
            before = len(backbone), len(flownet)
            model.predict_frame(image, sample, model.test_state)
            if len(backbone) > before[0]:
                backbone_frames.append(t)
            flownet_per_frame.append(len(flownet) - before[1])
            feature = model.extract_feat(image) if t % 4 == 0 else None
            expected = model.memory_step(reference, image, feature, 3, t)
            assert torch.equal(model.test_state.memories[0],
                               reference.memories[0]), t
    assert backbone_frames == [0, 4, 8]
    # anchors: strides 1 and 4 at the last evidence frame, stride 8 at 0/8
    assert model.test_state.anchor_frame_ids == [8, 8, 8]
    assert flownet_per_frame[1:4] == [1, 1, 1]  # all anchored at frame 0
    assert flownet_per_frame[5:8] == [2, 2, 2]  # frames 4 and 0
    for memory, expected in zip(model.test_state.memories, reference.memories):
        assert torch.equal(memory, expected)


def test_evidence_interval_one_is_the_default(memnet_cfg):
    frames = [frame_data(5, t) for t in range(4)]
    default = build(memnet_cfg).eval()
    explicit = build(with_test_cfg(memnet_cfg, evidence_interval=1)).eval()
    explicit.load_state_dict(default.state_dict())
    assert default.test_cfg == explicit.test_cfg == dict(
        concurrent_flow=False,
        evidence_interval=1,
        anticipate=False,
        propagate='features',
        split_halves=False,
        chain_flows=False)
    for (boxes, scores), (boxes1, scores1) in zip(
            online_scores(default, frames), online_scores(explicit, frames)):
        assert torch.equal(boxes, boxes1) and torch.equal(scores, scores1)


def test_anticipated_frames_read_no_image(clocknet_cfg):
    """With anticipation every 4 frames, frames 1-3 and 5-7 do not read
    their own images (FlowNet does not run there): changing them changes
    no output of theirs. Frame 4 reads frames 2 and 3 for the motion that
    frames 5-7 extrapolate."""
    cfg = with_test_cfg(clocknet_cfg, evidence_interval=4, anticipate=True)
    model = build(cfg).eval()
    flownet = call_counter(model.motion)
    frames = [frame_data(7, t) for t in range(8)]
    reference = online_scores(model, frames)
    for changed_frames in ((5, 6, 7), (1, 2, 3)):
        model.test_state.reset()
        changed, per_frame = [], []
        for t, frame in enumerate(frames):
            if t in changed_frames:
                frame = frame_data(7, t, seed=99)
            before = len(flownet)
            changed += online_scores(model, [frame])
            per_frame.append(len(flownet) - before)
        same = [
            torch.equal(reference[t][0], changed[t][0])
            and torch.equal(reference[t][1], changed[t][1]) for t in range(8)
        ]
        if changed_frames == (5, 6, 7):
            assert all(same)
        else:
            assert all(same[:5]) and not all(same[5:])
        # frame 4: the flows to its anchor (frame 0) and to frames 3 and 2
        assert per_frame == [0, 0, 0, 0, 3, 0, 0, 0]


def index_images(model, count):
    """Frames of video 3 whose image is the constant ``t``, and samples."""
    frames = []
    for t in range(count):
        image, sample = frame_inputs(model, t)
        frames.append((torch.full_like(image, float(t)), sample))
    return frames


def accelerating_motion(speed, acceleration):
    """A FlowNet stand-in for a scene panning right at ``speed + t *
    acceleration`` px per frame; it reads the frame indices off the
    images of :func:`index_images`."""

    def forward(image, reference):
        current = int(image[0, 0, 0, 0])
        previous = int(reference[0, 0, 0, 0])
        moved = sum(speed + acceleration * i
                    for i in range(previous + 1, current + 1))
        flow = image.new_zeros((1, 2) + tuple(image.shape[-2:]))
        flow[:, 0] = -moved
        return flow

    return forward


def anticipated_warp_flows(cfg, num_frames):
    """Run ``cfg`` anticipating every 4 frames on :func:`index_images`
    under :func:`accelerating_motion`; yield, per frame, its index, image,
    the model and the flows its memories were warped with."""
    model = build(with_test_cfg(cfg, evidence_interval=4,
                                anticipate=True)).eval()
    model.motion.forward = accelerating_motion(speed=0.5, acceleration=0.25)
    warped = []
    model.warp.register_forward_hook(
        lambda module, args, out: warped.append(args[1]))
    with torch.no_grad():
        for t, (image, sample) in enumerate(index_images(model, num_frames)):
            warped.clear()
            model.predict_frame(image, sample, model.test_state)
            yield t, image, model, list(warped)


def test_anticipation_extrapolates_the_motion_to_every_anchor(clocknet_cfg):
    """Under a constant acceleration the extrapolated flows are FlowNet's
    away from the border (strides 1, 4, 8 at frames 9-11, all anchored at
    the evidence frame 8)."""
    for t, image, model, warped in anticipated_warp_flows(clocknet_cfg, 12):
        if t in (9, 10, 11):
            assert model.test_state.anchor_frame_ids == [8, 8, 8]
            assert len(warped) == 3
            expected = model.motion(image, torch.full_like(image, 8.0))
            for flow in warped:
                # content up to 12 px back; the image is 64 px wide
                assert torch.allclose(
                    flow[..., 16:], expected[..., 16:], atol=1e-5), t
    state = model.test_state
    assert state.evidence_motion.frame_id == 8
    assert sorted(state.evidence_motion.anchor_flows) == []
    assert len(state.recent_imgs) == 2


def test_anticipation_composes_flows_to_older_anchors(clocknet_cfg):
    """Strides (1, 8) every 4 frames: at frames 5-7 the stride-8 memory is
    anchored at frame 0, so D_{t,0} = D_{t,4} then FlowNet's D_{4,0}."""
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.aggregator.strides = (1, 8)
    for t, image, model, warped in anticipated_warp_flows(cfg, 8):
        if t >= 5:
            assert model.test_state.anchor_frame_ids == [4, 0]
            for flow, anchor in zip(warped, (4, 0)):
                expected = model.motion(image, torch.full_like(image, anchor))
                assert torch.allclose(
                    flow[..., 16:], expected[..., 16:], atol=1e-5), t
    assert sorted(model.test_state.evidence_motion.anchor_flows) == [0]


def grid_builds(monkeypatch):
    """Count the identity grids the warp neck builds (``FlowWarp.base_grid``
    on a cache miss); refuse any that the functional warp would build
    for a single call (``flow_warp`` given no grid)."""
    functional = importlib.import_module('memvid_mm.models.layers.flow_warp')
    neck = importlib.import_module('memvid_mm.models.necks.flow_warp')
    built = []
    make_base_grid = functional.make_base_grid

    def counted(h, w, **kwargs):
        built.append((h, w))
        return make_base_grid(h, w, **kwargs)

    def refused(*args, **kwargs):
        raise AssertionError('an identity grid was built for one call')

    monkeypatch.setattr(neck, 'make_base_grid', counted)
    monkeypatch.setattr(functional, 'make_base_grid', refused)
    return built


def test_anticipation_samples_flows_on_the_warp_s_cached_image_grid(
        clocknet_cfg, monkeypatch):
    """The acceleration (frames 4 and 8) and the flows composed to the
    older anchor (frames 5-7, strides (1, 8)) sample one image-size flow
    along another on the image's grid from the warp neck's cache: built
    once for the video, beside the feature map's."""
    built = grid_builds(monkeypatch)
    cfg = copy.deepcopy(clocknet_cfg)
    cfg.aggregator.strides = (1, 8)
    for t, image, model, warped in anticipated_warp_flows(cfg, 12):
        if t in (5, 6, 7):
            assert model.test_state.anchor_frame_ids == [4, 0]
    assert len(built) == 2 and tuple(image.shape[-2:]) in built


def test_anticipation_state_resets_with_the_video(memnet_cfg):
    cfg = with_test_cfg(memnet_cfg, evidence_interval=2, anticipate=True)
    model = build(cfg).eval()
    online_scores(model, [frame_data(3, t) for t in range(3)])
    assert model.test_state.evidence_motion.frame_id == 2
    assert len(model.test_state.recent_imgs) == 2
    online_scores(model, [frame_data(4, 0)])
    assert model.test_state.evidence_motion.frame_id == 0
    assert torch.equal(model.test_state.evidence_motion.velocity,
                       torch.zeros(1, 2, 64, 64))
    assert len(model.test_state.recent_imgs) == 1


def test_anticipation_refuses_a_state_without_motion(memnet_cfg):
    model = build(memnet_cfg).eval()
    image, sample = frame_inputs(model, 0)
    with torch.no_grad():
        model.predict_frame(image, sample, model.test_state)
    with pytest.raises(ValueError, match='frame 1: no motion of an evidence'):
        model.extrapolated_flows(model.test_state, 1)


def test_box_propagation_runs_the_head_at_evidence_frames_only(memnet_cfg):
    """propagate='boxes' every 4 frames: the evidence frames' detections
    are those of feature propagation; between them one FlowNet call a
    frame, no backbone and no head, and the memories stay at frame 0/4."""
    features = build(with_test_cfg(memnet_cfg, evidence_interval=4)).eval()
    boxes = build(
        with_test_cfg(memnet_cfg, evidence_interval=4,
                      propagate='boxes')).eval()
    boxes.load_state_dict(features.state_dict())
    backbone = call_counter(boxes.detector.backbone)
    head = call_counter(boxes.detector.rpn_head)
    flownet = call_counter(boxes.motion)
    frames = [frame_data(6, t) for t in range(7)]
    by_features = online_scores(features, frames)
    per_frame = []
    for frame in frames:
        before = len(backbone), len(head), len(flownet)
        online_scores(boxes, [frame])
        per_frame.append((len(backbone) - before[0], len(head) - before[1],
                          len(flownet) - before[2]))
    assert per_frame == [(1, 1, 0), (0, 0, 1), (0, 0, 1), (0, 0, 1), (1, 1, 1),
                         (0, 0, 1), (0, 0, 1)]
    boxes.test_state.reset()
    by_boxes = online_scores(boxes, frames)
    for t in (0, 4):
        assert torch.equal(by_boxes[t][0], by_features[t][0])
        assert torch.equal(by_boxes[t][1], by_features[t][1])
    # the scores of the propagated frames are the evidence frame's
    for t in (1, 2, 3):
        assert torch.equal(by_boxes[t][1], by_boxes[0][1])
    state = boxes.test_state
    assert (state.last_frame_id, state.frame_index) == (6, 7)
    assert state.anchor_frame_ids == [4]
    assert state.evidence_boxes.frame_id == 4


def test_box_propagation_moves_boxes_by_the_mean_flow(memnet_cfg):
    """A scene panning right by 2 px a frame: the boxes of frame 0 move
    right by 2 px a frame, clipped to the image, in original pixels."""
    cfg = with_test_cfg(memnet_cfg, evidence_interval=4, propagate='boxes')
    model = build(cfg).eval()
    model.motion.forward = accelerating_motion(speed=2.0, acceleration=0.0)
    results = []
    with torch.no_grad():
        for t, (image, sample) in enumerate(index_images(model, 4)):
            sample.set_metainfo(dict(scale_factor=(0.5, 0.5)))
            result = model.predict_frame(image, sample, model.test_state)
            results.append(result.pred_instances.clone())
    first = results[0].bboxes
    assert len(first) > 0
    for t in (1, 2, 3):
        # 64x64 input at scale 0.5: original pixels are twice the input's
        expected = first * 0.5
        expected[:, 0::2] = (expected[:, 0::2] + 2.0 * t).clamp(0, 64)
        expected[:, 1::2] = expected[:, 1::2].clamp(0, 64)
        assert torch.allclose(results[t].bboxes, expected * 2, atol=1e-4)
        assert torch.equal(results[t].labels, results[0].labels)


def test_box_propagation_refuses_a_state_without_boxes(memnet_cfg):
    features = build(with_test_cfg(memnet_cfg, evidence_interval=4)).eval()
    boxes = build(
        with_test_cfg(memnet_cfg, evidence_interval=4,
                      propagate='boxes')).eval()
    state = MemoryState()
    with torch.no_grad():
        features.predict_frame(*frame_inputs(features, 0), state)
        with pytest.raises(
                ValueError,
                match='frame 1: no detections of an '
                'evidence frame to propagate'):
            boxes.predict_frame(*frame_inputs(boxes, 1), state)


def test_a_detector_without_rfcn_heads_is_refused(memnet_cfg):
    """The heads read the memory: a detector without ``feature_channels``
    (a Faster R-CNN) is named when the model is built."""
    cfg = copy.deepcopy(memnet_cfg)
    cfg.detector = copy.deepcopy(
        Config.fromfile(FASTER_RCNN_CFG).model.detector)
    with pytest.raises(
            ValueError,
            match='MemoryRFCN needs an RFCN detector, whose heads read the '
            'memory, got FasterRCNN'):
        build(cfg)


def test_unknown_train_cfg_keys_are_refused(memnet_cfg):
    cfg = copy.deepcopy(memnet_cfg)
    cfg.train_cfg = dict(evidence_drop_prob=0.5, loss_frame='all')
    with pytest.raises(
            ValueError,
            match=r"unknown MemoryRFCN train_cfg keys: \['loss_frame'\]"):
        build(cfg)


def test_a_neck_with_several_maps_is_refused(memnet_cfg):
    """The memory holds one map: an embedding of two backbone stages is
    named at the first frame."""
    cfg = copy.deepcopy(memnet_cfg)
    cfg.detector.backbone.out_indices = (2, 3)
    cfg.detector.neck.in_channels = [64, 128]
    model = build(cfg).eval()
    with torch.no_grad(), pytest.raises(
            ValueError,
            match='MemoryRFCN needs a single embedded feature map from the '
            'detector neck, got 2'):
        model.predict_frame(*frame_inputs(model, 0), MemoryState())


def test_chained_flows_of_an_empty_state_are_empty(memnet_cfg):
    model = build(with_test_cfg(memnet_cfg, chain_flows=True)).eval()
    flownet = call_counter(model.motion)
    assert model.chained_flows(MemoryState(), torch.randn(1, 3, 64, 64)) == {}
    assert flownet == []


def test_chained_flows_refuse_a_state_written_without_them(memnet_cfg):
    """A state another model advanced without ``chain_flows`` holds no
    last image to chain from; it is refused and left as it was."""
    plain = build(memnet_cfg).eval()
    chained = build(with_test_cfg(memnet_cfg, chain_flows=True)).eval()
    state = MemoryState()
    with torch.no_grad():
        for t in range(2):
            plain.online_memory(*frame_inputs(plain, t), state)
        with pytest.raises(
                ValueError,
                match='chained flows need the last frame\'s image and '
                'flows in the state'):
            chained.online_memory(*frame_inputs(chained, 2), state)
    assert (state.last_frame_id, state.frame_index) == (1, 2)


@pytest.mark.parametrize('aggregator', ['memnet', 'clocknet'])
def test_chained_flows_refuse_a_last_frame_advanced_without_them(
        aggregator, memnet_cfg, clocknet_cfg):
    """Frame 5 advanced by ``memory_step``, which keeps no chained flows:
    the state still holds frame 4's image and flows. Chaining them would
    warp the memories anchored at frame 5 with the flow to frame 4, so the
    next frame is refused, naming frame 5."""
    cfg = memnet_cfg if aggregator == 'memnet' else clocknet_cfg
    model = build(with_test_cfg(cfg, chain_flows=True)).eval()
    state = MemoryState()
    with torch.no_grad():
        for t in range(5):
            model.online_memory(*frame_inputs(model, t), state)
        image, _ = frame_inputs(model, 5)
        model.memory_step(state, image, model.extract_feat(image), 3, 5)
        assert state.last_frame_id == 5
        with pytest.raises(ValueError, match=r'from frame 5 .*to chain'):
            model.chained_flows(state, frame_inputs(model, 6)[0])


def test_training_refuses_clips_of_different_strides(memnet_cfg):
    model = build(memnet_cfg)
    data = packed_clips(2, 3)
    for frame in data['data_samples'][1]:
        frame.set_metainfo(dict(clip_stride=2))
    with pytest.raises(
            ValueError,
            match=r'clips of one batch must share clip_stride, '
            r'got \[1, 2\]'):
        model.loss(**preprocess(model, data, True))


def test_online_memory_refuses_box_propagation(memnet_cfg):
    """With propagate='boxes' the frames between evidence frames have no
    memory to return."""
    model = build(
        with_test_cfg(memnet_cfg, evidence_interval=4,
                      propagate='boxes')).eval()
    state = MemoryState()
    with torch.no_grad(), pytest.raises(
            ValueError,
            match="online_memory needs test_cfg.propagate='features'"):
        model.online_memory(*frame_inputs(model, 0), state)
    assert state.is_empty


def test_online_frame_without_frame_id_is_refused(memnet_cfg):
    model = build(memnet_cfg).eval()
    image, sample = frame_inputs(model, 0)
    metainfo = {k: v for k, v in sample.metainfo.items() if k != 'frame_id'}
    with torch.no_grad(), pytest.raises(
            ValueError,
            match='online MemoryRFCN needs "frame_id" in the frame '
            'metainfo'):
        model.predict_frame(image, DetDataSample(metainfo=metainfo),
                            MemoryState())


def test_state_restarted_after_a_gap_anchors_at_the_restart_frame(
        clocknet_cfg):
    """The memories restarted mid-video are anchored at the restart frame,
    not at 0 (chained flows and anticipation look anchors up by id)."""
    model = build(clocknet_cfg).eval()
    online_scores(model, [frame_data(3, t) for t in range(3)])
    online_scores(model, [frame_data(3, 7)])  # a gap: the state restarts
    state = model.test_state
    assert (state.frame_index, state.last_frame_id) == (1, 7)
    assert state.anchor_frame_ids == [7, 7, 7]
    # the clocks restart at frame 7: frame 8 is frame_index 1, where only
    # the stride-1 memory takes evidence
    online_scores(model, [frame_data(3, 8)])
    assert state.anchor_frame_ids == [8, 7, 7]
