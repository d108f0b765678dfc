# Copyright (c) memvid_mm contributors. All rights reserved.
"""MemoryRFCN with the causal FGFA baseline's aggregator."""
import copy

import pytest
import torch
from mmdet.structures import DetDataSample

from memvid_mm.models.aggregators import cosine_weights
from memvid_mm.models.layers import MemoryState, compose_flows
from memvid_mm.utils import SyncingOpRecorder
from .clip_data import packed_clips
from .test_memory_rfcn import (build, flow_and_warp_counts, frame_data,
                               frame_inputs, grid_builds, online_scores,
                               preprocess, tiny_cfg)


def fgfa_cfg(num_frames=4, **train_cfg) -> dict:
    cfg = tiny_cfg(
        type='CausalFGFAAggregator',
        in_channels=64,
        num_frames=num_frames,
        embed_channels=(16, 16, 32))
    cfg.train_cfg = dict(
        evidence_drop_prob=0.0, loss_frames='last', **train_cfg)
    return cfg


def perturbed_fgfa(num_frames=4, seed=0):
    """A causal FGFA model whose embedding is not the fresh one."""
    model = build(fgfa_cfg(num_frames)).eval()
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in model.aggregator.parameters():
            param.add_(torch.randn_like(param) * 0.3)
    return model


def window_by_hand(model, images, feats, t, num_frames):
    """FGFA over frames t - K + 1 .. t (those from 0 on, each once), each
    warped to t with FlowNet's flow from t to it, weighted by cosine
    similarity of embeddings with F_t."""
    frames = range(max(0, t - num_frames + 1), t + 1)
    warped = [
        feats[t] if a == t else model.warp(feats[a],
                                           model.motion(images[t], images[a]))
        for a in frames
    ]
    embed = model.aggregator.embed
    weights = cosine_weights([embed(w) for w in warped], embed(feats[t]))
    return sum(weights[:, i:i + 1] * w for i, w in enumerate(warped))


def test_online_output_aggregates_the_window_of_past_frames():
    model = perturbed_fgfa(num_frames=4, seed=1)
    images = [torch.randn(1, 3, 64, 64) for _ in range(9)]
    state = MemoryState()
    with torch.no_grad():
        feats = [model.extract_feat(image) for image in images]
        for t in range(9):
            online = model.memory_step(state, images[t], feats[t], 'v', t)
            if t == 0:
                assert torch.equal(online, feats[0])
                continue
            expected = window_by_hand(model, images, feats, t, 4)
            assert torch.allclose(online, expected, atol=1e-5), t
    # memory k holds the last frame = k (mod 4)
    assert state.anchor_frame_ids == [8, 5, 6, 7]


def test_flows_and_warps_only_for_the_past_frames_kept():
    """NF = NW = K - 1 once the window is full, no flow to the frame that
    leaves it; before, one flow per distinct past frame."""
    model = build(fgfa_cfg(num_frames=4)).eval()
    per_frame = flow_and_warp_counts(model, 8)
    assert per_frame == [(0, 0), (1, 3), (2, 3), (3, 3), (3, 3), (3, 3),
                         (3, 3), (3, 3)]


def test_online_output_is_causal_and_resets_between_videos():
    model = perturbed_fgfa(num_frames=3, seed=2)
    frames = [frame_data(7, t) for t in range(5)]
    reference = online_scores(model, frames)
    model.test_state.reset()
    changed = online_scores(
        model, frames[:2] + [frame_data(7, t, seed=99) for t in range(2, 5)])
    for t in range(2):
        assert torch.equal(reference[t][1], changed[t][1]), t
    assert any(not torch.equal(reference[t][1], changed[t][1])
               for t in range(2, 5))
    # frame 0 of another video starts afresh, as on a fresh model
    first = online_scores(model, [frame_data(8, 0)])
    model.test_state.reset()
    assert torch.equal(first[0][1],
                       online_scores(model, [frame_data(8, 0)])[0][1])


def test_training_reaches_the_embedding_flownet_and_every_frame():
    model = build(fgfa_cfg(num_frames=4))
    model.train()
    with torch.no_grad():  # a fresh embedding of zero bias is symmetric
        for param in model.aggregator.parameters():
            param.add_(torch.randn_like(param) * 0.3)
    batch = preprocess(model, packed_clips(1, 3), True)
    inputs = batch['inputs'].clone().requires_grad_(True)
    losses = model.loss(inputs, batch['data_samples'])
    sum(v for k, v in losses.items()
        if 'loss' in k and not isinstance(v, list)).backward()
    assert (inputs.grad.abs().sum(dim=(0, 2, 3, 4)) > 0).all()
    for name in ('motion', 'aggregator'):
        grads = [
            p.grad for p in getattr(model, name).parameters()
            if p.grad is not None
        ]
        assert grads and any(g.abs().sum() > 0 for g in grads), name


