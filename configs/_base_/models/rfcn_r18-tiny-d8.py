# A tiny R-FCN for SynthVID on a CPU: ResNet-18 at 1/4 width (16 base
# channels) with dilated conv4 and conv5 (output stride 8, as mmseg's -d8
# backbones), trained from scratch, a 3x3 conv + ReLU embedding to 64-d,
# 3x3 position-sensitive score maps. Stride 8 gives the 160x96 SynthVID
# frames a 20x12 map on which objects (15-35 px) span 2-4 cells; at stride
# 16 (10x6, 1-2 cells) this R-FCN reached only 48.9 mAP on the 32-video val
# (docs/synthvid_results.md, "Ablations").
_base_ = './rfcn_r101-dc5.py'
num_classes = 4
model = dict(
    detector=dict(
        backbone=dict(
            depth=18,
            base_channels=16,
            strides=(1, 2, 1, 1),
            dilations=(1, 1, 2, 4),
            frozen_stages=-1,
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=False,
            init_cfg=None),
        # not the R-101 model's FGFA wiring (a dilated embedding split
        # between a 1x1 RPN and the R-FCN head): both heads read the whole
        # embedding, and the RPN has mmdet's 3x3 conv, as the SynthVID
        # results were measured
        neck=dict(
            _delete_=True,
            type='ChannelMapper',
            in_channels=[128],
            out_channels=64,
            kernel_size=3,
            norm_cfg=None,
            act_cfg=dict(type='ReLU')),
        rpn_channels=None,
        rpn_head=dict(
            type='RPNHead',
            in_channels=64,
            feat_channels=64,
            # the anchor sizes of the stride-16 model: 16, 32 and 48 px
            anchor_generator=dict(scales=[2, 4, 6], strides=[8])),
        roi_head=dict(
            bbox_head=dict(
                num_classes=num_classes,
                in_channels=64,
                roi_feat_size=3,
                featmap_stride=8)),
        # not the R-101 model's FGFA settings (OHEM, NMS 0.3): the
        # SynthVID results were measured with these
        train_cfg=dict(
            rpn=dict(sampler=dict(num=64)),
            rpn_proposal=dict(nms_pre=600, max_per_img=100),
            rcnn=dict(sampler=dict(num=64, pos_fraction=0.25), ohem=None)),
        test_cfg=dict(
            rpn=dict(nms_pre=600, max_per_img=100),
            rcnn=dict(nms=dict(iou_threshold=0.5), max_per_img=50))))
