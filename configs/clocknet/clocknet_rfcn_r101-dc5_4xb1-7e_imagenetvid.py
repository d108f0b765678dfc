# ClockNet (Table 1): three memories on time axes k = [1, 3, 4], i.e.
# temporal strides 1, 4 and 8, averaged; R-FCN R-101 (dilated conv5) on
# ImageNet VID + DET, 4 GPUs x 1 clip of 6 frames (evidence dropped with
# probability 0.8, gradients through time). lr 0.01 x 4 / 8.
# It inherits MemNet-3, the memory models' primitive config, and restates
# MemNet-6's 6-frame clips rather than inheriting MemNet-6, so that the
# configs built on it stay within 3 levels of inheritance.
_base_ = '../memnet/memnet-3_rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(
    aggregator=dict(
        _delete_=True,
        type='ClockNetAggregator',
        strides=(1, 4, 8),
        memnet=dict(type='MemNetAggregator', in_channels=1024,
                    mode='average')))
optim_wrapper = dict(optimizer=dict(lr=0.005))
auto_scale_lr = dict(base_batch_size=4)
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
