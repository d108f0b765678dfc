# A tiny Faster R-CNN for SynthVID on a CPU: ResNet-18 at 1/4 width (16
# base channels) with dilated conv4 and conv5 (output stride 8, like the
# tiny R-FCN), trained from scratch, a 3x3 conv + ReLU embedding to 64-d and
# a 2-fc box head on 3x3 RoIs.
_base_ = './faster-rcnn_r50-dc5.py'
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
        neck=dict(in_channels=[128], out_channels=64),
        rpn_head=dict(
            in_channels=64,
            feat_channels=64,
            # the anchor sizes of a stride-16 model: 16, 32 and 48 px
            anchor_generator=dict(scales=[2, 4, 6], strides=[8])),
        roi_head=dict(
            bbox_roi_extractor=dict(
                roi_layer=dict(output_size=3),
                out_channels=64,
                featmap_strides=[8]),
            bbox_head=dict(
                in_channels=64,
                fc_out_channels=128,
                roi_feat_size=3,
                num_classes=4)),
        # the SynthVID results were measured with no low-quality matches
        # of RoIs (the R-50 model is mmtrack's)
        train_cfg=dict(
            rpn=dict(sampler=dict(num=64)),
            rpn_proposal=dict(nms_pre=600, max_per_img=100),
            rcnn=dict(
                assigner=dict(match_low_quality=False), sampler=dict(num=64))),
        test_cfg=dict(
            rpn=dict(nms_pre=600, max_per_img=100), rcnn=dict(
                max_per_img=50))))
