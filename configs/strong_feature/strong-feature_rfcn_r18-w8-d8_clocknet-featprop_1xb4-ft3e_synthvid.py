# The paper's real-time two-detector system (Sec. 4.2, 5.3) on SynthVID: a
# fast R-FCN (the half-width tiny ResNet-18, configs/rfcn/rfcn_r18-w8-d8_*)
# gives an output every frame from its features averaged with the memory of
# the strong tiny ClockNet (`make demo`'s), which takes image evidence every
# 4 frames ("ClockNet-101-FeatProp") and lags `delay` = 3 frames: its memory
# of frame t - 3, warped to t with the ClockNet's FlowNet. The paper gives
# no delay; 3 frames follow from its ClockNet-101 taking 2.4 times
# R-FCN-18's frame time (a frame's memory is ready within 3 frames).
# The strong detector is frozen; the fast one starts from its 6-epoch
# per-frame checkpoint and trains 3 epochs, like its control
# rfcn_r18-w8-d8_1xb4-ft3e_synthvid.py. Clips of 11 frames: the strong
# memory of frame t - 3 starts 0-7 frames before it, so that it was
# propagated 0-3 frames since its last evidence, as online.
_base_ = [
    '../_base_/models/rfcn_r18-w8-d8.py', '../_base_/datasets/synthvid.py',
    '../_base_/schedules/schedule_synthvid_ft3e.py',
    '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(
    type='StrongFeatureRFCN',
    strong_config='configs/clocknet/'
    'clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py',
    strong_ckpt='work_dirs/demo/'
    'clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid/epoch_3.pth',
    strong_test_cfg=dict(evidence_interval=4),
    delay=3)
train_pipeline = [
    dict(type='CausalClipSample', num_frames=11, stride=1),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadVIDFrame'),
            dict(type='LoadTrackAnnotations'),
            dict(type='Resize', scale=(160, 96), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(
        type='PackTrackInputs',
        meta_keys=('clip_frame_offsets', 'clip_stride'))
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
load_from = 'work_dirs/demo/rfcn_r18-w8-d8_1xb4-6e_synthvid/epoch_6.pth'
default_hooks = dict(logger=dict(interval=20))
