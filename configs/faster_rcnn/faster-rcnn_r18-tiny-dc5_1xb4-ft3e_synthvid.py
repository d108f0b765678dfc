# The per-frame tiny Faster R-CNN trained 3 more epochs from its 6-epoch
# checkpoint, on the same schedule as the memory models (`make demo`).
_base_ = './faster-rcnn_r18-tiny-dc5_1xb4-6e_synthvid.py'
train_cfg = dict(max_epochs=3)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=3,
        by_epoch=True,
        milestones=[2],
        gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
load_from = ('work_dirs/demo/faster-rcnn_r18-tiny-dc5_1xb4-6e_synthvid/'
             'epoch_6.pth')
