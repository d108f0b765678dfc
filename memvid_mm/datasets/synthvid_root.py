# Copyright (c) memvid_mm contributors. All rights reserved.
"""The SynthVID root a tool reads: by default the one its config tests.

The SynthVID tools (FlowNet pre-training, its end-point error, the test
with the exact flow) read the generator settings of a root's
``synthvid.json``. Without ``--data-root`` that root is the ``data_root``
of the config's test dataloader, so a config (or ``--cfg-options``) that
points the data loaders elsewhere needs no second option.
"""
from typing import Optional

from mmengine.config import Config

from .synthvid import load_synthvid_settings

#: Where the default root comes from, for the messages.
CONFIG_DATA_ROOT = "the config's test_dataloader.dataset.data_root"


def config_data_root(cfg: Config) -> str:
    """The ``data_root`` of the config's test dataloader's dataset.

    Args:
        cfg (Config): The config (after ``--cfg-options``).

    Returns:
        str: The SynthVID root of the frames the config tests.

    Raises:
        ValueError: When the config's test dataloader's dataset sets no
            ``data_root`` (none, or a dataset wrapper).
    """
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    data_root = dataset.get('data_root')
    if data_root is None:
        raise ValueError(f'{CONFIG_DATA_ROOT} is not set: name the SynthVID '
                         f'root with --data-root')
    return data_root


def load_config_synthvid_settings(cfg: Config,
                                  data_root: Optional[str] = None) -> dict:
    """The generator settings of ``data_root``, by default of the
    config's root (:func:`config_data_root`).

    Args:
        cfg (Config): The config (after ``--cfg-options``).
        data_root (str, optional): The root named with ``--data-root``,
            which takes priority. Defaults to None: the config's.

    Returns:
        dict: :func:`memvid_mm.datasets.load_synthvid_settings` of the
        root.

    Raises:
        FileNotFoundError: When the root holds no ``synthvid.json``; the
            message names the file and says that ``--data-root`` sets the
            root.
    """
    root = config_data_root(cfg) if data_root is None else data_root
    try:
        return load_synthvid_settings(root)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'{err}; the SynthVID root is set with --data-root (default: '
            f'{CONFIG_DATA_ROOT})') from None
