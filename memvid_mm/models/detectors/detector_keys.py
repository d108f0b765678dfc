# Copyright (c) memvid_mm contributors. All rights reserved.
"""Refuse a state dict that fits none of a video detector's image detector.

:class:`MemoryRFCN` and :class:`PerFrameVideoDetector` keep their image
detector (R-FCN, Faster R-CNN) under ``detector``, so their weights are
named ``detector.backbone.*``, ``detector.rpn_head.*`` and so on. mmengine
loads ``load_from`` non-strictly: what does not fit stays at its random
initialisation, and the only sign is a logged list of keys. A checkpoint of
another model, or of the image detector trained on its own (whose keys lack
the ``detector.`` prefix), would so start a video detector's training from
random weights without a word. The check here raises instead, and says how
to load an image detector's own checkpoint (``model.detector.init_cfg``).
Conversely the image detector refuses a video detector's checkpoint
(:func:`refuse_video_detector_state_dict`).

A state dict that holds only some of the model's keys (say only
``motion.*``) and nothing the model lacks is a partial load and passes
here; ``CheckpointFitHook`` refuses such a ``load_from`` before the
weights are copied (``check_training_start``).
``model.detector.init_cfg``'s checkpoint must fit the image detector
exactly (:func:`check_detector_pretrained`).
"""
from typing import List

from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from ...utils import ForeignStateDictError, naming_unreadable_checkpoint
from ...utils.checkpoint import pretrained_init_cfg, state_dict_misfits


def refuse_foreign_state_dict(module: nn.Module, state_dict: dict, prefix: str,
                              *args) -> None:
    """Load pre-hook of a video detector with an image ``detector``.

    Registered with ``register_load_state_dict_pre_hook``; mmengine's
    ``load_state_dict`` and ``nn.Module.load_state_dict`` both call it
    before any weight is copied.

    Args:
        module (nn.Module): The video detector; ``module.detector`` is its
            image detector.
        state_dict (dict): The state dict being loaded (keys with
            ``prefix``).
        prefix (str): The video detector's key prefix in ``state_dict``.
        *args: The rest of the hook's arguments, unused.

    Raises:
        ForeignStateDictError: When no key of ``state_dict`` is a weight
            of the image detector and some keys are not the model's at all.
    """
    own_keys = set(module.state_dict(prefix=prefix))
    keys = [key for key in state_dict if key.startswith(prefix)]
    detector_prefix = prefix + 'detector.'
    if any(
            key.startswith(detector_prefix) and key in own_keys
            for key in keys):
        return
    foreign = [key for key in keys if key not in own_keys]
    if not foreign:
        return
    bare = _bare_detector_keys(module, foreign, prefix)
    hint = (f'{len(bare)} of its keys are the image detector\'s without '
            f'the "detector." prefix (e.g. {bare[0]}): load such a '
            'checkpoint with model.detector.init_cfg=dict(type='
            '"Pretrained", checkpoint=...) instead of load_from'
            if bare else 'is it a checkpoint of another model?')
    raise ForeignStateDictError(
        f'the state dict being loaded into {type(module).__name__} holds '
        f'none of its image detector\'s weights (detector.*) and '
        f'{len(foreign)} keys the model does not have (e.g. '
        f'{", ".join(foreign[:3])}); {hint}')


