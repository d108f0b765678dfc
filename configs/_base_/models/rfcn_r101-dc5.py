# R-FCN (Dai et al., 2016) as in the Memory Warps paper, wired as the MXNet
# R-FCN of DFF and FGFA whose set-up the paper follows: ResNet-101 with a
# dilated conv5 (stride 16), a 3x3 conv (dilation 6) + ReLU embedding to
# 1024-d split in two halves, the first 512 channels read by the RPN's 1x1
# convs, the other 512 by the 7x7 position-sensitive score maps;
# class-agnostic box regression. Trained and tested as FGFA's R-FCN: OHEM
# (the 128 RoIs of highest loss of all 300 proposals and the ground truth),
# NMS at IoU 0.3 and up to 300 detections per image.
num_classes = 30
model = dict(
    type='PerFrameVideoDetector',
    data_preprocessor=dict(
        type='TrackDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16),
    detector=dict(
        type='RFCN',
        backbone=dict(
            type='ResNet',
            depth=101,
            num_stages=4,
            out_indices=(3, ),
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 2),
            frozen_stages=1,
            norm_cfg=dict(type='BN', requires_grad=False),
            norm_eval=True,
            style='pytorch',
            init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet101')),
        neck=dict(
            type='FeatureEmbedding',
            in_channels=2048,
            out_channels=1024,
            dilation=6),
        rpn_channels=512,
        rpn_head=dict(
            type='Conv1x1RPNHead',
            in_channels=512,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[4, 8, 16, 32],
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
                num_classes=num_classes,
                in_channels=512,
                roi_feat_size=7,
                featmap_stride=16,
                roi_op='align',
                bbox_coder=dict(
                    type='DeltaXYWHBBoxCoder',
                    target_means=[0., 0., 0., 0.],
                    target_stds=[0.1, 0.1, 0.2, 0.2]),
                reg_class_agnostic=True,
                loss_cls=dict(
                    type='CrossEntropyLoss',
                    use_sigmoid=False,
                    loss_weight=1.0),
                loss_bbox=dict(type='SmoothL1Loss', loss_weight=1.0))),
        train_cfg=dict(
            rpn=dict(
                assigner=dict(
                    type='MaxIoUAssigner',
                    pos_iou_thr=0.7,
                    neg_iou_thr=0.3,
                    min_pos_iou=0.3,
                    match_low_quality=True,
                    ignore_iof_thr=-1),
                sampler=dict(
                    type='RandomSampler',
                    num=256,
                    pos_fraction=0.5,
                    neg_pos_ub=-1,
                    add_gt_as_proposals=False),
                # mmdet refuses an image with no anchor inside it (a DET
                # image of 1000x40 after the resize), where FGFA's and
                # mmtrack's 0 would leave it out: every anchor is kept
                allowed_border=-1,
                pos_weight=-1,
                debug=False),
            rpn_proposal=dict(
                nms_pre=6000,
                max_per_img=300,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=dict(
                assigner=dict(
                    type='MaxIoUAssigner',
                    pos_iou_thr=0.5,
                    neg_iou_thr=0.5,
                    min_pos_iou=0.5,
                    match_low_quality=False,
                    ignore_iof_thr=-1),
                # every proposal is scored, OHEM keeps the hardest
                sampler=dict(
                    type='RandomSampler',
                    num=512,
                    pos_fraction=1.0,
                    neg_pos_ub=-1,
                    add_gt_as_proposals=True),
                ohem=dict(num=128),
                pos_weight=-1,
                debug=False)),
        test_cfg=dict(
            rpn=dict(
                nms_pre=6000,
                max_per_img=300,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0),
            rcnn=dict(
                score_thr=0.0001,
                nms=dict(type='nms', iou_threshold=0.3),
                max_per_img=300))))
