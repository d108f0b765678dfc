# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from memvid_mm.models.aggregators import CausalFGFAAggregator, cosine_weights


def build(**kwargs) -> CausalFGFAAggregator:
    return MODELS.build(dict(type='CausalFGFAAggregator', **kwargs))


def test_each_frame_overwrites_the_memory_of_its_residue():
    fgfa = build(
        in_channels=4,
        num_frames=4,
        embed_channels=(4, ),
        embed_kernel_sizes=(3, ))
    assert fgfa.num_memories == 4 and fgfa.strides == (4, 4, 4, 4)
    assert fgfa.takes_evidence(0) == [True] * 4
    assert fgfa.overwritten_memories(0) == [0, 1, 2, 3]
    for t in range(1, 12):
        flags = fgfa.takes_evidence(t)
        assert flags == [k == t % 4 for k in range(4)], t
        assert fgfa.overwritten_memories(t) == [t % 4]
    assert fgfa.psi_without_clip_updates(3, 1) == []
    # a sliding window of frames, with no psi to time
    assert fgfa.holds_frame_window and fgfa.psi_modules() == []
    with pytest.raises(ValueError, match='frame_index'):
        fgfa.takes_evidence(-1)


def test_update_takes_the_features_unread_memory_or_not():
    fgfa = build(in_channels=4, num_frames=3)
    feature = torch.randn(2, 4, 5, 6)
    assert fgfa.update(1, None, feature) is feature
    assert fgfa.update(2, torch.randn(2, 4, 5, 6), feature) is feature
    with pytest.raises(ValueError, match='memory index'):
        fgfa.update(3, None, feature)
    with pytest.raises(ValueError, match=r'\(N, 4, h, w\)'):
        fgfa.update(0, None, torch.randn(2, 5, 5, 6))


