# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/misc/pretrain_flownet_synthvid.py trains a loadable FlowNet."""
import json
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

from . import REPO_ROOT, load_tool

MEMNET_CFG = osp.join(
    REPO_ROOT,
    'configs/memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')


def _write_settings(data_root, num_frames: int) -> None:
    """A SynthVID ``synthvid.json`` of 1 + 1 videos at 64x48."""
    (data_root / 'synthvid.json').write_text(
        json.dumps(
            dict(
                num_train_videos=1,
                num_val_videos=1,
                num_frames=num_frames,
                width=64,
                height=48,
                seed=0)))


def test_pretrained_flownet_loads_into_the_memory_config(tmp_path):
    tool = load_tool('tools/misc/pretrain_flownet_synthvid.py')
    data_root = tmp_path / 'synthvid'
    data_root.mkdir()
    _write_settings(data_root, num_frames=5)
    out = str(tmp_path / 'flownet' / 'flownet.pth')
    results = tool.main([
        MEMNET_CFG, '--out', out, '--data-root',
        str(data_root), '--num-videos', '2', '--iters', '3', '--batch-size',
        '2', '--max-gap', '2', '--val-pairs', '4', '--seed', '3'
    ])
    assert results['iters'] == 3 and results['pairs'] == 4
    assert results['seed'] == 3  # run_demo.py keeps a checkpoint by it
    for key in ('epe', 'zero_flow_epe', 'moving_epe', 'moving_zero_flow_epe'):
        assert results[key] >= 0
    with open(osp.splitext(out)[0] + '.json') as f:
        assert json.load(f)['epe'] == pytest.approx(results['epe'])
    # The config's init_cfg loads it into the detector's FlowNet.
    cfg = Config.fromfile(MEMNET_CFG)
    cfg.model.motion.init_cfg.checkpoint = out
    cfg.model.detector.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.motion.init_weights()
    saved = torch.load(out, map_location='cpu')['state_dict']
    assert saved.keys() == model.motion.state_dict().keys()
    for key, value in model.motion.state_dict().items():
        assert torch.equal(value, saved[key]), key
    assert any(v.abs().sum() > 0 for k, v in saved.items()
               if k.startswith('predict_flow'))


def missing_settings_message(data_root) -> str:
    return (f'{data_root}/synthvid.json not found: generate SynthVID first '
            '(python tools/misc/gen_synthvid.py --out DATA_ROOT); the '
            'SynthVID root is set with --data-root (default: the config\'s '
            'test_dataloader.dataset.data_root)')


def test_missing_synthvid_settings_are_named(tmp_path):
    tool = load_tool('tools/misc/pretrain_flownet_synthvid.py')
    with pytest.raises(FileNotFoundError) as err:
        tool.main([
            MEMNET_CFG, '--out',
            str(tmp_path / 'f.pth'), '--data-root',
            str(tmp_path)
        ])
    assert str(err.value) == missing_settings_message(tmp_path)


def test_the_data_root_defaults_to_the_config_s(tmp_path):
    """Without --data-root the test dataloader's data_root is read (it
    was data/synthvid, whatever the config said); --data-root wins."""
    tool = load_tool('tools/misc/pretrain_flownet_synthvid.py')
    data_root = tmp_path / 'synthvid'
    data_root.mkdir()
    _write_settings(data_root, num_frames=5)
    args = [
        MEMNET_CFG, '--out',
        str(tmp_path / 'f.pth'), '--num-videos', '2', '--iters', '1',
        '--batch-size', '2', '--max-gap', '2', '--val-pairs', '2'
    ]
    in_config = [
        '--cfg-options', f'test_dataloader.dataset.data_root='
        f'{data_root}/'
    ]
    assert tool.main(args + in_config)['iters'] == 1
    with pytest.raises(FileNotFoundError) as err:
        tool.main(args + ['--data-root', str(tmp_path)] + in_config)
    assert str(err.value) == missing_settings_message(tmp_path)
    missing = tmp_path / 'none'
    with pytest.raises(FileNotFoundError) as err:
        tool.main(args + [
            '--cfg-options', 'test_dataloader.dataset.'
            f'data_root={missing}/'
        ])
    assert str(err.value) == missing_settings_message(missing)


def test_too_few_pairs_for_a_batch(tmp_path):
    tool = load_tool('tools/misc/pretrain_flownet_synthvid.py')
    _write_settings(tmp_path, num_frames=3)
    with pytest.raises(ValueError, match='--num-videos'):
        tool.main([
            MEMNET_CFG, '--out',
            str(tmp_path / 'f.pth'), '--data-root',
            str(tmp_path), '--num-videos', '1', '--batch-size', '8'
        ])


def test_balanced_pixel_weight():
    tool = load_tool('tools/misc/pretrain_flownet_synthvid.py')
    mask = torch.zeros(2, 4, 5, dtype=torch.bool)
    mask[0, :1, :2] = True  # 2 of 20 pixels on an object
    weight = tool.balanced_pixel_weight(mask)
    assert weight.shape == (2, 1, 4, 5)
    # objects and background each sum to half the pixel count
    assert weight[0, 0][mask[0]].sum().item() == pytest.approx(10.0)
    assert weight[0, 0][~mask[0]].sum().item() == pytest.approx(10.0)
    assert torch.equal(weight[1], torch.ones(1, 4, 5))  # no object


@pytest.mark.parametrize('iters', ['0', '-1'])
def test_no_training_iteration_is_refused(tmp_path, iters):
    """It would write an untrained FlowNet as a pre-trained one."""
    tool = load_tool('tools/misc/pretrain_flownet_synthvid.py')
    _write_settings(tmp_path, num_frames=3)
    with pytest.raises(ValueError, match=f'--iters must be >= 1, got {iters}'):
        tool.main([
            MEMNET_CFG, '--out',
            str(tmp_path / 'f.pth'), '--data-root',
            str(tmp_path), '--iters', iters
        ])
    assert not (tmp_path / 'f.pth').exists()


@pytest.mark.parametrize(
    'out,message',
    [
        # the report of --out ROOT/synthvid.pth replaced the settings the
        # run had just read, and left the root unusable
        ('synthvid/synthvid.pth', r'the report of --out .*synthvid.pth, '
         r'.*synthvid/synthvid.json is the SynthVID settings'),
        ('synthvid/synthvid.json', r'--out .*synthvid.json: the report is '
         r'written beside the checkpoint as .*synthvid.json, which would '
         r'replace the checkpoint'),
        # the report replaced the checkpoint just saved
        ('flow.json', r'--out .*flow.json: the report is written beside the '
         'checkpoint'),
    ])
def test_an_output_over_an_input_is_refused_before_training(
        tmp_path, out, message):
    tool = load_tool('tools/misc/pretrain_flownet_synthvid.py')
    data_root = tmp_path / 'synthvid'
    data_root.mkdir()
    _write_settings(data_root, num_frames=5)
    settings = (data_root / 'synthvid.json').read_text()
    with pytest.raises(ValueError, match=message):
        tool.main([
            MEMNET_CFG, '--out',
            str(tmp_path / out), '--data-root',
            str(data_root), '--num-videos', '2', '--iters', '1'
        ])
    assert (data_root / 'synthvid.json').read_text() == settings
    assert not osp.exists(tmp_path / 'flow.json')
