# Per-frame R-FCN R-18 (dilated conv5) on ImageNet VID + DET: the paper's
# fast real-time detector (60.2 mAP at 14.3 fps on a TITAN Xp there).
_base_ = './rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(
    detector=dict(
        backbone=dict(
            depth=18,
            init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet18')),
        neck=dict(in_channels=512)))
