# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
from mmdet.registry import MODELS

from memvid_mm.models.aggregators import (ClockNetAggregator, MemNetAggregator,
                                          clocknet_reference, combine_memories,
                                          takes_evidence,
                                          weighted_combine_memories)
from memvid_mm.models.aggregators.clocknet import memories_without_clip_updates
from memvid_mm.models.layers import flow_warp
from memvid_mm.models.motion import FlowNetSimple

# frame_index -> which of the memories with strides (1, 4, 8) take evidence
SCHEDULE_1_4_8 = [
    [True, True, True],  # 0: first frame, every memory = F_0
    [True, False, False],
    [True, False, False],
    [True, False, False],
    [True, True, False],  # 4
    [True, False, False],
    [True, False, False],
    [True, False, False],
    [True, True, True],  # 8
    [True, False, False],
]
# frame t -> anchors the memories are warped from (memory k's last
# evidence frame), with strides (1, 4, 8)
ANCHORS_1_4_8 = [
    None, [0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 4, 0], [5, 4, 0],
    [6, 4, 0], [7, 4, 0], [8, 8, 8]
]


def _sequence(num_frames, channels=3, hw=(4, 6), img_hw=(16, 24)):
    features = [torch.randn(1, channels, *hw) for _ in range(num_frames)]
    imgs = [torch.randn(1, 3, *img_hw) for _ in range(num_frames)]
    return features, imgs


def _toy_flow(img_cur, img_prev):
    """A deterministic, non-trivial flow that depends on both images."""
    return (img_cur[:, :2] - img_prev[:, 1:]) * 1.5


def _weighting_memnet(in_channels):
    memnet = MemNetAggregator(in_channels, mode='weighting', hidden_channels=4)
    with torch.no_grad():
        for cnn in (memnet.memory_weight_cnn, memnet.feature_weight_cnn):
            cnn[2].weight.normal_(std=0.5)
    return memnet


def test_takes_evidence_schedule_1_4_8_over_10_frames():
    got = [takes_evidence(t, (1, 4, 8)) for t in range(10)]
    assert got == SCHEDULE_1_4_8
    clocknet = ClockNetAggregator(strides=(1, 4, 8))
    assert [clocknet.takes_evidence(t) for t in range(10)] == SCHEDULE_1_4_8
    with pytest.raises(ValueError, match='frame_index'):
        takes_evidence(-1, (1, ))


def test_combine_memories_is_mean():
    memories = [torch.full((1, 2, 2, 2), v) for v in (1., 2., 6.)]
    assert torch.equal(
        combine_memories(memories), torch.full((1, 2, 2, 2), 3.))
    two_channels = dict(type='MemNetAggregator', in_channels=2)
    assert torch.equal(
        ClockNetAggregator(strides=(1, 2, 4),
                           memnet=two_channels).combine(memories),
        combine_memories(memories))
    with pytest.raises(ValueError, match='expected 2'):
        ClockNetAggregator(
            strides=(1, 2), memnet=two_channels).combine(memories)


@pytest.mark.parametrize('combine', ['average', 'weighting'])
@pytest.mark.parametrize('other', [(2, 4, 6, 8), (1, 1, 6, 8), (1, 4, 1, 1),
                                   (4, 6, 8)])
def test_memories_of_other_shapes_are_refused(combine, other):
    """They would broadcast into a plausible map instead of failing."""
    memories = [torch.randn(1, 4, 6, 8), torch.randn(*other)]
    aggregator = ClockNetAggregator(
        strides=(1, 2),
        memnet=dict(type='MemNetAggregator', in_channels=4),
        combine=combine,
        combine_hidden_channels=2)
    with pytest.raises(ValueError, match=r'one shape, got \[\(1, 4, 6, 8\)'):
        aggregator.combine(memories)
    with pytest.raises(ValueError, match='one shape'):
        combine_memories(memories)


