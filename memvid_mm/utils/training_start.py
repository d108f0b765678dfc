# Copyright (c) memvid_mm contributors. All rights reserved.
"""Refuse a training start that would leave weights at random.

mmengine loads ``load_from`` leniently: a parameter the checkpoint lacks,
or holds in another shape, stays at its random initialisation and the run
trains on with a logged list of keys. ``CheckpointFitHook`` calls
:func:`check_training_start` on the checkpoint a training loads
(``tools/train.py`` registers the hook where a config lacks it).
"""
from typing import List, Mapping, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.runner import Runner, find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor, nn

from .checkpoint import (check_finite_weights, class_difference,
                         format_misfits, naming_unreadable_checkpoint,
                         state_dict_differences, trained_classes, unwrapped,
                         unwrapped_key)

#: Keys of a video detector that a per-frame start (``load_from`` a trained
#: R-FCN) does not hold: FlowNet comes from its own ``init_cfg``, psi and
#: the memories' combination from their initialisation, and the strong
#: detector of a ``StrongFeatureRFCN`` from its ``strong_ckpt`` (its
#: learned fusion, if any, from its initialisation).
MEMORY_ONLY_PREFIXES = ('motion.', 'aggregator.', 'strong.', 'fusion.')

#: Where the weights under a :data:`MEMORY_ONLY_PREFIXES` prefix come from
#: in a per-frame start, for the log; a prefix not here is initialised.
MEMORY_ONLY_SOURCES = {
    'motion.': 'motion.init_cfg for FlowNet',
    'strong.': 'strong_ckpt for the strong detector',
}


def start_checkpoint_misfits(model: nn.Module,
                             state_dict: Mapping[str, Tensor],
                             differences: tuple,
                             allowed_missing: Sequence[str] = ()
                             ) -> List[str]:  # yapf: disable
    """What of ``model`` a training start from ``state_dict`` would leave
    at its initialisation, or could not load.

    Args:
        model (nn.Module): The model to train.
        state_dict (Mapping[str, Tensor]): The checkpoint's weights.
        differences (tuple): :func:`state_dict_differences` of the two.
        allowed_missing (Sequence[str]): Key prefixes that may be missing
            (they are initialised otherwise). Defaults to ().

    Returns:
        list[str]: One line per kind of misfit (see
        :func:`state_dict_misfits`), and a hint for an image detector's
        own checkpoint loaded into a video detector; empty when everything
        fits.
    """
    unexpected, missing, mismatched = differences
    expected = model.state_dict()
    loaded = [unwrapped_key(key) for key in state_dict]
    bare = [key for key in loaded if f'detector.{key}' in expected]
    misfits = []
    if bare and not any(key in expected for key in loaded):
        misfits.append(
            f'{len(bare)} of its keys are the image detector\'s without '
            f'the "detector." prefix (e.g. {bare[0]}): load such a '
            f'checkpoint with model.detector.init_cfg=dict(type='
            f'"Pretrained", checkpoint=...) instead')
    # a prefix may be missing whole (a per-frame start), not in part
    absent = absent_prefixes(loaded, allowed_missing)
    loaded_keys = set(loaded)
    for prefix in sorted(set(allowed_missing) - set(absent)):
        expected_keys = [key for key in expected if key.startswith(prefix)]
        held = [key for key in expected_keys if key in loaded_keys]
        if any(key.startswith(prefix) for key in missing):
            misfits.append(
                f'{prefix}* only in part ({len(held)} of the model\'s '
                f'{len(expected_keys)} entries; a per-frame start holds '
                f'none of them, a memory model\'s checkpoint all)')
    missing = [key for key in missing if not key.startswith(tuple(absent))]
    misfits += format_misfits(unexpected, missing, mismatched)
    return misfits


def absent_prefixes(keys: Sequence[str], prefixes: Sequence[str]) -> List[str]:
    """The prefixes under which a checkpoint holds no key.

    Args:
        keys (Sequence[str]): The checkpoint's keys, unwrapped.
        prefixes (Sequence[str]): Key prefixes, e.g.
            :data:`MEMORY_ONLY_PREFIXES`.

    Returns:
        list[str]: Those of ``prefixes`` that no key starts with.
    """
    return [p for p in prefixes if not any(k.startswith(p) for k in keys)]


