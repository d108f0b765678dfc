# ClockNet (Table 1): three memories on time axes k = [1, 3, 4], i.e.
# temporal strides 1, 4 and 8, averaged; R-FCN R-101 (dilated conv5) on
# ImageNet VID + DET, 4 GPUs x 1 clip of 6 frames (evidence dropped with
# probability 0.8, gradients through time). lr 0.01 x 4 / 8.
_base_ = '../memnet/memnet-6_rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(
    aggregator=dict(
        _delete_=True,
        type='ClockNetAggregator',
        strides=(1, 4, 8),
        memnet=dict(
            type='MemNetAggregator', in_channels=1024, mode='average')))
optim_wrapper = dict(optimizer=dict(lr=0.005))
auto_scale_lr = dict(base_batch_size=4)