@pytest.mark.parametrize('combine', ['average', 'weighting'])
def test_memories_of_other_channels_are_refused(combine):
    # as many channels as memnet.in_channels: the average would pass any
    # count, the weighting CNNs fail with a bare convolution error
    aggregator = ClockNetAggregator(
        strides=(1, 2),
        memnet=dict(type='MemNetAggregator', in_channels=4),
        combine=combine,
        combine_hidden_channels=2)
    memories = [torch.randn(1, 6, 5, 7) for _ in range(2)]
    with pytest.raises(
            ValueError,
            match=r'^ClockNetAggregator combines '
            r'memories of \(N, 4, h, w\) .*\(1, 6, 5, 7\)'):
        aggregator.combine(memories)
    assert aggregator.combine([m[:, :4]
                               for m in memories]).shape == (1, 4, 5, 7)


def test_memories_are_warped_from_their_anchor_frames():
    """One flow per distinct anchor, from frame t to that anchor."""
    calls = []

    def recording_flow(img_cur, img_prev):
        calls.append((int(img_cur[0, 0, 0, 0]), int(img_prev[0, 0, 0, 0])))
        return torch.zeros(1, 2, 8, 8)

    imgs = [torch.full((1, 3, 8, 8), float(t)) for t in range(10)]
    features = [torch.randn(1, 2, 2, 2) for _ in range(10)]
    clocknet_reference(features, imgs, (1, 4, 8), recording_flow,
                       lambda k, m, f: (m + f) / 2)
    expected = []
    for t in range(1, 10):
        for anchor in dict.fromkeys(ANCHORS_1_4_8[t]):
            expected.append((t, anchor))
    assert calls == expected
    assert max(sum(1 for c in calls if c[0] == t) for t in range(1, 10)) <= 3


def tagged_flow(img_cur, img_anchor):
    """A constant flow whose value names its frames: 100 t + anchor."""
    tag = 100 * img_cur[0, 0, 0, 0] + img_anchor[0, 0, 0, 0]
    return torch.full((1, 2) + tuple(img_cur.shape[-2:]), float(tag))


def test_each_memory_is_warped_with_the_flow_to_its_own_anchor():
    """Memory k at frame t is warped with flow(I_t, I_anchor_k), not with
    another memory's flow."""
    warps = []

    def recording_warp(memory, flow):
        warps.append(int(flow[0, 0, 0, 0]))
        return memory

    imgs = [torch.full((1, 3, 8, 8), float(t)) for t in range(10)]
    features = [torch.randn(1, 2, 2, 2) for _ in range(10)]
    clocknet_reference(features, imgs, (1, 4, 8), tagged_flow, lambda k, m, f:
                       (m + f) / 2, recording_warp)
    assert warps == [
        100 * t + anchor for t in range(1, 10) for anchor in ANCHORS_1_4_8[t]
    ]


def test_outputs_follow_the_clock_hand_worked():
    """Zero flow, F_t = t, averaging: memories update only on their clock."""
    features = [torch.full((1, 1, 2, 2), float(t)) for t in range(6)]
    imgs = [torch.zeros(1, 3, 4, 4)] * 6
    clocknet = ClockNetAggregator(
        strides=(1, 4, 8), memnet=dict(type='MemNetAggregator', in_channels=1))
    outs = clocknet.run_sequence(features, imgs,
                                 lambda a, b: torch.zeros(1, 2, 4, 4))
    # memory values per frame: m0 (stride 1), m1 (stride 4), m2 (stride 8)
    expected = [(0., 0., 0.), (0.5, 0., 0.), (1.25, 0., 0.), (2.125, 0., 0.),
                (3.0625, 2., 0.), (4.03125, 2., 0.)]
    for out, mems in zip(outs, expected):
        assert torch.allclose(out, torch.full((1, 1, 2, 2), sum(mems) / 3))


