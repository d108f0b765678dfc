# Copyright (c) memvid_mm contributors. All rights reserved.
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.testing import demo_mm_inputs, demo_mm_proposals
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from memvid_mm.models.roi_heads import select_hard_examples

NUM_CLASSES = 4
RCNN_TRAIN = dict(
    assigner=dict(
        type='MaxIoUAssigner',
        pos_iou_thr=0.5,
        neg_iou_thr=0.5,
        min_pos_iou=0.5,
        ignore_iof_thr=-1),
    # keep every proposal (and the gts): OHEM picks among all of them
    sampler=dict(
        type='RandomSampler',
        num=512,
        pos_fraction=1.0,
        neg_pos_ub=-1,
        add_gt_as_proposals=True),
    pos_weight=-1,
    debug=False)
RCNN_TEST = dict(
    score_thr=0.0, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10)


def _roi_head_cfg(ohem=None, roi_op='pool', sampler=None):
    train_cfg = copy.deepcopy(RCNN_TRAIN)
    if ohem is not None:
        train_cfg['ohem'] = dict(num=ohem)
    if sampler is not None:
        train_cfg['sampler'] = sampler
    return ConfigDict(
        type='RFCNRoIHead',
        bbox_head=dict(
            type='RFCNBBoxHead',
            num_classes=NUM_CLASSES,
            in_channels=8,
            roi_feat_size=3,
            featmap_stride=16,
            roi_op=roi_op),
        train_cfg=train_cfg,
        test_cfg=RCNN_TEST)


