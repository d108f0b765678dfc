# Per-frame tiny Faster R-CNN on SynthVID: ResNet-18 at 1/4 width with
# dilated conv4 and conv5 (output stride 8), trained from scratch (`make
# demo`, first stage).
_base_ = [
    '../_base_/models/faster-rcnn_r18-tiny-d8.py',
    '../_base_/datasets/synthvid.py',
    '../_base_/schedules/schedule_synthvid.py', '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
default_hooks = dict(logger=dict(interval=20))