def is_partial_start(cfg: Config) -> bool:
    """Whether a training may start from a ``load_from`` that does not fit:
    ``load_from_partial=True`` and not a resumed run.

    Args:
        cfg (Config): The run's config.

    Returns:
        bool: True for a deliberate partial start.
    """
    return bool(cfg.get('load_from_partial', False)) and \
        not cfg.get('resume', False)


def loaded_checkpoint_file(runner: Runner) -> Optional[str]:
    """The checkpoint file the runner loads, as ``Runner.load_or_resume``
    picks it: ``load_from``, else, on a resume, the latest checkpoint of
    the work dir.

    Args:
        runner (Runner): The runner.

    Returns:
        str, optional: The file; None when there is none.
    """
    if runner._load_from is None and runner._resume:
        return find_latest_checkpoint(runner.work_dir)
    return runner._load_from


def check_training_start(runner: Runner,
                         checkpoint: Optional[Mapping] = None
                         ) -> Optional[str]:
    """Refuse a ``load_from`` or ``resume`` checkpoint that does not fit.

    mmengine loads ``load_from`` leniently: a parameter the checkpoint
    lacks, or holds in another shape, stays at its random initialisation
    and the run trains on with a logged list of keys. Given the checkpoint
    the runner loaded (``CheckpointFitHook.after_load_checkpoint``, before
    mmengine copies the weights), or reading it before ``runner.train()``,
    this raises, naming the file, when:

    * a resumed run's checkpoint does not fit the model exactly (another
      model's or config's checkpoint would fail later in the optimizer, or
      resume a head of other classes);
    * ``load_from`` misses a parameter outside FlowNet and the memory
      (:data:`MEMORY_ONLY_PREFIXES`, which a per-frame start lacks), holds
      keys the model lacks or a parameter of another shape;
    * the checkpoint's classes (``meta['dataset_meta']``) are not the
      training set's, in label order (:func:`class_difference`);
    * it holds a NaN or an infinity.

    A config with ``load_from_partial=True`` starts anyway from what fits
    (e.g. a head fine-tuned to other classes), and this returns what was
    left at initialisation for the caller to log; the non-finite check
    stays.

    Args:
        runner (Runner): The built runner.
        checkpoint (Mapping, optional): The checkpoint the runner loaded
            from :func:`loaded_checkpoint_file`. Defaults to None: read
            from that file.

    Returns:
        str, optional: What ``load_from_partial`` let through, to log;
        None when nothing was (and when the run loads no checkpoint).

    Raises:
        ValueError: Naming the file and what does not fit.
    """
    cfg = runner.cfg
    model = unwrapped(runner.model)
    resume = bool(runner._resume)
    filename = loaded_checkpoint_file(runner)
    if filename is None:
        return None
    what = 'resume' if resume else 'load_from'
    if checkpoint is None:
        with naming_unreadable_checkpoint(filename):
            checkpoint = _load_checkpoint(filename, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    check_finite_weights(state_dict, f'{what} checkpoint {filename}')
    if not resume:
        check_strong_detector_kept(model, state_dict, filename)
    differences = state_dict_differences(model, state_dict)
    misfits = start_checkpoint_misfits(model, state_dict, differences,
                                       () if resume else MEMORY_ONLY_PREFIXES)
    if not resume:
        _log_memory_only_start(runner, state_dict, differences[1], filename)
    classes = runner.train_dataloader.dataset.metainfo.get('classes')
    trained = trained_classes(checkpoint, filename)
    other_classes = (None if classes is None
                     or trained is None else class_difference(
                         trained, classes, 'train_dataloader.dataset'))
    if not misfits and other_classes is None:
        return None
    model_name = type(model).__name__
    partial = not resume and is_partial_start(cfg)
    found = _start_problems(model_name, misfits, other_classes, resume,
                            partial)
    if resume:
        raise ValueError(f'cannot resume from {filename}: it {found}')
    if not partial:
        raise ValueError(
            f'load_from {filename} {found}. Set load_from_partial=True '
            f'(--cfg-options load_from_partial=True) to train from it on '
            f'purpose, e.g. a head fine-tuned to other classes')
    return f'load_from_partial: {filename} {found}'


def _start_problems(model_name: str, misfits: Sequence[str],
                    other_classes: Optional[str], resume: bool,
                    partial: bool) -> str:
    """Say what does not fit in a start checkpoint: the parameters that
    would not load, and (a separate matter) labels that meant other
    classes.

    Args:
        model_name (str): The model's class name.
        misfits (Sequence[str]): :func:`start_checkpoint_misfits`.
        other_classes (str, optional): :func:`class_difference`; None
            when the classes agree.
        resume (bool): Whether the run resumes.
        partial (bool): Whether ``load_from_partial`` lets it start.

    Returns:
        str: The problems, joined by ``'; and it '``, each phrased to
        follow ``it``.
    """
    problems = []
    if misfits:
        problems.append(f'does not fit the model ({model_name})' + (
            f"; is it another config's checkpoint? {'; '.join(misfits)}"
            if resume else
            f', so training {"starts" if partial else "would start"} with '
            'these parameters at their random initialisation: '
            f'{"; ".join(misfits)}'))
    if other_classes:
        problems.append(
            f'was trained on {other_classes}, so its head '
            f'{"learns" if partial else "would learn"} classes under the '
            'labels of others')
    return '; and it '.join(problems)


def check_strong_detector_kept(model: nn.Module, state_dict: Mapping[str,
                                                                     Tensor],
                               filename: str) -> None:
    """Refuse a ``load_from`` that would replace the strong detector that
    ``strong_ckpt`` loaded.

    A ``StrongFeatureRFCN`` loads its frozen strong detector from
    ``strong_ckpt`` in ``init_weights`` and checks its classes and
    settings there; ``load_from`` comes after. A checkpoint of an earlier
    two-detector training holds ``strong.*`` too, and where those weights
    are others, the run would train beside a strong detector the config
    does not name. Called before the runner loads ``load_from`` (the
    model then holds ``strong_ckpt``'s weights). Weights equal to them
    (the same strong detector) pass.

    Args:
        model (nn.Module): The unwrapped model to train.
        state_dict (Mapping[str, Tensor]): ``load_from``'s weights.
        filename (str): ``load_from``, for the message.

    Raises:
        ValueError: Naming both files and a differing key.
    """
    strong_ckpt = getattr(model, 'strong_ckpt', None)
    if strong_ckpt is None or not isinstance(
            getattr(model, 'strong', None), nn.Module):
        return
    current = model.strong.state_dict()
    differing = []
    for key, value in state_dict.items():
        name = unwrapped_key(key)
        if not name.startswith('strong.'):
            continue
        own = current.get(name[len('strong.'):])
        if own is None:
            continue  # not the model's: the fit check names it
        if own.shape != value.shape or not torch.equal(
                own.cpu(),
                value.cpu().to(own.dtype)):
            differing.append(name)
    if differing:
        raise ValueError(
            f'load_from {filename} holds strong.* weights other than those '
            f'of model.strong_ckpt {strong_ckpt} ({len(differing)} '
            f'tensors, e.g. {differing[0]}): the fast detector would train '
            'beside its strong detector, not the one the config names and '
            'whose classes and settings were checked. Load a checkpoint '
            'without strong.* (or with that strong detector), or set '
            'model.strong_ckpt=None to take load_from\'s')


def _log_memory_only_start(runner: Runner, state_dict: Mapping[str, Tensor],
                           missing: Sequence[str], filename: str) -> None:
    """Log which of :data:`MEMORY_ONLY_PREFIXES` ``load_from`` leaves to
    their own initialisation (a per-frame start of a memory model): those
    the checkpoint (``state_dict``) holds no key of and the model has
    ``missing`` keys of (:func:`state_dict_differences`). A FlowNet
    without ``init_cfg`` starts from random weights, which is warned."""
    loaded = [unwrapped_key(key) for key in state_dict]
    left = sorted({
        prefix
        for prefix in absent_prefixes(loaded, MEMORY_ONLY_PREFIXES)
        for key in missing if key.startswith(prefix)
    })
    motion = getattr(unwrapped(runner.model), 'motion', None)
    if 'motion.' in left and getattr(motion, 'init_cfg', None) is None:
        left.remove('motion.')
        runner.logger.warning(
            f'load_from {filename} holds no motion.* weights and '
            f'model.motion has no init_cfg: FlowNet starts from random '
            f'weights (the real configs load a pre-trained one, mmtrack\'s '
            f'flownet_simple.pth, with motion.init_cfg)')
    if left:
        sources = [
            MEMORY_ONLY_SOURCES[p] for p in left if p in MEMORY_ONLY_SOURCES
        ]
        runner.logger.info(
            f'load_from {filename} holds no {", ".join(p + "*" for p in left)}'
            f' weights: they keep their own initialisation' +
            (f' ({", ".join(sources)})' if sources else ''))
