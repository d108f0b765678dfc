# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/train_memory.py: the activations one training step
keeps for backward, per clip length and kept frames."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch import nn

from memvid_mm.models.detectors.memory_rfcn import evidence_keep_mask
from . import REPO_ROOT, load_tool

CLOCKNET_CFG = osp.join(
    REPO_ROOT,
    'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')
CLOCKNET10_CFG = osp.join(
    REPO_ROOT,
    'configs/clocknet/clocknet-10_rfcn_r101-dc5_4xb1-7e_imagenetvid.py')
RFCN_CFG = osp.join(REPO_ROOT,
                    'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py')


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/analysis_tools/train_memory.py')


def test_meter_counts_each_kept_storage_once(tool):
    x = torch.randn(1000, requires_grad=True)
    with tool.SavedTensorMeter() as meter:
        y = x.exp()  # saves its output: 4000 bytes
    assert meter.nbytes == 4000
    with tool.SavedTensorMeter() as meter:
        outputs = [x.sin(), x.cos()]  # both save x itself
        outputs.append(x[:10].sin())  # a view of x: the same storage
    assert meter.nbytes == 4000
    with tool.SavedTensorMeter() as meter:
        doubled = (x * 2).sum()  # saves nothing
    assert meter.nbytes == 0 and doubled.requires_grad
    # the tensors pass through: backward is unchanged, and then the graph
    # keeps nothing
    with tool.SavedTensorMeter() as meter:
        y = x.exp()
    y.sum().backward()
    torch.testing.assert_close(x.grad, x.detach().exp())
    assert meter.nbytes == 0


def test_meter_counts_only_what_the_graph_still_keeps(tool):
    x = torch.randn(1000, requires_grad=True)
    with tool.SavedTensorMeter() as meter:
        kept = x.exp()
        unused = x.exp()  # its graph is freed when the output is
        assert meter.nbytes == 8000
        del unused
        assert meter.nbytes == 4000
        # freed storages, whose addresses later ones may reuse
        for _ in range(20):
            unused = x.exp()
            del unused
        small = x[:10].exp()  # 40 bytes, wherever the allocator puts it
    assert meter.nbytes == 4000 + 40
    assert kept.requires_grad and small.requires_grad


class DroppingModel:
    """Has evidence dropout as MemoryRFCN has it."""

    def __init__(self, drop_prob):
        self.evidence_drop_prob = drop_prob
        self.rng = None


@pytest.mark.parametrize('drop_prob', [0.8, 0.999, 1e-9])
def test_keep_first_frames_fixes_the_next_draw(tool, drop_prob):
    model = DroppingModel(drop_prob)
    assert tool.keep_first_frames(model, 5, 3) == 3
    assert evidence_keep_mask(5, drop_prob,
                              model.rng) == [True] * 3 + [False] * 2
    with pytest.raises(RuntimeError, match='more evidence-dropout values'):
        model.rng.random()
    assert tool.keep_first_frames(model, 4, None) == 4
    assert evidence_keep_mask(4, drop_prob, model.rng) == [True] * 4


def test_keep_first_frames_refuses_what_cannot_be(tool):
    with pytest.raises(ValueError, match='more than the 4 frames'):
        tool.keep_first_frames(DroppingModel(0.8), 4, 5)
    with pytest.raises(ValueError, match='drops no evidence'):
        tool.keep_first_frames(DroppingModel(0.0), 4, 2)
    assert tool.keep_first_frames(DroppingModel(0.0), 4, None) == 4
    with pytest.raises(ValueError, match='has no evidence dropout'):
        tool.keep_first_frames(nn.Linear(1, 1), 4, 2)
    assert tool.keep_first_frames(nn.Linear(1, 1), 4, None) == 4


def test_activations_grow_with_the_clip_and_its_kept_frames(tool):
    args = [CLOCKNET_CFG, '--shape', '48', '80', '--threads', '1']
    rows = tool.main(
        args + ['--frames', '2', '4', '--kept', 'all', '1', '--backward'])
    by_clip = {(row['frames'], row['kept']): row for row in rows}
    assert sorted(by_clip) == [(2, 1), (2, 2), (4, 1), (4, 4)]
    mib = {key: row['activations_mib'] for key, row in by_clip.items()}
    assert 0 < mib[2, 1] < mib[2, 2] < mib[4, 4]
    assert mib[2, 1] < mib[4, 1] < mib[4, 4]
    assert all(row['backward_s'] is not None for row in rows)
    assert all(row['cuda_peak_mib'] is None for row in rows)
    # checkpointing the backbone's blocks keeps less
    checkpointed = tool.main(args + ['--frames', '4', '--with-cp'])
    assert checkpointed[0]['activations_mib'] < mib[4, 4]
    # a per-frame detector: every frame is kept
    per_frame = tool.main([RFCN_CFG, '--shape', '48', '80'])
    assert per_frame[0]['kept'] == 1
    assert 0 < per_frame[0]['activations_mib'] < mib[2, 1]


