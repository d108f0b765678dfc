# Copyright (c) memvid_mm contributors. All rights reserved.
"""Keep the model's buffers equal on every rank of a distributed run."""
from typing import Optional, Sequence

from mmdet.registry import HOOKS
from mmengine.dist import all_reduce_params, is_distributed
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch import nn


def floating_buffers(model: nn.Module) -> list:
    """The floating-point buffers of ``model`` (BN running statistics and
    the like; ``num_batches_tracked`` counts alike on every rank).

    Args:
        model (nn.Module): The model, maybe wrapped.

    Returns:
        list[Tensor]: Its floating-point buffers, in ``model.buffers()``
        order.
    """
    return [buffer for buffer in model.buffers() if buffer.is_floating_point()]


@HOOKS.register_module()
class SyncBuffersEveryIterHook(Hook):
    """Average the model's floating buffers over the ranks after every
    training iteration.

    DDP in mmengine does not broadcast buffers (``broadcast_buffers=False``),
    so the running statistics of a BN layer that trains (the SynthVID tiny
    models; the ImageNet VID configs freeze BN) drift apart on the ranks. A
    checkpoint holds rank 0's, while a validation inside training scores
    each rank's videos with that rank's own: the logged metric would belong
    to no saved model. mmengine's ``SyncBuffersHook`` averages them only at
    the end of an epoch and before validation, after an iteration-based
    checkpoint of the same iteration was saved. Averaging after every
    iteration, before the checkpoint hook (this hook's priority
    ``ABOVE_NORMAL`` comes before ``CheckpointHook``'s ``VERY_LOW`` and
    ``EMAHook``'s ``NORMAL``), keeps checkpoints, validation and every rank
    on the same buffers. Does
    nothing in a non-distributed run.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[Sequence] = None) -> None:
        """All-reduce (mean) the floating buffers of ``runner.model``.

        Args:
            runner (Runner): The runner of the training process.
            batch_idx (int): Index of the iteration in the epoch.
            data_batch (dict, optional): The iteration's data. Defaults to
                None.
            outputs (Sequence, optional): The iteration's outputs. Defaults
                to None.
        """
        if is_distributed():
            all_reduce_params(floating_buffers(runner.model), op='mean')