def test_a_memory_without_evidence_enters_the_output_warped():
    """Hand-worked with a moving scene: memory k enters frame t's output
    warped to t even where it takes no evidence, not as stored at its
    anchor. (Under a zero flow the two are the same map.)

    Strides (1, 2) on a 1 x 4 map; the flow from frame t to anchor a is
    ``dx = t - a`` cells (content moving one cell left per frame), so a
    warp reads ``m[x + t - a]`` (zero beyond the map).
    """
    features = [
        torch.tensor([1., 2., 3., 4.]).view(1, 1, 1, 4),
        torch.zeros(1, 1, 1, 4),
        torch.full((1, 1, 1, 4), 4.)
    ]
    imgs = [torch.full((1, 3, 1, 4), float(t)) for t in range(3)]

    def frames_apart(img_cur, img_anchor):
        dx = img_cur[:, :1] - img_anchor[:, :1]
        return torch.cat((dx, torch.zeros_like(dx)), dim=1)

    clocknet = ClockNetAggregator(
        strides=(1, 2), memnet=dict(type='MemNetAggregator', in_channels=1))
    outs = clocknet.run_sequence(features, imgs, frames_apart)
    # t = 1: both warped by 1 to [2, 3, 4, 0]; memory 0 averages with F_1
    # to [1, 1.5, 2, 0], memory 1 (no evidence) stays [2, 3, 4, 0]
    # t = 2: memory 0 warped by 1 ([1.5, 2, 0, 0]) and memory 1 by 2 from
    # F_0 ([3, 4, 0, 0]), both averaged with F_2 = 4
    expected = [[1., 2., 3., 4.], [1.5, 2.25, 3., 0.], [3.125, 3.5, 2., 2.]]
    for out, values in zip(outs, expected):
        assert torch.equal(out, torch.tensor(values).view(1, 1, 1, 4))


def test_first_frame_memories_equal_features():
    features, imgs = _sequence(1)
    outs = clocknet_reference(features, imgs, (1, 4, 8), _toy_flow,
                              lambda k, m, f: m * 0)
    # every memory is F_0, so their mean is F_0 (up to float rounding of
    # (F + F + F) / 3); psi (here: zeroing) is not applied on frame 0
    assert torch.allclose(outs[0], features[0], rtol=0, atol=1e-6)


def test_single_stride_one_clock_is_memnet():
    features, imgs = _sequence(5)
    memnet = _weighting_memnet(3)
    clocknet = ClockNetAggregator(
        strides=(1, ),
        memnet=dict(
            type='MemNetAggregator',
            in_channels=3,
            mode='weighting',
            hidden_channels=4))
    clocknet.memnets[0].load_state_dict(memnet.state_dict())
    outs = clocknet.run_sequence(features, imgs, _toy_flow)
    memory = features[0]
    expected = [memory]
    for t in range(1, 5):
        warped = flow_warp(memory, _toy_flow(imgs[t], imgs[t - 1]))
        memory = memnet(warped, features[t])
        expected.append(memory)
    assert len(outs) == 5
    for out, exp in zip(outs, expected):
        assert torch.equal(out, exp)


def test_output_is_causal():
    features, imgs = _sequence(6)
    clocknet = ClockNetAggregator(
        strides=(1, 2), memnet=dict(type='MemNetAggregator', in_channels=3))
    outs = clocknet.run_sequence(features, imgs, _toy_flow)
    features2 = features[:3] + [f + 1 for f in features[3:]]
    imgs2 = imgs[:3] + [i * 2 for i in imgs[3:]]
    outs2 = clocknet.run_sequence(features2, imgs2, _toy_flow)
    for t in range(3):
        assert torch.equal(outs[t], outs2[t])
    assert not torch.equal(outs[3], outs2[3])


def test_share_memnet_option():
    cfg = dict(
        type='MemNetAggregator',
        in_channels=3,
        mode='weighting',
        hidden_channels=4)
    shared = MODELS.build(
        dict(type='ClockNetAggregator', strides=(1, 4, 8), memnet=cfg))
    assert isinstance(shared, ClockNetAggregator)
    assert shared.num_memories == 3 and len(shared.memnets) == 1
    separate = ClockNetAggregator((1, 4, 8), memnet=cfg, share_memnet=False)
    assert len(separate.memnets) == 3
    # the modules a benchmark times as psi: the shared one, or each copy
    assert shared.psi_modules() == [shared.memnets[0]]
    assert separate.psi_modules() == list(separate.memnets)
    assert not shared.holds_frame_window
    with torch.no_grad():
        separate.memnets[2].memory_weight_cnn[2].bias.fill_(10.)
    memory, feature = torch.randn(1, 3, 2, 2), torch.randn(1, 3, 2, 2)
    # memory 2 has its own psi (biased to keep the memory), memory 0 not
    assert torch.allclose(
        separate.update(2, memory, feature), memory, atol=1e-3)
    assert torch.allclose(
        separate.update(0, memory, feature), (memory + feature) / 2)
    with pytest.raises(ValueError, match='memory index'):
        separate.update(3, memory, feature)


