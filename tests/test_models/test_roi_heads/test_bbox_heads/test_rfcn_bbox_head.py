# Copyright (c) memvid_mm contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from memvid_mm.models.roi_heads.bbox_heads import (RFCNBBoxHead,
                                                   position_sensitive_vote)
from memvid_mm.ops import ps_roi_align, ps_roi_pool


def _head(**kwargs):
    cfg = dict(
        type='RFCNBBoxHead', num_classes=4, in_channels=8, roi_feat_size=3)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def _rois():
    return torch.tensor([[0., 0., 0., 60., 40.], [1., 10., 20., 90., 100.],
                         [1., -8., 4., 30., 50.], [0., 70., 2., 110., 30.]])


def test_position_sensitive_vote_averages_bins():
    pooled = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    # RoI 0, class 1 holds 4, 5, 6, 7 -> 5.5
    voted = position_sensitive_vote(pooled)
    assert voted.shape == (2, 3)
    assert voted[0, 1].item() == pytest.approx(5.5)
    assert torch.allclose(voted, pooled.flatten(2).mean(-1))


@pytest.mark.parametrize('roi_op', ['pool', 'align'])
def test_forward_shapes_and_values(roi_op):
    head = _head(roi_op=roi_op, featmap_stride=16)
    feat = torch.randn(2, 8, 7, 8)
    cls_maps, reg_maps = head.score_maps((feat, ))
    assert cls_maps.shape == (2, 9 * 5, 7, 8)
    assert reg_maps.shape == (2, 9 * 4, 7, 8)
    cls_score, bbox_pred = head((feat, ), _rois())
    assert cls_score.shape == (4, 5)
    assert bbox_pred.shape == (4, 4)
    op = ps_roi_pool if roi_op == 'pool' else (
        lambda m, r, k, s: ps_roi_align(m, r, k, s, 2))
    expected = op(cls_maps, _rois(), 3, 1 / 16).mean(dim=(2, 3))
    assert torch.allclose(cls_score, expected)


def test_score_maps_computed_once_per_batch():
    head = _head()
    calls = []
    head.conv_cls.register_forward_hook(lambda *args: calls.append(1))
    rois = _rois().repeat(50, 1)  # 200 RoIs
    cls_score, _ = head(torch.randn(2, 8, 7, 8), rois)
    assert cls_score.shape == (200, 5)
    assert len(calls) == 1


def test_class_specific_regression():
    head = _head(reg_class_agnostic=False)
    _, bbox_pred = head(torch.randn(2, 8, 7, 8), _rois())
    assert bbox_pred.shape == (4, 4 * 4)
    assert head.conv_reg.out_channels == 9 * 4 * 4


def test_empty_rois():
    head = _head()
    cls_score, bbox_pred = head(torch.randn(1, 8, 5, 5), torch.zeros(0, 5))
    assert cls_score.shape == (0, 5)
    assert bbox_pred.shape == (0, 4)


def test_channel_mismatch_raises():
    head = _head()
    with pytest.raises(ValueError, match='in_channels'):
        head(torch.randn(1, 6, 5, 5), _rois()[:1])
    with pytest.raises(ValueError, match='single feature map'):
        head((torch.randn(1, 8, 5, 5), torch.randn(1, 8, 3, 3)), _rois()[:1])


def test_invalid_config_raises():
    with pytest.raises(ValueError, match='roi_op'):
        RFCNBBoxHead(num_classes=3, in_channels=8, roi_op='max')
    with pytest.raises(ValueError, match='roi_feat_size'):
        RFCNBBoxHead(num_classes=3, in_channels=8, roi_feat_size=0)


def test_default_init():
    head = RFCNBBoxHead(num_classes=30, in_channels=64)
    head.init_weights()
    assert head.conv_cls.weight.shape == (49 * 31, 64, 1, 1)
    assert head.conv_reg.weight.shape == (49 * 4, 64, 1, 1)
    assert head.conv_cls.weight.std().item() == pytest.approx(0.01, rel=0.1)
    assert head.conv_reg.weight.std().item() == pytest.approx(0.001, rel=0.1)
    assert head.conv_cls.bias.abs().max() == 0
    assert not hasattr(head, 'fc_cls') and not hasattr(head, 'fc_reg')
    assert head.spatial_scale == 1 / 16


def test_loss_without_foreground():
    head = _head()
    cls_score, bbox_pred = head(torch.randn(2, 8, 7, 8), _rois())
    labels = torch.full((4, ), 4, dtype=torch.long)  # all background
    losses = head.loss(cls_score, bbox_pred, _rois(), labels, torch.ones(4),
                       torch.zeros(4, 4), torch.zeros(4, 4))
    assert losses['loss_cls'] > 0
    assert losses['loss_bbox'] == 0


def test_roi_losses_are_per_roi_cls_plus_box():
    head = _head()
    cls_score, bbox_pred = torch.randn(4, 5), torch.randn(4, 4)
    labels = torch.tensor([0, 4, 2, 4])
    weights = torch.ones(4)
    targets = torch.randn(4, 4)
    bbox_weights = torch.tensor([1., 0., 1., 0.])[:, None].expand(4, 4)
    losses = head.roi_losses(cls_score, bbox_pred, labels, weights, targets,
                             bbox_weights)
    smooth_l1 = F.smooth_l1_loss(
        bbox_pred, targets, reduction='none', beta=1.0).sum(-1)
    expected = F.cross_entropy(cls_score, labels, reduction='none') + \
        smooth_l1 * bbox_weights[:, 0]
    assert losses.shape == (4, )
    assert torch.allclose(losses, expected)


def test_predict_by_feat():
    head = _head()
    rois = _rois()[_rois()[:, 0] == 0]
    cls_score, bbox_pred = head(torch.randn(1, 8, 7, 8), rois)
    from mmengine.config import ConfigDict
    results = head.predict_by_feat(
        rois=(rois, ),
        cls_scores=(cls_score, ),
        bbox_preds=(bbox_pred, ),
        batch_img_metas=[dict(img_shape=(112, 128))],
        rcnn_test_cfg=ConfigDict(
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=5))
    assert len(results) == 1
    assert results[0].bboxes.shape[1] == 4
    assert len(results[0]) <= 5
    assert results[0].labels.max() < 4
