# SynthVID: the built-in synthetic video data set in the ILSVRC2015 layout,
# made by `python tools/misc/gen_synthvid.py --out data/synthvid` and
# converted with `python tools/dataset_converters/imagenet2coco_vid.py
# -i data/synthvid -o data/synthvid/annotations --classes synthvid`.
_base_ = './imagenet-vid.py'

data_root = 'data/synthvid/'
synthvid_classes = ('disc', 'box', 'triangle', 'cross')
train_pipeline = [
    # Clips of T frames [t-(T-1)s, ..., t] ending at a key frame: T = 1
    # for the per-frame detectors; the memory configs set their own.
    dict(type='CausalClipSample', num_frames=1, stride=1),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadVIDFrame'),
            dict(type='LoadTrackAnnotations'),
            dict(type='Resize', scale=(160, 96), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(type='PackTrackInputs')
]
test_pipeline = [
    dict(
        type='TransformBroadcaster',
        transforms=[
            dict(type='LoadVIDFrame'),
            dict(type='Resize', scale=(160, 96), keep_ratio=True),
            dict(type='LoadTrackAnnotations'),
        ]),
    dict(type='PackTrackInputs', meta_keys=('degradation', ))
]
train_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ImagenetVIDDataset',
        data_root=data_root,
        metainfo=dict(classes=synthvid_classes),
        ann_file='annotations/imagenet_vid_train.json',
        data_prefix=dict(img_path='Data/VID'),
        key_frames_only=True,
        pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=synthvid_classes),
        ann_file='annotations/imagenet_vid_val.json',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# SynthVID records each frame's degradation: report mAP on clean and
# degraded frames beside the official numbers.
val_evaluator = dict(type='ImagenetVIDMetric', degradation_key='degradation')
test_evaluator = val_evaluator
