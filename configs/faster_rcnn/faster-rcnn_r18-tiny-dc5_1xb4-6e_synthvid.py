# Per-frame tiny Faster R-CNN on SynthVID: ResNet-18 at 1/4 width with a
# dilated conv5, trained from scratch (the `make demo` baseline).
_base_ = [
    '../_base_/models/faster-rcnn_r50-dc5.py',
    '../_base_/datasets/synthvid.py',
    '../_base_/schedules/schedule_synthvid.py', '../_base_/default_runtime.py'
]
model = dict(
    detector=dict(
        backbone=dict(
            depth=18,
            base_channels=16,
            frozen_stages=-1,
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=False,
            init_cfg=None),
        neck=dict(in_channels=[128], out_channels=64),
        rpn_head=dict(
            in_channels=64,
            feat_channels=64,
            anchor_generator=dict(scales=[1, 2, 3])),
        roi_head=dict(
            bbox_roi_extractor=dict(
                roi_layer=dict(output_size=3), out_channels=64),
            bbox_head=dict(
                in_channels=64,
                fc_out_channels=128,
                roi_feat_size=3,
                num_classes=4)),
        train_cfg=dict(
            rpn=dict(sampler=dict(num=64)),
            rpn_proposal=dict(nms_pre=600, max_per_img=100),
            rcnn=dict(sampler=dict(num=64))),
        test_cfg=dict(
            rpn=dict(nms_pre=600, max_per_img=100),
            rcnn=dict(max_per_img=50))))
default_hooks = dict(logger=dict(interval=20))
