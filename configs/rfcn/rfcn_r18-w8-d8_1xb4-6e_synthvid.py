# Per-frame R-FCN with the half-width tiny ResNet-18 on SynthVID: the fast
# detector of the two-detector setup (configs/strong_feature), trained from
# scratch for 6 epochs like the tiny R-FCN.
_base_ = [
    '../_base_/models/rfcn_r18-w8-d8.py', '../_base_/datasets/synthvid.py',
    '../_base_/schedules/schedule_synthvid.py', '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
default_hooks = dict(logger=dict(interval=20))
