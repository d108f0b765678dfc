# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/analysis_tools/flow_epe_synthvid.py scores a FlowNet's weights."""
import json
import os.path as osp

import pytest
import torch

from memvid_mm.datasets import DEGRADATIONS
from memvid_mm.models.motion import FlowNetSimple
from . import REPO_ROOT, load_tool

CLOCKNET_CFG = osp.join(
    REPO_ROOT,
    'configs/clocknet/clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')


@pytest.fixture
def data_root(tmp_path):
    """SynthVID settings of 1 + 1 videos of 6 frames at 64x48."""
    root = tmp_path / 'synthvid'
    root.mkdir()
    (root / 'synthvid.json').write_text(
        json.dumps(
            dict(
                num_train_videos=1,
                num_val_videos=1,
                num_frames=6,
                width=64,
                height=48,
                seed=0)))
    return str(root)


def test_flownet_and_memory_model_checkpoints_score_alike(tmp_path, data_root):
    tool = load_tool('tools/analysis_tools/flow_epe_synthvid.py')
    torch.manual_seed(0)
    flownet = FlowNetSimple(
        img_scale_factor=1.0, width_divisor=8, img_contrast_std=0.25)
    flownet_file = str(tmp_path / 'flownet.pth')
    torch.save(dict(state_dict=flownet.state_dict()), flownet_file)
    detector_file = str(tmp_path / 'epoch_3.pth')
    torch.save(
        dict(
            state_dict={
                **{f'motion.{k}': v
                   for k, v in flownet.state_dict().items()}, 'detector.x':
                torch.zeros(1)
            }), detector_file)
    out = str(tmp_path / 'report' / 'epe.json')
    common = ['--data-root', data_root, '--max-gap', '2', '--val-pairs', '4']
    report = tool.main([CLOCKNET_CFG, flownet_file, *common, '--out', out])
    assert report['pairs'] == 4 and report['max_gap'] == 2
    by_kind = report['moving_epe_by_degradation']
    assert set(by_kind) <= {'none', *DEGRADATIONS}
    assert sum(k['pixels'] for k in by_kind.values()) > 0
    with open(out) as f:
        assert json.load(f)['epe'] == pytest.approx(report['epe'])
    # without --data-root, the test dataloader's data_root
    from_detector = tool.main([
        CLOCKNET_CFG, detector_file, *common[2:], '--cfg-options',
        f'test_dataloader.dataset.data_root={data_root}'
    ])
    assert from_detector['epe'] == pytest.approx(report['epe'])
    assert from_detector['moving_epe'] == pytest.approx(report['moving_epe'])


def test_a_checkpoint_that_does_not_fit_is_named(tmp_path, data_root):
    tool = load_tool('tools/analysis_tools/flow_epe_synthvid.py')
    wrong = str(tmp_path / 'wider.pth')
    torch.save(
        dict(state_dict=FlowNetSimple(width_divisor=4).state_dict()), wrong)
    with pytest.raises(ValueError, match='wider.pth does not fit'):
        tool.main([CLOCKNET_CFG, wrong, '--data-root', data_root])


def test_a_detector_checkpoint_without_flownet_is_named(tmp_path, data_root):
    tool = load_tool('tools/analysis_tools/flow_epe_synthvid.py')
    per_frame = str(tmp_path / 'rfcn.pth')
    torch.save(dict(state_dict={'detector.w': torch.zeros(1)}), per_frame)
    with pytest.raises(
            ValueError,
            match='rfcn.pth holds no FlowNet weights: no motion.* keys, but '
            'detector.* ones'):
        tool.main([CLOCKNET_CFG, per_frame, '--data-root', data_root])


def test_a_missing_data_root_is_named(tmp_path):
    tool = load_tool('tools/analysis_tools/flow_epe_synthvid.py')
    with pytest.raises(FileNotFoundError) as err:
        tool.main([
            CLOCKNET_CFG,
            str(tmp_path / 'flownet.pth'), '--cfg-options',
            f'test_dataloader.dataset.data_root={tmp_path}/'
        ])
    assert str(err.value) == (
        f'{tmp_path}/synthvid.json not found: generate SynthVID first '
        '(python tools/misc/gen_synthvid.py --out DATA_ROOT); the SynthVID '
        "root is set with --data-root (default: the config's "
        'test_dataloader.dataset.data_root)')


def test_report_without_moving_pixels_prints_nan():
    # flow_epe_report gives nan (not a perfect-looking 0.0) when no scored
    # pair has a moving object; the table must show it, not crash
    tool = load_tool('tools/analysis_tools/flow_epe_synthvid.py')
    nan = float('nan')
    table = tool.format_report(
        dict(
            epe=1.0,
            zero_flow_epe=2.0,
            moving_epe=nan,
            moving_zero_flow_epe=nan,
            pairs=1,
            moving_epe_by_degradation={}))
    assert table.splitlines()[-1] == '| all | nan | nan | |'
