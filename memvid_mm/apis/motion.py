# Copyright (c) memvid_mm contributors. All rights reserved.
"""Build the motion network of a memory model config on its own.

Shared by ``tools/misc/pretrain_flownet_synthvid.py`` (which trains it) and
``tools/analysis_tools/flow_epe_synthvid.py`` (which scores it).
"""
from mmdet.registry import MODELS
from mmengine.config import Config
from torch import nn


def build_config_motion(cfg: Config, purpose: str,
                        **overrides: object) -> nn.Module:
    """Build a config's ``model.motion`` without its ``init_cfg``.

    The config is not changed: the network is built from a copy of
    ``cfg.model.motion`` with ``init_cfg=None`` and ``overrides`` set, so
    nothing is loaded and the weights are those of the constructor (call
    ``init_weights`` or load a state dict next).

    Args:
        cfg (Config): A memory model config (one with ``model.motion``,
            e.g. a ``FlowNetSimple``).
        purpose (str): What the caller does with the network, for the
            error message, e.g. ``'score'`` or ``'pre-train'``.
        **overrides: Further keys of the motion config to set, e.g.
            ``zero_init_flow=True``.

    Returns:
        nn.Module: The motion network.

    Raises:
        KeyError: If the config has no ``model.motion``.
    """
    if 'motion' not in cfg.model:
        raise KeyError(f'the config has no model.motion to {purpose}')
    motion_cfg = cfg.model.motion.copy()
    motion_cfg.update(init_cfg=None, **overrides)
    return MODELS.build(motion_cfg)