def refuse_video_detector_state_dict(module: nn.Module, state_dict: dict,
                                     prefix: str, *args) -> None:
    """Load pre-hook of a video detector's image ``detector``.

    The converse of :func:`refuse_foreign_state_dict`: a video detector's
    checkpoint (keys ``detector.backbone.*``) loaded into the image
    detector itself (as MMDetection's ``tools/test_tracking.py --detector``
    does) fits none of its keys, and mmengine's non-strict load would test
    a randomly initialised detector without an error.

    Args:
        module (nn.Module): The image detector.
        state_dict (dict): The state dict being loaded (keys with
            ``prefix``).
        prefix (str): The image detector's key prefix in ``state_dict``.
        *args: The rest of the hook's arguments, unused.

    Raises:
        ForeignStateDictError: When no key of ``state_dict`` is the image
            detector's but some are its keys under a further ``detector.``.
    """
    own_keys = set(module.state_dict(prefix=prefix))
    if any(key in own_keys for key in state_dict):
        return
    wrapped_prefix = prefix + 'detector.'
    wrapped = [
        key for key in state_dict
        if key.startswith(wrapped_prefix) and prefix +
        key[len(wrapped_prefix):] in own_keys
    ]
    if wrapped:
        raise ForeignStateDictError(
            f'the state dict being loaded into the image detector '
            f'{type(module).__name__} is a video detector\'s: none of its '
            f'keys is the image detector\'s, and {len(wrapped)} are under '
            f'"detector." (e.g. {wrapped[0]}). Load it into the video '
            f'detector (the checkpoint of tools/test.py, or load_from), '
            f'not into model.detector')


def _bare_detector_keys(module: nn.Module, keys: List[str],
                        prefix: str) -> List[str]:
    """The ``keys`` that are image detector keys without ``detector.``."""
    detector_keys = set(module.detector.state_dict())
    return [key for key in keys if key[len(prefix):] in detector_keys]


def _pretrained_misfits(target: nn.Module, init_cfg: dict) -> List[str]:
    """Read a ``Pretrained`` ``init_cfg``'s checkpoint (its ``prefix``
    taken off) and list how it does not fit ``target`` exactly."""
    filename = init_cfg['checkpoint']
    with naming_unreadable_checkpoint(filename):
        checkpoint = _load_checkpoint(filename, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    prefix = init_cfg.get('prefix')
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        state_dict = {
            key[len(prefix):]: value
            for key, value in state_dict.items() if key.startswith(prefix)
        }
    return state_dict_misfits(target, state_dict)


def check_detector_pretrained(module: nn.Module) -> None:
    """Error if a ``Pretrained`` ``init_cfg`` checkpoint does not fit what
    it initialises: the image detector's or the video detector's own.

    ``model.detector.init_cfg=dict(type='Pretrained', checkpoint=...)``
    (or a list holding such an entry) loads an image detector's own
    checkpoint (keys ``backbone.*``) into a video detector's ``detector``;
    ``model.init_cfg`` one of the video detector (keys ``detector.*``).
    mmengine's ``PretrainedInit`` loads it non-strictly, so a checkpoint of
    other classes (or another model) would leave the head (or everything)
    at its random initialisation with a logged list of keys. Called after
    the weights are initialised, this reads the checkpoint again and
    raises unless it fits exactly.

    Args:
        module (nn.Module): The video detector; ``module.detector`` is its
            image detector.

    Raises:
        ValueError: Naming the ``init_cfg``, the file and what does not
            fit.
    """
    detector_cfg = pretrained_init_cfg(
        getattr(module.detector, 'init_cfg', None), 'model.detector')
    if detector_cfg is not None:
        misfits = _pretrained_misfits(module.detector, detector_cfg)
        if misfits:
            raise ValueError(
                f'model.detector.init_cfg checkpoint '
                f'{detector_cfg["checkpoint"]} does not fit the image '
                f'detector ({type(module.detector).__name__}), so it would '
                f'train from random weights where it does not: '
                f'{"; ".join(misfits)}. For the backbone alone use '
                f'model.detector.backbone.init_cfg=dict(type="Pretrained", '
                f'prefix="backbone.", checkpoint=...)')
    own_cfg = pretrained_init_cfg(
        getattr(module, 'init_cfg', None),
        type(module).__name__)
    if own_cfg is not None:
        misfits = _pretrained_misfits(module, own_cfg)
        if misfits:
            raise ValueError(
                f'model.init_cfg checkpoint {own_cfg["checkpoint"]} does not '
                f'fit the video detector ({type(module).__name__}), so it '
                f'would train from random weights where it does not: '
                f'{"; ".join(misfits)}. To start from a checkpoint that '
                f'fits in part (e.g. a per-frame R-FCN for a memory model) '
                f'use load_from, which tools/train.py checks '
                f'(CheckpointFitHook)')
