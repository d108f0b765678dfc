# ClockNet on ordered 10-frame clips instead of 6, with gradient
# checkpointing in the backbone's residual blocks so that the clip keeps
# fewer activations for backward than a 6-frame one without. In a 6-frame
# clip the stride-8 memory takes image evidence only at the clip's first
# frame and the stride-4 memory at most once more; in a 10-frame clip they
# take it as they do in testing (frames 0 and 8, and 0, 4 and 8). On
# SynthVID this raised ClockNet's mAP and cut its spread over seeds
# (docs/synthvid_results.md, "ClockNet's clip length"); on ImageNet VID it
# is untried.
# Activations kept for backward at 600x1000 (README, "Training memory"),
# measured on the CPU with tools/analysis_tools/train_memory.py and
# --warp-sampler grid_sample (a GPU's warp): with every frame keeping its
# evidence (the worst case of evidence dropout) 6-frame clips 7,492 MiB,
# 10-frame clips 12,492 MiB, and 5,553 MiB with the backbone checkpointed
# (this config). The price is recomputing the kept frames' backbone in the
# backward pass: a warm step with 3 of 10 frames kept (2.8 on average under
# dropout 0.8) took about 1.8 times as long as the 6-frame config's with 2
# of 6 kept, on a 2-core CPU. mmdet 3.3's ResNet calls
# torch.utils.checkpoint without use_reentrant (the reentrant variant, with
# a warning from torch 2.x).
_base_ = './clocknet_rfcn_r101-dc5_4xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(detector=dict(backbone=dict(with_cp=True)))
train_pipeline = [
    dict(type='CausalClipSample', num_frames=10, stride=1),
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