def test_memories_without_clip_updates():
    # 6-frame clips of stride 1: stride 4 ticks at position 4, stride 8 never
    assert memories_without_clip_updates((1, 4, 8), 6, 1) == [2]
    assert memories_without_clip_updates((1, 4, 8), 9, 1) == []
    # positions 4 frames apart: stride 8 ticks at position 2
    assert memories_without_clip_updates((1, 4, 8), 3, 4) == []
    assert memories_without_clip_updates((4, ), 3, 1) == [0]
    assert memories_without_clip_updates((1, ), 1, 1) == [0]  # one frame


def test_only_an_own_learned_psi_counts_as_untrained():
    learned = dict(
        type='MemNetAggregator',
        in_channels=3,
        mode='weighting',
        hidden_channels=4)
    own = ClockNetAggregator((1, 4, 8), memnet=learned, share_memnet=False)
    assert own.psi_without_clip_updates(6, 1) == [2]
    shared = ClockNetAggregator((1, 4, 8), memnet=learned)
    assert shared.psi_without_clip_updates(6, 1) == []
    averaged = ClockNetAggregator(
        (1, 4, 8),
        memnet=dict(type='MemNetAggregator', in_channels=3, mode='average'),
        share_memnet=False)
    assert averaged.psi_without_clip_updates(6, 1) == []


def test_weighted_combine_memories_hand_worked():
    ones, threes = torch.ones(1, 2, 1, 2), torch.full((1, 2, 1, 2), 3.)
    # pixel 0: equal logits -> mean 2; pixel 1: softmax(log 3, 0) = (3/4,
    # 1/4) -> 3/4 * 1 + 1/4 * 3 = 1.5
    logit_a = torch.tensor([[[[0., float(torch.log(torch.tensor(3.)))]]]])
    logit_b = torch.zeros(1, 1, 1, 2)
    out = weighted_combine_memories([ones, threes], [logit_a, logit_b])
    assert torch.allclose(out, torch.tensor([2., 1.5]).expand(1, 2, 1, 2))
    with pytest.raises(ValueError, match='one logit map per memory'):
        weighted_combine_memories([ones, threes], [logit_a])
    with pytest.raises(ValueError, match=r'\(N, 1, h, w\)'):
        weighted_combine_memories([ones], [torch.zeros(1, 2, 1, 2)])


def test_weighting_combine_starts_as_the_average_and_learns():
    features, imgs = _sequence(9)
    memnet = dict(type='MemNetAggregator', in_channels=3)
    average = ClockNetAggregator((1, 4, 8), memnet=memnet)
    weighting = ClockNetAggregator((1, 4, 8),
                                   memnet=memnet,
                                   combine='weighting',
                                   combine_hidden_channels=4)
    assert len(weighting.combine_cnns) == 3
    assert weighting.combine_cnns[0][0].in_channels == 6  # [M^k, M^r]
    # zero-initialised last convs: exactly the paper's average at first
    for out_w, out_a in zip(
            weighting.run_sequence(features, imgs, _toy_flow),
            average.run_sequence(features, imgs, _toy_flow)):
        assert torch.allclose(out_w, out_a, atol=1e-6)
    # a large bias on memory 2's logit selects memory 2 alone
    memories = [torch.randn(1, 3, 4, 6) for _ in range(3)]
    with torch.no_grad():
        weighting.combine_cnns[2][2].bias.fill_(30.)
    assert torch.allclose(weighting.combine(memories), memories[2])
    # gradients reach the weight CNNs through the output
    weighting.combine(memories).sum().backward()
    assert weighting.combine_cnns[2][2].bias.grad is not None
    with pytest.raises(ValueError, match='combine must be one of'):
        ClockNetAggregator((1, 4), memnet=memnet, combine='max')


def test_weighting_combine_reference_is_the_smallest_stride():
    memnet = dict(type='MemNetAggregator', in_channels=3)
    clocknet = ClockNetAggregator((8, 1, 4),
                                  memnet=memnet,
                                  combine='weighting',
                                  combine_hidden_channels=4)
    assert clocknet.reference_index == 1
    seen = []
    cnn = clocknet.combine_cnns[0]
    cnn.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    memories = [torch.randn(1, 3, 2, 2) for _ in range(3)]
    clocknet.combine(memories)
    assert torch.equal(seen[0], torch.cat((memories[0], memories[1]), 1))