def test_training_clips_must_fit_the_window():
    model = build(fgfa_cfg(num_frames=4)).train()
    batch = preprocess(model, packed_clips(1, 3, clip_stride=2), True)
    with pytest.raises(ValueError, match='span 5 frames.*4-frame window'):
        model.loss(**batch)
    # a clip that just fits: its first frame is the window's oldest
    fits = build(fgfa_cfg(num_frames=5)).train()
    losses = fits.loss(
        **preprocess(fits, packed_clips(1, 3, clip_stride=2), True))
    assert torch.isfinite(losses['loss_cls'])


@pytest.mark.parametrize('train_cfg,test_cfg,match', [
    (dict(evidence_drop_prob=0.5), None, 'evidence_drop_prob=0.0'),
    (dict(evidence_drop_prob=0.0), dict(evidence_interval=4),
     'evidence_interval must be 1'),
    (dict(evidence_drop_prob=0.0), dict(
        evidence_interval=4,
        propagate='boxes'), 'evidence_interval must be 1'),
])
def test_frames_without_evidence_are_refused(train_cfg, test_cfg, match):
    cfg = fgfa_cfg()
    cfg.train_cfg = train_cfg
    cfg.test_cfg = test_cfg
    with pytest.raises(ValueError, match=match):
        build(cfg)


def test_memory_step_without_features_is_refused():
    model = build(fgfa_cfg(num_frames=3)).eval()
    image = torch.randn(1, 3, 64, 64)
    state = MemoryState()
    with torch.no_grad():
        model.memory_step(state, image, model.extract_feat(image), 'v', 0)
        before = copy.copy(state.anchor_frame_ids)
        with pytest.raises(
                ValueError,
                match=r'frame 1: CausalFGFAAggregator needs '
                r'image features at every frame'):
            model.memory_step(state, image, None, 'v', 1)
    assert state.anchor_frame_ids == before and state.last_frame_id == 0


def test_given_flows_must_be_those_of_the_memories_it_warps():
    model = build(fgfa_cfg(num_frames=3)).eval()
    images = [torch.randn(1, 3, 64, 64) for _ in range(3)]
    state = MemoryState()
    with torch.no_grad():
        for t in range(2):
            model.memory_step(state, images[t], model.extract_feat(images[t]),
                              'v', t)
        # memories hold frames 0, 1, 0; frame 2 overwrites memory 2 and
        # warps memories 0 and 1: flows to frame 0 and frame 1
        assert model.anchor_flows(state, images[2]).keys() == {0, 1}
        feature = model.extract_feat(images[2])
        flow = model.motion(images[2], images[1])
        with pytest.raises(ValueError, match=r'to warp are at \[0, 1\]'):
            model.memory_step(
                state, images[2], feature, 'v', 2, flows={1: flow})


def chained_model(num_frames=4, seed=3):
    model = perturbed_fgfa(num_frames, seed)
    model.test_cfg['chain_flows'] = True
    return model


def online_memories(model, images, video_id=5):
    """M_t of each image, online, frame ids 0, 1, ..."""
    state = MemoryState()
    memories = []
    with torch.no_grad():
        for t, image in enumerate(images):
            sample = frame_sample(video_id, t, image)
            memories.append(model.online_memory(image, sample, state))
    return memories, state


def frame_sample(video_id, frame_id, image):
    shape = tuple(image.shape[-2:])
    return DetDataSample(
        metainfo=dict(
            video_id=video_id,
            frame_id=frame_id,
            img_shape=shape,
            ori_shape=shape,
            pad_shape=shape,
            scale_factor=(1.0, 1.0)))


