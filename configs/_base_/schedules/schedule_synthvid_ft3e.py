# Fine-tuning schedule for SynthVID: 3 epochs from a 6-epoch per-frame
# checkpoint (`load_from`), lr 0.01, x0.1 for the last epoch.
_base_ = './schedule_synthvid.py'
max_epochs = 3
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[max_epochs - 1],
        gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
