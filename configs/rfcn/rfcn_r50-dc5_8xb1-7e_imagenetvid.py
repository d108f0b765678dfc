# Per-frame R-FCN R-50 (dilated conv5) on ImageNet VID + DET.
_base_ = './rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(
    detector=dict(
        backbone=dict(
            depth=50,
            init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet50'))))