def _inputs(num_items, size=128, num_proposals=40):
    shapes = [(3, size, size)] * len(num_items)
    samples = demo_mm_inputs(
        batch_size=len(num_items),
        image_shapes=shapes,
        num_items=num_items,
        num_classes=NUM_CLASSES)['data_samples']
    proposals = demo_mm_proposals(shapes, num_proposals)
    feats = (torch.rand(len(num_items), 8, size // 16, size // 16), )
    return feats, proposals, samples


@pytest.mark.parametrize('roi_op', ['pool', 'align'])
def test_loss_with_and_without_gt(roi_op):
    roi_head = MODELS.build(_roi_head_cfg(roi_op=roi_op))
    feats, proposals, samples = _inputs([3, 2])
    losses = roi_head.loss(feats, proposals, samples)
    assert losses['loss_cls'] > 0
    assert losses['loss_bbox'] > 0
    # no ground truth: only background, so no box regression loss
    feats, proposals, samples = _inputs([0, 0])
    losses = roi_head.loss(feats, proposals, samples)
    assert losses['loss_cls'] > 0
    assert losses['loss_bbox'] == 0


MMDET_OHEM_SAMPLER = dict(
    type='OHEMSampler',
    num=16,
    pos_fraction=0.25,
    neg_pos_ub=-1,
    add_gt_as_proposals=True)


@pytest.mark.parametrize('ohem,sampler', [(None, None), (8, None),
                                          (None, MMDET_OHEM_SAMPLER)])
def test_loss_takes_the_map_bare_or_as_a_1_tuple(ohem, sampler):
    # mmdet's OHEMSampler scores the RoIs on the feats the head hands it
    roi_head = MODELS.build(_roi_head_cfg(ohem=ohem, sampler=sampler))
    feats, proposals, samples = _inputs([3, 2])
    torch.manual_seed(1)
    from_tuple = roi_head.loss(feats, proposals, samples)
    torch.manual_seed(1)
    from_map = roi_head.loss(feats[0], proposals, samples)
    assert from_tuple.keys() == from_map.keys()
    for key in from_tuple:
        assert torch.equal(from_tuple[key], from_map[key])


def test_loss_refuses_several_levels_or_other_channels():
    roi_head = MODELS.build(_roi_head_cfg())
    feats, proposals, samples = _inputs([3, 2])
    with pytest.raises(ValueError, match='single feature map, got 2 levels'):
        roi_head.loss(feats * 2, proposals, samples)
    with pytest.raises(ValueError, match=r'expects features \(B, 8, H, W\)'):
        roi_head.loss(feats[0][:, :4], proposals, samples)


def test_loss_leaves_proposals_unchanged():
    roi_head = MODELS.build(_roi_head_cfg())
    feats, proposals, samples = _inputs([2])
    boxes = proposals[0].bboxes.clone()
    roi_head.loss(feats, proposals, samples)
    assert set(proposals[0].keys()) == {'bboxes', 'scores', 'labels'}
    assert torch.equal(proposals[0].bboxes, boxes)


def test_predict_and_empty_proposals():
    roi_head = MODELS.build(_roi_head_cfg())
    roi_head.eval()
    feats, proposals, samples = _inputs([1, 1])
    with torch.no_grad():
        results = roi_head.predict(feats, proposals, samples)
    assert len(results) == 2
    for res in results:
        assert res.bboxes.shape == (len(res), 4)
        assert res.scores.shape == res.labels.shape == (len(res), )
        assert 0 < len(res) <= 10
    proposals = [InstanceData(bboxes=torch.zeros(0, 4)) for _ in range(2)]
    with torch.no_grad():
        results = roi_head.predict(feats, proposals, samples)
    assert [len(res) for res in results] == [0, 0]
    assert results[0].bboxes.shape == (0, 4)


def test_tensor_forward():
    roi_head = MODELS.build(_roi_head_cfg())
    feats, proposals, samples = _inputs([1, 1], num_proposals=7)
    cls_score, bbox_pred = roi_head.forward(feats, proposals, samples)
    assert cls_score.shape == (14, NUM_CLASSES + 1)
    assert bbox_pred.shape == (14, 4)


def test_select_hard_examples():
    losses = torch.tensor([0.1, 5.0, 0.3, 2.0, 9.0, 0.2, 4.0, 1.0])
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    keep = select_hard_examples(losses, batch, 2)
    assert keep.tolist() == [1, 3, 4, 6]
    assert select_hard_examples(losses, batch, 10).tolist() == list(range(8))
    # images interleaved and one image with fewer RoIs than num_per_img
    batch = torch.tensor([1, 0, 1, 1, 1, 0, 1, 1])
    assert select_hard_examples(losses, batch, 3).tolist() == [1, 3, 4, 5, 6]
    assert select_hard_examples(torch.zeros(0), batch[:0], 3).numel() == 0


@pytest.mark.parametrize('sampled', [128, 64])
def test_ohem_that_keeps_every_sampled_roi_is_refused(sampled):
    """A sampler of as many RoIs as OHEM keeps, or fewer."""
    sampler = dict(
        type='RandomSampler',
        num=sampled,
        pos_fraction=0.25,
        neg_pos_ub=-1,
        add_gt_as_proposals=True)
    with pytest.raises(
            ValueError,
            match=r'ohem.num \(128\) keeps every '
            f'one of the {sampled} RoIs'):
        MODELS.build(_roi_head_cfg(ohem=128, sampler=sampler))


def test_ohem_keeps_the_hardest_rois():
    roi_head = MODELS.build(_roi_head_cfg(ohem=8))
    assert roi_head.ohem_num == 8
    feats, proposals, samples = _inputs([3, 2])
    losses = roi_head.loss(feats, proposals, samples)
    assert losses['loss_cls'] > 0 and losses['loss_bbox'] > 0
    gts = [s.gt_instances for s in samples]
    sampling_results = []
    for i, prop in enumerate(proposals):
        priors = InstanceData(priors=prop.bboxes)
        assign = roi_head.bbox_assigner.assign(priors, gts[i])
        sampling_results.append(
            roi_head.bbox_sampler.sample(assign, priors, gts[i]))
    results = roi_head.bbox_loss(feats, sampling_results)
    rois, keep = results['rois'], results['keep']
    assert rois.size(0) == sum(len(p) + len(g) for p, g in zip(proposals, gts))
    targets = roi_head.bbox_head.get_targets(sampling_results,
                                             roi_head.train_cfg)
    roi_losses = roi_head.bbox_head.roi_losses(results['cls_score'].detach(),
                                               results['bbox_pred'].detach(),
                                               *targets)
    for img in (0, 1):
        in_img = (rois[:, 0] == img).nonzero().flatten()
        kept = keep[rois[keep, 0] == img]
        assert kept.numel() == 8
        hardest = in_img[roi_losses[in_img].topk(8).indices]
        assert set(kept.tolist()) == set(hardest.tolist())
    # the losses are those of the kept RoIs only
    expected = roi_head.bbox_head.loss(results['cls_score'][keep],
                                       results['bbox_pred'][keep], rois[keep],
                                       *(t[keep] for t in targets))
    assert torch.allclose(results['loss_bbox']['loss_cls'],
                          expected['loss_cls'])
    # the kept RoIs have a higher mean loss than all RoIs
    assert roi_losses[keep].mean() > roi_losses.mean()


def test_mmdet_ohem_sampler_works_with_the_head():
    sampler = dict(
        type='OHEMSampler',
        num=16,
        pos_fraction=0.25,
        neg_pos_ub=-1,
        add_gt_as_proposals=True)
    roi_head = MODELS.build(_roi_head_cfg(sampler=sampler))
    feats, proposals, samples = _inputs([3, 2])
    losses = roi_head.loss(feats, proposals, samples)
    assert torch.isfinite(losses['loss_cls']) and losses['loss_cls'] > 0


def test_invalid_configs_raise():
    cfg = _roi_head_cfg()
    cfg.bbox_roi_extractor = dict(type='SingleRoIExtractor')
    with pytest.raises(ValueError, match='bbox_roi_extractor'):
        MODELS.build(cfg)
    with pytest.raises(ValueError, match='ohem.num must be a positive'):
        MODELS.build(_roi_head_cfg(ohem=0))  # refused when built
    with pytest.raises(ValueError, match='ohem.num must be a positive'):
        MODELS.build(_roi_head_cfg(ohem=True))  # not one RoI
    # --cfg-options ...ohem=dict(num=128) passes a str: named, not a
    # missing attribute
    cfg = _roi_head_cfg()
    cfg.train_cfg['ohem'] = 'dict(num=128)'
    with pytest.raises(
            ValueError,
            match='train_cfg.ohem must be a dict such as '
            r"dict\(num=128\), got 'dict\(num=128\)'"):
        MODELS.build(cfg)


def _detector_cfg(ohem=None, roi_op='pool'):
    rpn_train = dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.7,
            neg_iou_thr=0.3,
            min_pos_iou=0.3,
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
    proposal = dict(
        nms_pre=200,
        max_per_img=30,
        nms=dict(type='nms', iou_threshold=0.7),
        min_bbox_size=0)
    rcnn_train = copy.deepcopy(RCNN_TRAIN)
    if ohem is not None:
        rcnn_train['ohem'] = dict(num=ohem)
    return ConfigDict(
        type='TwoStageDetector',
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_size_divisor=16),
        backbone=dict(
            type='ResNet',
            depth=18,
            num_stages=4,
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 2),
            out_indices=(3, ),
            frozen_stages=1,
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=True,
            style='pytorch',
            init_cfg=None),
        neck=dict(
            type='ChannelMapper',
            in_channels=[512],
            out_channels=64,
            kernel_size=3,
            norm_cfg=None,
            act_cfg=dict(type='ReLU')),
        rpn_head=dict(
            type='RPNHead',
            in_channels=64,
            feat_channels=64,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[2, 4, 8],
                ratios=[0.5, 1.0, 2.0],
                strides=[16]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0.0, 0.0, 0.0, 0.0],
                target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(
                type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
        roi_head=dict(
            type='RFCNRoIHead',
            bbox_head=dict(
                type='RFCNBBoxHead',
                num_classes=NUM_CLASSES,
                in_channels=64,
                roi_feat_size=3,
                featmap_stride=16,
                roi_op=roi_op)),
        train_cfg=dict(rpn=rpn_train, rpn_proposal=proposal, rcnn=rcnn_train),
        test_cfg=dict(rpn=proposal, rcnn=RCNN_TEST))


@pytest.mark.parametrize('ohem,roi_op', [(None, 'pool'), (8, 'align')])
def test_two_stage_detector(ohem, roi_op):
    init_default_scope('mmdet')  # the data preprocessor is mmdet's
    model = MODELS.build(_detector_cfg(ohem=ohem, roi_op=roi_op))
    model.init_weights()
    assert model.roi_head.ohem_num == (ohem or 0)
    data = demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, 64, 80), (3, 64, 80)],
        num_items=[2, 1],
        num_classes=NUM_CLASSES)
    batch = model.data_preprocessor(data, True)
    model.train()
    losses = model(**batch, mode='loss')
    expected = {
        'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'acc'
    }
    assert expected <= set(losses)
    total, log_vars = model.parse_losses(losses)
    assert total.dim() == 0 and torch.isfinite(total)
    assert all(torch.isfinite(v.detach()) for v in log_vars.values())
    total.backward()
    grad = model.roi_head.bbox_head.conv_cls.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert model.backbone.layer4[0].conv1.weight.grad is not None

    model.eval()
    batch = model.data_preprocessor(data, False)
    with torch.no_grad():
        preds = model(**batch, mode='predict')
        outs = model(**batch, mode='tensor')
    assert len(preds) == 2
    for pred in preds:
        assert isinstance(pred, DetDataSample)
        inst = pred.pred_instances
        assert inst.bboxes.shape == (len(inst), 4)
        assert inst.labels.shape == inst.scores.shape == (len(inst), )
    # TwoStageDetector._forward returns (roi_head.forward(...), )
    assert isinstance(outs, tuple) and len(outs) == 1
    cls_score, bbox_pred = outs[0]
    assert isinstance(cls_score, torch.Tensor)
    assert cls_score.shape[0] > 0
    assert cls_score.shape[1] == NUM_CLASSES + 1
    assert bbox_pred.shape == (cls_score.shape[0], 4)


