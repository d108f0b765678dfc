# Copyright (c) memvid_mm contributors. All rights reserved.
"""Compare the model settings a checkpoint was trained with to a config's.

Many settings change what a memory model computes without changing one
key or shape of its state dict, so a strict load cannot see them: a
ClockNet checkpoint (strides 1, 4, 8, one shared psi) loads into the
MemNet config (strides 1) and tests as MemNet; FlowNet's
``img_scale_factor``, the warp's interpolation or ``test_cfg`` likewise.
mmengine's runner records the training config in the checkpoint
(``meta['cfg']``, its text); testing and inference log the model settings
that differ from it, so that a wrong config is seen and a deliberate
test-time change (``test_cfg.chain_flows``, ``evidence_interval``) is on
record.
"""
import os
import tempfile
from typing import Any, Dict, List, Mapping, Optional

from mmengine.config import Config

#: Model config keys left out of the comparison: where weights come from
#: at initialisation (paths differ between machines; the checkpoint
#: replaces them) and training-only settings.
NOT_COMPARED = ('init_cfg', 'train_cfg', 'pretrained', 'strong_ckpt')


def plain(value: Any) -> Any:
    """``value`` with tuples as lists and config dicts as dicts, so that a
    config read back from text compares equal to the one it was.

    Args:
        value (Any): A config value.

    Returns:
        Any: A copy where every mapping, at any depth, is a ``dict`` and
        every list or tuple a ``list``; other values as they are.
    """
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def flat_settings(cfg: Mapping, prefix: str) -> Dict[str, Any]:
    """Dotted key to value of every leaf of a nested config dict.

    Args:
        cfg (Mapping): The config dict.
        prefix (str): Its own dotted name, e.g. ``'model'``.

    Returns:
        dict: ``{'model.aggregator.strides': [1, 4, 8], ...}``, without
        :data:`NOT_COMPARED` keys and what lies under them.
    """
    flat = {}
    for key, value in cfg.items():
        if key in NOT_COMPARED:
            continue
        name = f'{prefix}.{key}'
        if isinstance(value, Mapping) and value:
            flat.update(flat_settings(value, name))
        else:
            flat[name] = plain(value)
    return flat


def model_setting_differences(trained: Mapping, current: Mapping) -> List[str]:
    """The model settings that differ between two model configs.

    Args:
        trained (Mapping): The ``model`` config the checkpoint was trained
            with.
        current (Mapping): The ``model`` config of the run.

    Returns:
        list[str]: One ``'model.k: A in training, B here'`` per differing
        leaf (``absent`` for a key only one has), in key order.
    """
    old, new = flat_settings(trained, 'model'), flat_settings(current, 'model')

    def shown(settings: dict, key: str) -> str:
        return f'{settings[key]!r:.80}' if key in settings else 'absent'

    return [
        f'{key}: {shown(old, key)} in training, {shown(new, key)} here'
        for key in sorted(set(old) | set(new))
        if key not in old or key not in new or old[key] != new[key]
    ]


def recorded_model_cfg(checkpoint: Mapping, filename: str) -> Optional[dict]:
    """The ``model`` config recorded in a checkpoint's ``meta['cfg']``.

    Args:
        checkpoint (Mapping): The loaded checkpoint.
        filename (str): Its file, for the message.

    Returns:
        dict, optional: None when the checkpoint records no config (one
        not saved by mmengine's runner) or one without ``model``.

    Raises:
        ValueError: Naming the file when ``meta`` is not a dict or the
            recorded text is not a readable config.
    """
    meta = checkpoint.get('meta')
    if meta is not None and not isinstance(meta, Mapping):
        raise ValueError(f'checkpoint {filename}: meta must be a dict, got '
                         f'{type(meta).__name__}')
    text = (meta or {}).get('cfg')
    if not isinstance(text, str):
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'trained_cfg.py')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        try:  # its custom_imports need not be installed here
            cfg = Config.fromfile(path, import_custom_modules=False)
        except Exception as err:  # any error of mmengine's parser
            raise ValueError(
                f"checkpoint {filename}: its meta['cfg'] is not a readable "
                f'config ({type(err).__name__}: {err!s:.200})') from err
    return cfg.get('model')


def other_model_settings(checkpoint: Mapping, model_cfg: Mapping,
                         filename: str) -> Optional[str]:
    """Say which model settings of a config differ from those the
    checkpoint was trained with, for the log.

    Args:
        checkpoint (Mapping): The loaded checkpoint.
        model_cfg (Mapping): The ``model`` config it is tested with.
        filename (str): Its file.

    Returns:
        str, optional: The message (also when the recorded config cannot
        be read, saying so); None when the checkpoint records no model
        config or the settings agree.
    """
    try:
        trained = recorded_model_cfg(checkpoint, filename)
    except ValueError as err:
        return f'{err}; its model settings are not compared with the config'
    if trained is None:
        return None
    differences = model_setting_differences(trained, model_cfg)
    if not differences:
        return None
    return (f'checkpoint {filename} was trained with other model settings '
            f'than the config has (on purpose for a test-time setting such '
            f'as test_cfg.chain_flows; otherwise is it the config of another '
            f'model? A key absent in training may also be a misspelt one, '
            f'which the model does not read): {"; ".join(differences)}')
