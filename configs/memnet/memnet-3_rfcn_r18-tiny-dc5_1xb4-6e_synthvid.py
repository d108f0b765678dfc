# MemNet-3 with the tiny R-FCN on SynthVID (`make demo`): averaging
# aggregation, ordered 3-frame clips, image evidence dropped with
# probability 0.8, FlowNet trained from scratch with the detector (its flow
# predictions start at zero, i.e. the identity warp).
_base_ = [
    '../_base_/models/rfcn_r18-tiny-dc5.py', '../_base_/datasets/synthvid.py',
    '../_base_/schedules/schedule_synthvid.py', '../_base_/default_runtime.py'
]
model = dict(
    type='MemoryRFCN',
    motion=dict(
        type='FlowNetSimple', img_scale_factor=0.5, zero_init_flow=True),
    warp=dict(type='FlowWarp'),
    aggregator=dict(type='MemNetAggregator', in_channels=64, mode='average'),
    train_cfg=dict(evidence_drop_prob=0.8, loss_frames='last'))
train_pipeline = [
    dict(type='CausalClipSample', num_frames=3, stride=1),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadTrackAnnotations'),
            dict(type='Resize', scale=(160, 96), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(
        type='PackTrackInputs',
        meta_keys=('clip_frame_offsets', 'clip_stride'))
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
default_hooks = dict(logger=dict(interval=20))
