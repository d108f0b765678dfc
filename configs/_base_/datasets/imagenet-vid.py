# ImageNet VID + DET (30 VID classes) in CocoVID format, as converted by
# tools/dataset_converters/imagenet2coco_{vid,det}.py (mmtrack's layout, so
# annotation files made with mmtrack load unchanged).
dataset_type = 'ImagenetVIDDataset'
data_root = 'data/ILSVRC/'
backend_args = None

train_pipeline = [
    # Clips of T frames [t-(T-1)s, ..., t] ending at a key frame: T = 1
    # for the per-frame detectors; the memory configs set their own.
    dict(type='CausalClipSample', num_frames=1, stride=1),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadVIDFrame', backend_args=backend_args),
            dict(type='LoadTrackAnnotations'),
            dict(type='Resize', scale=(1000, 600), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(type='PackTrackInputs')
]
test_pipeline = [
    dict(
        type='TransformBroadcaster',
        transforms=[
            dict(type='LoadVIDFrame', backend_args=backend_args),
            dict(type='Resize', scale=(1000, 600), keep_ratio=True),
            dict(type='LoadTrackAnnotations'),
        ]),
    dict(type='PackTrackInputs')
]

train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='annotations/imagenet_vid_train.json',
                data_prefix=dict(img_path='Data/VID'),
                key_frames_only=True,
                pipeline=train_pipeline,
                backend_args=backend_args),
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='annotations/imagenet_det_30plus1cls.json',
                data_prefix=dict(img_path='Data/DET'),
                key_frames_only=True,
                pipeline=train_pipeline,
                backend_args=backend_args),
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='TrackImgSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/imagenet_vid_val.json',
        data_prefix=dict(img_path='Data/VID'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='ImagenetVIDMetric')
test_evaluator = val_evaluator