def memories_of_chained_flows_by_hand(model, images):
    """M_t of each frame from ``memory_step`` given the flows composed by
    hand, ``D_{t,a} = compose(D_{t,t-1}, D_{t-1,a})``."""
    state, flows, memories = MemoryState(), {}, []
    with torch.no_grad():
        for t, image in enumerate(images):
            flows[t] = {}  # flows[t][a] = D_{t,a}
            if t > 0:
                step = model.motion(image, images[t - 1])
                flows[t] = {
                    a: step if a == t -
                    1 else compose_flows(step, flows[t - 1][a])
                    for a in range(t)
                }
            needed = {
                state.anchor_frame_ids[k]
                for k in model.warped_memories(state)
            }
            memories.append(
                model.memory_step(
                    state,
                    image,
                    model.extract_feat(image),
                    5,
                    t,
                    flows={a: flows[t][a]
                           for a in needed}))
    return memories


def test_chained_flows_are_the_composed_flows_of_consecutive_frames():
    """Cau. FGFA*: D_{t,a} = compose(D_{t,t-1}, D_{t-1,a}), one FlowNet
    call a frame; the memories are those of the composed flows."""
    model = chained_model(num_frames=4)
    images = [torch.randn(1, 3, 64, 64) for _ in range(7)]
    calls = []
    model.motion.register_forward_hook(lambda *_: calls.append(1))
    chained, state = online_memories(model, images)
    assert len(calls) == 6  # one flow a frame after the first
    assert sorted(state.previous_flows) == [3, 4, 5]
    for t, memory in enumerate(
            memories_of_chained_flows_by_hand(model, images)):
        assert torch.allclose(chained[t], memory, atol=1e-5), t
    # chaining is not FlowNet's own flow to the anchor
    plain, _ = online_memories(perturbed_fgfa(4, seed=3), images)
    assert not torch.allclose(plain[6], chained[6], atol=1e-4)


def test_chained_flows_reach_clocknet_s_older_anchors():
    """ClockNet (1, 4, 8) with chained flows: its stride-4 and stride-8
    memories are warped with flows composed frame by frame."""
    cfg = tiny_cfg(
        type='ClockNetAggregator',
        strides=(1, 4, 8),
        memnet=dict(type='MemNetAggregator', in_channels=64, mode='average'))
    model = build(cfg).eval()
    model.test_cfg['chain_flows'] = True
    images = [torch.randn(1, 3, 64, 64) for _ in range(10)]
    chained, _ = online_memories(model, images)
    for t, memory in enumerate(
            memories_of_chained_flows_by_hand(model, images)):
        assert torch.allclose(chained[t], memory, atol=1e-5), t


def test_chained_flows_compose_on_the_warp_s_cached_image_grid(monkeypatch):
    """Composing the flows samples on the image's grid from the warp
    neck's cache: built once (with the feature map's), not per frame, and
    the memories are those of flows composed on grids built per call."""
    model = chained_model(num_frames=4)
    images = [torch.randn(1, 3, 64, 64) for _ in range(7)]
    by_hand = memories_of_chained_flows_by_hand(model, images)
    model.warp.grid_cache.clear()
    built = grid_builds(monkeypatch)
    chained, _ = online_memories(model, images)
    assert len(built) == 2 and (64, 64) in built
    for t, (memory, memory1) in enumerate(zip(by_hand, chained)):
        assert torch.equal(memory, memory1), t


def test_chained_flows_change_nothing_for_memnet():
    """MemNet's only anchor is the last frame: its flow is FlowNet's."""
    cfg = tiny_cfg()
    model = build(cfg).eval()
    chained = build(cfg).eval()
    chained.load_state_dict(model.state_dict())
    chained.test_cfg['chain_flows'] = True
    images = [torch.randn(1, 3, 64, 64) for _ in range(4)]
    for a, b in zip(
            online_memories(model, images)[0],
            online_memories(chained, images)[0]):
        assert torch.equal(a, b)


def test_chained_flows_restart_with_the_video():
    model = chained_model(num_frames=3)
    images = [torch.randn(1, 3, 64, 64) for _ in range(3)]
    _, state = online_memories(model, images)
    assert state.previous_img is not None and state.previous_flows
    with torch.no_grad():
        model.online_memory(images[0], frame_sample(6, 0, images[0]), state)
    # a new video: only its first frame's image, no flows to chain
    assert state.previous_flows == {}
    assert torch.equal(state.previous_img, images[0])


@pytest.mark.parametrize('test_cfg,error', [
    (dict(chain_flows=True, evidence_interval=4), ValueError),
    (dict(chain_flows=1), TypeError),
])
def test_chain_flows_settings_are_checked(test_cfg, error):
    cfg = tiny_cfg()
    cfg.test_cfg = test_cfg
    with pytest.raises(error, match='chain_flows'):
        build(cfg)


