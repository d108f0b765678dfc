# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from memvid_mm.models.dense_heads import Conv1x1RPNHead

TRAIN_CFG = ConfigDict(
    assigner=dict(
        type='MaxIoUAssigner',
        pos_iou_thr=0.7,
        neg_iou_thr=0.3,
        min_pos_iou=0.3,
        match_low_quality=True,
        ignore_iof_thr=-1),
    sampler=dict(
        type='RandomSampler',
        num=64,
        pos_fraction=0.5,
        neg_pos_ub=-1,
        add_gt_as_proposals=False),
    allowed_border=-1,
    pos_weight=-1,
    debug=False)
PROPOSAL_CFG = ConfigDict(
    nms_pre=200,
    max_per_img=50,
    nms=dict(type='nms', iou_threshold=0.7),
    min_bbox_size=0)


def head_cfg(**kwargs):
    cfg = dict(
        type='Conv1x1RPNHead',
        in_channels=8,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[2, 4],
            ratios=[0.5, 1.0, 2.0],
            strides=[16]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0),
        train_cfg=TRAIN_CFG,
        test_cfg=PROPOSAL_CFG)
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
    sample = DetDataSample(metainfo=dict(
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
