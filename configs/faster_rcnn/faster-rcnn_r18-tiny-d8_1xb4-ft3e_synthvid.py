# The per-frame tiny Faster R-CNN trained 3 more epochs from its 6-epoch
# checkpoint, on the same schedule as the memory models (`make demo`).
_base_ = [
    '../_base_/models/faster-rcnn_r18-tiny-d8.py',
    '../_base_/datasets/synthvid.py',
    '../_base_/schedules/schedule_synthvid_ft3e.py',
    '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
load_from = ('work_dirs/demo/faster-rcnn_r18-tiny-d8_1xb4-6e_synthvid/'
             'epoch_6.pth')
default_hooks = dict(logger=dict(interval=20))
