# Per-frame Faster R-CNN baseline on ImageNet VID + DET (mmtrack's setup).
_base_ = [
    '../_base_/models/faster-rcnn_r50-dc5.py',
    '../_base_/datasets/imagenet-vid.py', '../_base_/schedules/schedule_7e.py',
    '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
