# Runtime shared by every memvid_mm config (MMDetection 3.x conventions).
# MMDetection's _base_/default_runtime.py restated, with memvid_mm's hooks:
# inheriting it as 'mmdet::_base_/default_runtime.py' would add
# _scope_='mmdet' to each of its entries and make every config load import
# pkg_resources, which warns that it is deprecated.
default_scope = 'mmdet'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # BN statistics equal on every rank, so that a checkpoint and a
    # validation during training see the same model (a no-op in 1 process)
    sync_buffers=dict(type='SyncBuffersEveryIterHook'),
    # a loaded checkpoint must fit the model (a training's load_from may
    # lack FlowNet and the memory), and have the classes, in order, of the
    # data sets (also under MMDetection's own tools)
    checkpoint_fit=dict(type='CheckpointFitHook'),
    checkpoint_classes=dict(type='CheckpointClassesHook'),
    # the box head predicts as many classes as the data sets list, checked
    # before the run (a head of more would fail at the first validation,
    # one of a class fewer would train that class as background)
    num_classes=dict(type='NumClassesHook'),
    # every data set of the run has samples (an empty training set would
    # end in a bare ZeroDivisionError in the sampler)
    non_empty_dataset=dict(type='NonEmptyDatasetHook'),
    visualization=dict(type='VIDVisualizationHook', draw=False))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