def test_weighting_combine_with_one_memory_is_memnet():
    features, imgs = _sequence(5)
    memnet = dict(type='MemNetAggregator', in_channels=3)
    single = ClockNetAggregator((1, ), memnet=memnet, combine='weighting')
    assert single.combine_cnns is None  # nothing to weigh, no parameters
    plain = ClockNetAggregator((1, ), memnet=memnet)
    for out_s, out_p in zip(
            single.run_sequence(features, imgs, _toy_flow),
            plain.run_sequence(features, imgs, _toy_flow)):
        assert torch.equal(out_s, out_p)


def test_default_memnet_and_bad_strides():
    clocknet = ClockNetAggregator()
    assert clocknet.strides == (1, 4, 8)
    assert clocknet.memnets[0].mode == 'average'
    assert clocknet.memnets[0].in_channels == 1024
    for bad in ((), (1, 0), (1, 2.5), 4, (True, 4), ('1', 4)):
        with pytest.raises(ValueError, match='strides must be'):
            ClockNetAggregator(strides=bad)
    with pytest.raises(
            ValueError,
            match=r'strides must differ from each '
            r'other .* got \(1, 4, 4\)'):
        ClockNetAggregator(strides=(1, 4, 4))
    # a config's string is truthy: it would share psi without a word
    with pytest.raises(
            TypeError, match='share_memnet must be a bool, got '
            "'False'"):
        ClockNetAggregator(share_memnet='False')


@pytest.fixture(scope='module')
def flownet():
    torch.manual_seed(0)
    return FlowNetSimple()


def test_gradients_reach_flownet_and_earlier_features(flownet):
    """Back-propagation through time over a 3-frame recurrence."""
    flownet.zero_grad()
    features = [torch.randn(1, 4, 4, 4, requires_grad=True) for _ in range(3)]
    imgs = [torch.randn(1, 3, 64, 64) for _ in range(3)]
    clocknet = ClockNetAggregator(
        strides=(1, 2),
        memnet=dict(
            type='MemNetAggregator',
            in_channels=4,
            mode='weighting',
            hidden_channels=4))
    outs = clocknet.run_sequence(features, imgs, flownet)
    (outs[-1] * torch.randn_like(outs[-1])).sum().backward()
    assert features[0].grad is not None
    assert features[0].grad.abs().sum() > 0
    assert features[1].grad.abs().sum() > 0
    for name in ('conv1.0.conv.weight', 'conv6.1.conv.weight',
                 'predict_flow.conv.weight'):
        grad = flownet.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_combine_memories_needs_a_memory():
    with pytest.raises(
            ValueError, match='combine_memories needs at least one memory'):
        combine_memories([])


def test_reference_needs_one_image_per_feature():
    features, imgs = _sequence(3)
    with pytest.raises(ValueError, match='got 3 features but 2 images'):
        clocknet_reference(features, imgs[:2], (1, 4), _toy_flow,
                           lambda k, memory, feature: feature)


def test_weighting_combine_with_two_memories_learns_a_weighting():
    """Strides (1, 4) with combine='weighting' build the weight CNNs, not
    a plain mean."""
    memnet = dict(type='MemNetAggregator', in_channels=3)
    clocknet = ClockNetAggregator((1, 4),
                                  memnet=memnet,
                                  combine='weighting',
                                  combine_hidden_channels=4)
    assert clocknet.combine_cnns is not None
    assert len(clocknet.combine_cnns) == 2
    assert clocknet.combine_cnns[1][0].in_channels == 6  # [M^k, M^r]
    memories = [torch.randn(1, 3, 4, 6) for _ in range(2)]
    # zero-initialised last convs: the mean at first
    assert torch.allclose(
        clocknet.combine(memories), (memories[0] + memories[1]) / 2, atol=1e-6)
    # a large bias on memory 1's logit selects memory 1 alone
    with torch.no_grad():
        clocknet.combine_cnns[1][2].bias.fill_(30.)
    assert torch.allclose(clocknet.combine(memories), memories[1])