@pytest.mark.parametrize('argv,message', [
    (['--kept', '0'], "--kept takes numbers of at least 1 or 'all'"),
    (['--kept', 'some'], "--kept takes numbers of at least 1 or 'all'"),
    (['--frames', '0'], '--frames must be at least 1'),
    (['--shape', '16', '80'], '--shape must be at least 32x32'),
    (['--clip-stride', '0'], '--clip-stride must be at least 1'),
])
def test_bad_arguments_are_refused(tool, capsys, argv, message):
    with pytest.raises(SystemExit):
        tool.parse_args([CLOCKNET_CFG] + argv)
    assert message in capsys.readouterr().err


def test_with_cp_needs_a_backbone(tool):
    cfg = Config(dict(model=dict(type='Anything')))
    with pytest.raises(
            ValueError, match='--with-cp needs a model with a '
            'backbone'):
        tool.build_training_model(cfg, True, torch.device('cpu'))


def test_header_tells_a_config_that_checkpoints_itself(tool, capsys):
    rows = tool.main([CLOCKNET10_CFG, '--shape', '64', '64', '--frames', '2'])
    assert 'backbone checkpointing on' in capsys.readouterr().out
    assert rows[0]['kept'] == 2 and rows[0]['activations_mib'] > 0


def test_warp_sampler_is_set_and_named(tool, capsys):
    args = [
        CLOCKNET_CFG, '--shape', '96', '160', '--frames', '4', '--kept', '1',
        '--warp-sampler'
    ]
    gather = tool.main(args + ['gather'])[0]
    assert 'warp sampler gather, cpu' in capsys.readouterr().out
    grid_sample = tool.main(args + ['grid_sample'])[0]
    assert 'warp sampler grid_sample, cpu' in capsys.readouterr().out
    # the two samplers save different tensors for backward
    assert gather['activations_mib'] != grid_sample['activations_mib']
    # the same row again: the same images, RoIs and bytes
    assert tool.main(
        args + ['gather'])[0]['activations_mib'] == gather['activations_mib']
    tool.main([RFCN_CFG, '--shape', '48', '80'])
    assert 'warp sampler none (per-frame)' in capsys.readouterr().out
    with pytest.raises(
            ValueError, match='--warp-sampler needs a memory '
            'model'):
        tool.main([RFCN_CFG, '--warp-sampler', 'gather'])


def test_on_cuda_the_same_activations_and_the_peak(tool, cuda_device):
    # the sampler CUDA's 'auto' picks, on both devices
    args = [
        CLOCKNET_CFG, '--shape', '48', '80', '--frames', '3', '--kept', 'all',
        '--backward', '--warp-sampler', 'grid_sample'
    ]
    on_cpu = tool.main(args)[0]
    on_cuda = tool.main(args + ['--device', str(cuda_device)])[0]
    # the same saved tensors, up to the RoIs the random boxes give
    assert on_cuda['activations_mib'] == pytest.approx(
        on_cpu['activations_mib'], rel=0.1)
    # the peak holds the activations and the parameters besides
    assert on_cuda['cuda_peak_mib'] > on_cuda['activations_mib']


@pytest.mark.parametrize(
    'config', [CLOCKNET_CFG, CLOCKNET10_CFG], ids=['tiny', 'r101-10-frames'])
def test_checkpointing_the_backbone_changes_no_gradient(tool, config):
    # One thread: with two, oneDNN's conv backward is not bit-reproducible
    # from run to run on the CPU (FlowNet's conv6_1 on its 1x1 map gives an
    # input gradient off in its last bits on the first call of a process),
    # so two plain runs may already differ. On one thread each run is
    # reproduced bit for bit, and any difference left is checkpointing's.
    # (``keep_torch_threads`` restores the thread count.)
    torch.set_num_threads(1)
    grads, losses = [], []
    for with_cp in (False, True):
        cfg = Config.fromfile(config)
        cfg.model.detector.backbone.with_cp = with_cp
        model = tool.build_training_model(cfg, False, torch.device('cpu'))
        tool.keep_first_frames(model, 4, 3)
        torch.manual_seed(1)
        inputs, samples = tool.make_clip(4, (64, 96), 1, torch.device('cpu'),
                                         16)
        torch.manual_seed(2)  # the same proposals sampled
        loss, _ = model.parse_losses(model.loss(inputs, samples))
        loss.backward()
        losses.append(loss.item())
        grads.append({
            name: param.grad
            for name, param in model.named_parameters()
            if param.grad is not None
        })
    assert losses[0] == losses[1]
    plain, checkpointed = grads
    assert plain.keys() == checkpointed.keys()
    assert any(name.startswith('detector.backbone.layer4') for name in plain)
    for name in plain:
        torch.testing.assert_close(
            checkpointed[name], plain[name], rtol=0, atol=0, msg=name)


def test_clip_is_zero_padded_as_the_data_preprocessor_pads(tool, capsys):
    # 60x100 is no multiple of pad_size_divisor 16: the clip is 64x112
    rows = tool.main([CLOCKNET_CFG, '--shape', '60', '100', '--frames', '2'])
    assert 'input 60x100 (zero-padded to 64x112)' in capsys.readouterr().out
    assert rows[0]['activations_mib'] > 0
    inputs, samples = tool.make_clip(2, (60, 100), 1, torch.device('cpu'), 16)
    assert inputs.shape == (1, 2, 3, 64, 112)
    assert not inputs[..., 60:, :].any() and not inputs[..., 100:].any()
    for sample in samples[0].video_data_samples:
        assert sample.img_shape == (60, 100)
        assert sample.batch_input_shape == (64, 112)
