# The half-width tiny R-FCN trained 3 more epochs from its 6-epoch
# checkpoint: the control for the fast detector fed with the strong
# detector's propagated features (configs/strong_feature), which starts from
# the same checkpoint and trains for the same 3 epochs.
_base_ = [
    '../_base_/models/rfcn_r18-w8-d8.py', '../_base_/datasets/synthvid.py',
    '../_base_/schedules/schedule_synthvid_ft3e.py',
    '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
load_from = 'work_dirs/demo/rfcn_r18-w8-d8_1xb4-6e_synthvid/epoch_6.pth'
default_hooks = dict(logger=dict(interval=20))