def fgfa_by_hand(fgfa, memories, newest):
    """The FGFA formula pixel by pixel: embed, cosine, softmax, sum."""
    embeddings = []
    for memory in memories:
        x = memory
        for i, module in enumerate(fgfa.embed_convs):
            conv = module.conv
            x = F.conv2d(
                x, conv.weight, conv.bias, padding=conv.kernel_size[0] // 2)
            if i < len(fgfa.embed_convs) - 1:
                x = x.clamp(min=0)
        embeddings.append(x)
    n, c, h, w = memories[0].shape
    out = torch.zeros(n, c, h, w, dtype=torch.float64)
    for b in range(n):
        for y in range(h):
            for x in range(w):
                ref = embeddings[newest][b, :, y, x].double()
                cos = torch.stack([
                    torch.dot(e[b, :, y, x].double(), ref) /
                    (e[b, :, y, x].double().norm() * ref.norm())
                    for e in embeddings
                ])
                weights = cos.exp() / cos.exp().sum()
                for k, memory in enumerate(memories):
                    out[b, :, y, x] += weights[k] * memory[b, :, y, x]
    return out.float()


@pytest.mark.parametrize('embedding,newest,num_memories', [
    (dict(embed_channels=(6, ), embed_kernel_sizes=(3, )), 0, 3),
    (dict(embed_channels=(3, 3, 12), embed_kernel_sizes=(1, 3, 1)), 2, 3),
    (dict(embed_channels=(3, 3, 12), embed_kernel_sizes=(1, 3, 1)), 1, 2),
])
def test_combine_is_fgfa_s_embedding_weighting(embedding, newest,
                                               num_memories):
    torch.manual_seed(newest)
    fgfa = build(in_channels=6, num_frames=3, **embedding)
    with torch.no_grad():  # biases off zero: no embedding of zero length
        for param in fgfa.parameters():
            param.add_(torch.randn_like(param) * 0.5)
    memories = [torch.randn(2, 6, 4, 5) for _ in range(num_memories)]
    out = fgfa.combine(memories, newest=newest)
    assert out.shape == (2, 6, 4, 5)
    assert torch.allclose(out, fgfa_by_hand(fgfa, memories, newest), atol=1e-5)


def test_the_default_embedding_is_fgfa_s():
    """FGFA: 1x1 to 512, 3x3 to 512, 1x1 to 2048, ReLUs between."""
    fgfa = build(in_channels=1024)
    shapes = [tuple(m.conv.weight.shape) for m in fgfa.embed_convs]
    assert shapes == [(512, 1024, 1, 1), (512, 512, 3, 3), (2048, 512, 1, 1)]
    assert [m.with_activation for m in fgfa.embed_convs] == [True, True, False]


def test_the_newest_memory_weighs_at_least_as_much_as_any_other():
    torch.manual_seed(0)
    embeddings = [torch.randn(1, 8, 3, 3) for _ in range(4)]
    weights = cosine_weights(embeddings, embeddings[2])
    assert weights.shape == (1, 4, 3, 3)
    assert torch.allclose(weights.sum(dim=1), torch.ones(1, 3, 3))
    assert (weights[:, 2:3] >= weights - 1e-7).all()
    same = cosine_weights([embeddings[0]] * 3, embeddings[0])
    assert torch.allclose(same, torch.full_like(same, 1 / 3))


def test_equal_memories_combine_to_themselves():
    fgfa = build(in_channels=4, num_frames=5, embed_channels=(4, 4, 8))
    memory = torch.randn(1, 4, 3, 7)
    assert torch.allclose(
        fgfa.combine([memory] * 5, newest=3), memory, atol=1e-6)


def test_gradients_reach_the_embedding_and_every_memory():
    fgfa = build(
        in_channels=4,
        num_frames=3,
        embed_channels=(4, ),
        embed_kernel_sizes=(3, ))
    memories = [torch.randn(1, 4, 3, 3, requires_grad=True) for _ in range(3)]
    fgfa.combine(memories, newest=1).square().sum().backward()
    assert all(m.grad.abs().sum() > 0 for m in memories)
    assert fgfa.embed_convs[0].conv.weight.grad.abs().sum() > 0


def test_parameter_names_are_mmtrack_embed_aggregator_s():
    """mmtrack's EmbedAggregator(num_convs=2, channels=C, kernel_size=3)
    (its source): ConvModules ``embed_convs.{i}`` with a ``conv`` each, no
    norm, a ReLU after all but the last."""
    fgfa = build(
        in_channels=8,
        num_frames=3,
        embed_channels=(8, 8),
        embed_kernel_sizes=(3, 3))
    mmtrack_state = {
        f'embed_convs.{i}.conv.{name}': torch.randn(shape)
        for i in range(2)
        for name, shape in (('weight', (8, 8, 3, 3)), ('bias', (8, )))
    }
    fgfa.load_state_dict(mmtrack_state, strict=True)
    assert torch.equal(fgfa.embed_convs[1].conv.bias,
                       mmtrack_state['embed_convs.1.conv.bias'])
    assert [m.with_activation for m in fgfa.embed_convs] == [True, False]


def test_combine_refuses_wrong_inputs():
    fgfa = build(
        in_channels=4,
        num_frames=3,
        embed_channels=(4, ),
        embed_kernel_sizes=(3, ))
    memory = torch.randn(1, 4, 3, 3)
    with pytest.raises(ValueError, match='1 to 3 memories'):
        fgfa.combine([memory] * 4, newest=0)
    with pytest.raises(ValueError, match='1 to 3 memories'):
        fgfa.combine([], newest=0)
    with pytest.raises(ValueError, match='newest'):
        fgfa.combine([memory] * 2, newest=2)
    with pytest.raises(ValueError, match='one shape'):
        fgfa.combine([memory, memory, torch.randn(2, 4, 3, 3)], newest=0)
    with pytest.raises(ValueError, match=r'\(N, 4, h, w\)'):
        fgfa.combine([torch.randn(1, 5, 3, 3)] * 3, newest=0)


@pytest.mark.parametrize('kwargs,match', [
    (dict(in_channels=0), 'in_channels'),
    (dict(in_channels=4, num_frames=1), 'num_frames'),
    (dict(in_channels=4, num_frames=True), 'num_frames'),
    (dict(in_channels=4, embed_channels=()), 'non-empty'),
    (dict(in_channels=4, embed_channels=(4, 4)), 'one length'),
    (dict(in_channels=4, embed_channels=(0, 4, 4)), 'embed_channels'),
    (dict(in_channels=4, embed_kernel_sizes=(1, 2, 1)), 'odd'),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)
