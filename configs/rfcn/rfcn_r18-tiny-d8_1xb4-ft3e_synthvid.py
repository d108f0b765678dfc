# The per-frame tiny R-FCN trained 3 more epochs from its 6-epoch checkpoint:
# the control for the memory models, which start from the same checkpoint
# and train for the same 3 epochs (`make demo` passes `load_from`).
_base_ = [
    '../_base_/models/rfcn_r18-tiny-d8.py', '../_base_/datasets/synthvid.py',
    '../_base_/schedules/schedule_synthvid_ft3e.py',
    '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
load_from = 'work_dirs/demo/rfcn_r18-tiny-d8_1xb4-6e_synthvid/epoch_6.pth'
default_hooks = dict(logger=dict(interval=20))
