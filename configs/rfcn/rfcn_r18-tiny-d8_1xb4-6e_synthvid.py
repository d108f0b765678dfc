# Per-frame tiny R-FCN on SynthVID (the `make demo` baseline).
_base_ = [
    '../_base_/models/rfcn_r18-tiny-d8.py', '../_base_/datasets/synthvid.py',
    '../_base_/schedules/schedule_synthvid.py', '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
default_hooks = dict(logger=dict(interval=20))
