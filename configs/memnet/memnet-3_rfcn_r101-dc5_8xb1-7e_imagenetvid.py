# MemNet-3 (Table 1): R-FCN R-101 on a warped feature memory, averaging
# aggregation (Eq. 3), trained on ordered 3-frame clips with image evidence
# dropped with probability 0.8, gradients through time into FlowNet.
_base_ = [
    '../_base_/models/rfcn_r101-dc5.py', '../_base_/datasets/imagenet-vid.py',
    '../_base_/schedules/schedule_7e.py', '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(
    type='MemoryRFCN',
    motion=dict(
        type='FlowNetSimple',
        img_scale_factor=0.5,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=  # noqa: E251
            'https://download.openmmlab.com/mmtracking/pretrained_weights/'
            'flownet_simple.pth')),
    warp=dict(type='FlowWarp'),
    aggregator=dict(type='MemNetAggregator', in_channels=1024, mode='average'),
    train_cfg=dict(evidence_drop_prob=0.8, loss_frames='last'))

train_pipeline = [
    dict(type='CausalClipSample', num_frames=3, stride=1),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadVIDFrame', backend_args={{_base_.backend_args}}),
            dict(type='LoadTrackAnnotations'),
            dict(type='Resize', scale=(1000, 600), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(
        type='PackTrackInputs',
        meta_keys=('clip_frame_offsets', 'clip_stride'))
]
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            ann_file='annotations/imagenet_vid_train.json',
            data_prefix=dict(img_path='Data/VID'),
            key_frames_only=True,
            pipeline=train_pipeline,
            backend_args={{_base_.backend_args}}),
        dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            ann_file='annotations/imagenet_det_30plus1cls.json',
            data_prefix=dict(img_path='Data/DET'),
            key_frames_only=True,
            pipeline=train_pipeline,
            backend_args={{_base_.backend_args}}),
    ]))
