# MemNet-6-strd-4 (Table 1): MemNet-6 trained on 6-frame clips of temporal
# stride 4, so a training clip spans 21 frames. The paper calls it "MemNet
# trained with longer strides"; it tests as MemNet: every frame takes image
# evidence and the memory is warped from the previous frame (NF = NW = 1).
# To test a memory that takes evidence only every 4th frame and is warped
# from there to the frames in between (ClockNet with one time axis), inherit
# this config and set (the checkpoint is the same; README, "Deviations"):
#     model = dict(aggregator=dict(
#         _delete_=True, type='ClockNetAggregator', strides=(4, ),
#         memnet=dict(type='MemNetAggregator', in_channels=1024,
#                     mode='average')))
_base_ = './memnet-6_rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)

train_pipeline = [
    dict(type='CausalClipSample', num_frames=6, stride=4),
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