def test_loss_needs_proposals_for_every_image():
    roi_head = MODELS.build(_roi_head_cfg())
    feats, proposals, samples = _inputs([3, 2])
    with pytest.raises(
            ValueError,
            match='rpn_results_list and batch_data_samples must have the '
            'same length'):
        roi_head.loss(feats, proposals[:1], samples)


def _bbox_head(**kwargs):
    cfg = dict(
        type='RFCNBBoxHead',
        num_classes=3,
        in_channels=8,
        roi_feat_size=3,
        featmap_stride=16,
        roi_op='pool')
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_bbox_head_keeps_a_given_init_cfg():
    """Its own init_cfg (Normal on the score-map convs) is only the
    default."""
    init_cfg = dict(type='Constant', val=0.5, bias=0.0, layer='Conv2d')
    head = _bbox_head(init_cfg=init_cfg)
    assert head.init_cfg == init_cfg
    head.init_weights()
    for conv in (head.conv_cls, head.conv_reg):
        assert (conv.weight == 0.5).all() and (conv.bias == 0).all()


def test_roi_losses_read_the_deltas_of_each_roi_s_own_class():
    """Class-specific regression: RoI 0 (class 1) is scored on its class-1
    deltas only; RoI 1 (background, no box weight) on none."""
    head = _bbox_head(reg_class_agnostic=False)
    cls_score = torch.tensor([[0.5, 2.0, -1.0, 0.0], [1.0, 0.0, 0.0, 3.0]])
    bbox_pred = torch.full((2, 12), 9.0)  # [R, 4 * 3 classes]
    bbox_pred[0, 4:8] = torch.tensor([0.5, 0.0, 0.0, -2.0])
    labels = torch.tensor([1, 3])
    bbox_weights = torch.tensor([[1.0] * 4, [0.0] * 4])
    losses = head.roi_losses(cls_score, bbox_pred, labels, torch.ones(2),
                             torch.zeros(2, 4), bbox_weights)
    cls_losses = torch.nn.functional.cross_entropy(
        cls_score, labels, reduction='none')
    # smooth L1 (beta 1): 0.5 * 0.5 ** 2 + (2 - 0.5)
    expected = cls_losses + torch.tensor([1.625, 0.0])
    assert torch.allclose(losses, expected), losses


def test_bbox_head_repr_names_its_pooling():
    assert ("roi_op='pool', roi_feat_size=(3, 3), featmap_stride=16"
            in repr(_bbox_head()))