def test_each_split_half_chains_its_own_flows():
    """With split_halves each half's state keeps its own last image and
    flows, and each half's memory is the one of its own chained flows."""
    model = chained_model(num_frames=3)
    model.test_cfg['split_halves'] = True
    state = model.new_online_state()
    with torch.no_grad():
        for t in range(4):
            image, sample = frame_inputs(model, t, size=(64, 128))
            model.predict_frame(image, sample, state)
    for half, cols in ((state.left, slice(0,
                                          64)), (state.right, slice(64, 128))):
        assert torch.equal(half.previous_img, image[..., cols])
        assert sorted(half.previous_flows) == [1, 2]
    assert not torch.equal(state.left.previous_flows[2],
                           state.right.previous_flows[2])


def window_model(kind):
    """The models of the no-sync tests: causal FGFA, Cau. FGFA* (chained
    flows) and ClockNet (1, 4, 8) with chained flows, FlowNet at half
    resolution (the paper's: its flow is resized)."""
    if kind == 'clocknet-chained':
        cfg = tiny_cfg(
            type='ClockNetAggregator',
            strides=(1, 4, 8),
            memnet=dict(
                type='MemNetAggregator', in_channels=64, mode='average'))
    else:
        cfg = fgfa_cfg(num_frames=4)
    cfg.motion.img_scale_factor = 0.5
    cfg.test_cfg = dict(chain_flows=kind.endswith('chained'))
    return build(cfg).eval()


WINDOW_MODELS = ['fgfa', 'fgfa-chained', 'clocknet-chained']


@pytest.mark.parametrize('kind', WINDOW_MODELS)
def test_online_memory_has_no_syncing_op(kind):
    """The flows (chained or not), the finite guard, the warps and the
    embedding weighting of an online frame run no op that would wait for
    a CUDA device; the finite check is left to the caller."""
    model = window_model(kind)
    state = MemoryState()
    with torch.no_grad():
        for t in range(9):
            image, sample = frame_inputs(model, t)
            with SyncingOpRecorder() as recorder:
                _, pending = model.online_memory_unchecked(
                    image, sample, state)
            assert recorder.ops == [], t
            model.check_pending_flows(pending, state)
    assert state.frame_index == 9


@pytest.mark.parametrize('kind', WINDOW_MODELS)
def test_cuda_online_memory_does_not_synchronise(kind, cuda_device):
    """The CUDA twin: torch's sync debug mode raises on any synchronising
    call of the frame's memory."""
    model = window_model(kind).to(cuda_device)
    state = MemoryState()
    with torch.no_grad():
        for t in range(9):
            image, sample = frame_inputs(model, t)
            image = image.to(cuda_device)
            torch.cuda.synchronize(cuda_device)
            torch.cuda.set_sync_debug_mode('error')
            try:
                _, pending = model.online_memory_unchecked(
                    image, sample, state)
            finally:
                torch.cuda.set_sync_debug_mode('default')
            model.check_pending_flows(pending, state)
    assert state.frame_index == 9


@pytest.mark.parametrize('chain_flows', [False, True])
def test_cuda_online_causal_fgfa_matches_cpu(chain_flows, cuda_device):
    """Causal FGFA (and Cau. FGFA*) give the CPU's memories on CUDA, and
    keep their chained state there."""
    model = chained_model(4) if chain_flows else perturbed_fgfa(4, seed=3)
    model_gpu = copy.deepcopy(model).to(cuda_device)
    images = [torch.randn(1, 3, 64, 64) for _ in range(9)]
    on_cpu, cpu_state = online_memories(model, images)
    on_gpu, gpu_state = online_memories(
        model_gpu, [image.to(cuda_device) for image in images])
    for t, (cpu_memory, gpu_memory) in enumerate(zip(on_cpu, on_gpu)):
        assert gpu_memory.device.type == 'cuda'
        scale = cpu_memory.abs().max()
        assert (gpu_memory.cpu() - cpu_memory).abs().max() <= 1e-4 * scale, t
    assert gpu_state.anchor_frame_ids == cpu_state.anchor_frame_ids
    if chain_flows:
        assert gpu_state.previous_img.device.type == 'cuda'
        assert sorted(gpu_state.previous_flows) == [5, 6, 7]
        assert all(flow.device.type == 'cuda'
                   for flow in gpu_state.previous_flows.values())
