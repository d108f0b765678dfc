# Causal FGFA (Table 1, "Cau. FGFA"): R-FCN R-101 on the features of the
# current frame and the 10 before it, each warped to the current frame
# along FlowNet's flow and weighted per pixel by the cosine similarity of
# its embedding with the current frame's (FGFA's adaptive weights and
# embedding network, 1x1 to 512, 3x3 to 512, 1x1 to 2048 channels, over the
# past only; NF = NW = 10 per frame). Every frame keeps its image evidence;
# the 3-frame clips take every 4th frame, so that the last frame aggregates
# itself and references 4 and 8 frames back, each weighted once, as FGFA
# trains on a key frame and two references drawn from the frames near it.
_base_ = '../memnet/memnet-3_rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(
    aggregator=dict(
        _delete_=True,
        type='CausalFGFAAggregator',
        in_channels=1024,
        num_frames=11,
        embed_channels=(512, 512, 2048),
        embed_kernel_sizes=(1, 3, 1)),
    train_cfg=dict(evidence_drop_prob=0.0, loss_frames='last'))

train_pipeline = [
    dict(type='CausalClipSample', num_frames=3, stride=4),
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
