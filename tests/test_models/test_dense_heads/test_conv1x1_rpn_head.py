# Copyright (c) memvid_mm contributors. All rights reserved.
import copy
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.structures import InstanceData

from memvid_mm.models.dense_heads import Conv1x1RPNHead

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
#: The R-101 R-FCN of the ImageNet VID configs, whose RPN this head is.
R101 = Config.fromfile(
    osp.join(REPO_ROOT, 'configs', '_base_', 'models',
             'rfcn_r101-dc5.py')).model.detector
PROPOSAL_CFG = ConfigDict(
    nms_pre=200,
    max_per_img=50,
    nms=dict(type='nms', iou_threshold=0.7),
    min_bbox_size=0)


def head_cfg(**kwargs):
    """The R-101 configs' RPN head on 8 channels, 6 anchors a cell."""
    cfg = copy.deepcopy(R101.rpn_head)
    cfg.update(
        in_channels=8, train_cfg=R101.train_cfg.rpn, test_cfg=PROPOSAL_CFG)
    cfg.anchor_generator.scales = [2, 4]
    cfg.update(kwargs)
    return cfg


def test_has_only_the_two_1x1_output_convs():
    head = MODELS.build(head_cfg())
    assert isinstance(head, Conv1x1RPNHead)
    assert not hasattr(head, 'rpn_conv')
    assert head.feat_channels == 8
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    # 6 anchors a cell: 2 scales x 3 ratios
    assert shapes == {
        'rpn_cls.weight': (6, 8, 1, 1),
        'rpn_cls.bias': (6, ),
        'rpn_reg.weight': (24, 8, 1, 1),
        'rpn_reg.bias': (24, ),
    }


def test_outputs_of_a_cell_read_that_cell_only():
    head = MODELS.build(head_cfg())
    head.init_weights()
    x = torch.randn(2, 8, 4, 5)
    scores, deltas = head.forward_single(x)
    assert scores.shape == (2, 6, 4, 5) and deltas.shape == (2, 24, 4, 5)
    changed = x.clone()
    changed[:, :, 1, 2] += 1.0
    new_scores, new_deltas = head.forward_single(changed)
    moved = (new_scores != scores).any(1) | (new_deltas != deltas).any(1)
    expected = torch.zeros(2, 4, 5, dtype=torch.bool)
    expected[:, 1, 2] = True
    assert torch.equal(moved, expected)


def test_losses_and_proposals_are_the_rpns():
    torch.manual_seed(0)
    head = MODELS.build(head_cfg())
    head.init_weights()
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(64, 80), pad_shape=(64, 80), scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[8.0, 8.0, 40.0, 48.0]]),
        labels=torch.zeros(1, dtype=torch.long))
    x = (torch.randn(1, 8, 4, 5, requires_grad=True), )
    losses, proposals = head.loss_and_predict(
        x, [sample], proposal_cfg=PROPOSAL_CFG)
    assert set(losses) == {'loss_rpn_cls', 'loss_rpn_bbox'}
    total = sum(sum(v) for v in losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert head.rpn_cls.weight.grad.abs().sum() > 0
    assert x[0].grad.abs().sum() > 0
    assert proposals[0].bboxes.shape[1] == 4
    assert 0 < len(proposals[0]) <= 50


@pytest.mark.parametrize('kwargs,message', [
    (dict(feat_channels=16), r'feat_channels \(16\) must be in_channels '
     r'\(8\) or left out'),
    (dict(num_convs=1), 'has no 3x3 convolutions: leave num_convs out'),
])
def test_a_conv_it_lacks_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(head_cfg(**kwargs))
