# MemNet-6 (Table 1): as MemNet-3, trained on ordered 6-frame clips.
_base_ = './memnet-3_rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
train_pipeline = [
    dict(type='CausalClipSample', num_frames=6, stride=1),
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
