# Causal FGFA (Table 1's online baseline) with the tiny R-FCN on SynthVID:
# the features of the current frame and the 10 before it, each warped to
# the current frame along FlowNet's flow and weighted per pixel by the
# cosine similarity of its embedding with the current frame's (FGFA's
# adaptive weights, over the past only; FGFA's embedding network scaled to
# the 64 channels: 1x1 to 32, 3x3 to 32, 1x1 to 128, as FGFA's 512, 512,
# 2048 for 1024). Everything else is MemNet-3's SynthVID recipe (the
# pre-trained full-resolution FlowNet, the 6-epoch per-frame R-FCN to start
# from, 3 epochs, a loss on every clip frame), except that every frame keeps
# its image evidence (the window holds frames, it carries no scene) and the
# 3-frame clips take every 4th frame, so that the last frame aggregates
# itself and references 4 and 8 frames back, each weighted once, as FGFA
# trains on a key frame and two references drawn from the frames near it.
_base_ = '../memnet/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(
    aggregator=dict(
        _delete_=True,
        type='CausalFGFAAggregator',
        in_channels=64,
        num_frames=11,
        embed_channels=(32, 32, 128),
        embed_kernel_sizes=(1, 3, 1)),
    train_cfg=dict(evidence_drop_prob=0.0, loss_frames='all'))
train_pipeline = [
    dict(type='CausalClipSample', num_frames=3, stride=4),
    dict(
        type='TransformBroadcaster',
        share_random_params=True,
        transforms=[
            dict(type='LoadVIDFrame'),
            dict(type='LoadTrackAnnotations'),
            dict(type='Resize', scale=(160, 96), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(
        type='PackTrackInputs',
        meta_keys=('clip_frame_offsets', 'clip_stride'))
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
