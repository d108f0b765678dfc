# Per-frame R-FCN R-101 (dilated conv5) on ImageNet VID + DET: the paper's
# per-frame baseline (73.6 mAP there).
_base_ = [
    '../_base_/models/rfcn_r101-dc5.py', '../_base_/datasets/imagenet-vid.py',
    '../_base_/schedules/schedule_7e.py', '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
