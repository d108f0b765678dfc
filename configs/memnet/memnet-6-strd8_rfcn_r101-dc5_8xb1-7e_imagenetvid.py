# MemNet-6-strd-8 (Table 1): 6-frame clips with temporal stride 8 (see
# memnet-6-strd4 for the test-time schedule).
_base_ = './memnet-6_rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
model = dict(
    aggregator=dict(
        _delete_=True,
        type='ClockNetAggregator',
        strides=(8, ),
        memnet=dict(
            type='MemNetAggregator', in_channels=1024, mode='average')))

train_pipeline = [
    dict(type='CausalClipSample', num_frames=6, stride=8),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadImageFromFile'),
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
            type='ImagenetVIDDataset',
            data_root='data/ILSVRC/',
            ann_file='annotations/imagenet_vid_train.json',
            data_prefix=dict(img_path='Data/VID'),
            key_frames_only=True,
            pipeline=train_pipeline),
        dict(
            type='ImagenetVIDDataset',
            data_root='data/ILSVRC/',
            ann_file='annotations/imagenet_det_30plus1cls.json',
            data_prefix=dict(img_path='Data/DET'),
            key_frames_only=True,
            pipeline=train_pipeline),
    ]))
