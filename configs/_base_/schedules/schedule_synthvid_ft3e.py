# Fine-tuning schedule for SynthVID: 3 epochs from a 6-epoch per-frame
# checkpoint (`load_from`), lr 0.01, x0.1 for the last epoch.
max_epochs = 3
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

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
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=4)
