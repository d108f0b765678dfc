# Copyright (c) memvid_mm contributors. All rights reserved.
"""Load a checkpoint that has to fit the whole model, key for key.

Testing and inference need every parameter of the model from the
checkpoint. mmengine loads non-strictly by default and only logs a warning
when keys are missing, left over or of another shape, which leaves those
parameters at their random initialisation and the metrics silently wrong.
Its strict mode raises on rank 0 only (the other ranks of a distributed
test would go on with a partly random model), so the fit is also checked
here, on every rank. Training (``load_from`` a per-frame R-FCN into a
memory model) keeps mmengine's non-strict loading on purpose.
"""
import contextlib
import pickle
import re
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Union

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner, find_latest_checkpoint, load_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor, nn

# The first line of mmengine's strict-loading error (runner/checkpoint.py).
_MISMATCH = 'do not match exactly'

#: What ``torch.load`` raises for a truncated file or one that is not a
#: checkpoint (a bad zip archive is a RuntimeError, a legacy-format pickle
#: of garbage a KeyError or an UnpicklingError), none naming the file.
CHECKPOINT_READ_ERRORS = (OSError, EOFError, KeyError, AttributeError,
                          ImportError, RuntimeError, pickle.UnpicklingError)


class ForeignStateDictError(ValueError):
    """A state dict that fits none of a video detector's image detector
    (raised by its load pre-hook, ``models/detectors/detector_keys.py``)."""


@contextlib.contextmanager
def naming_unreadable_checkpoint(filename: str,
                                 what: str = 'checkpoint') -> Iterator[None]:
    """Re-raise a failure to read ``filename`` as an error that names it.

    A missing file stays a ``FileNotFoundError`` (mmengine's names it);
    mmengine's strict-loading error (keys that do not fit) passes through
    for :func:`load_fitting_checkpoint` to word.

    Args:
        filename (str): The checkpoint being read.
        what (str): What it is, for the message. Defaults to
            ``'checkpoint'``.

    Raises:
        ValueError: Naming ``filename`` and the original error.
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except CHECKPOINT_READ_ERRORS as err:
        if isinstance(err, RuntimeError) and _MISMATCH in str(err):
            raise
        raise ValueError(f'cannot read {what} {filename}: '
                         f'{type(err).__name__}: {err}') from err


def non_finite_keys(state_dict: Dict[str, Tensor]) -> List[str]:
    """Keys of the floating-point tensors that hold a NaN or an infinity.

    Args:
        state_dict (dict[str, Tensor]): Weights and buffers.

    Returns:
        list[str]: The keys at fault, in the order of ``state_dict``.
    """
    return [
        key for key, value in state_dict.items()
        if isinstance(value, Tensor) and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


def state_dict_misfits(model: nn.Module,
                       state_dict: Mapping[str, Tensor]) -> List[str]:
    """What keeps ``state_dict`` from fitting ``model``, key by key.

    Keys are compared as mmengine loads them: a leading ``module.`` (of a
    wrapped model) is dropped, and a missing BatchNorm
    ``num_batches_tracked`` is allowed.

    Args:
        model (nn.Module): The model to load into.
        state_dict (Mapping[str, Tensor]): The checkpoint's weights.

    Returns:
        list[str]: One line per kind of misfit (missing keys, unexpected
        keys, each size mismatch), worded as mmengine's strict load; empty
        when the state dict fits.
    """
    expected = model.state_dict()
    loaded = {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}
    misfits = []
    unexpected = [key for key in loaded if key not in expected]
    if unexpected:
        misfits.append('unexpected key in source state_dict: ' +
                       ', '.join(unexpected))
    missing = [
        key for key in expected
        if key not in loaded and 'num_batches_tracked' not in key
    ]
    if missing:
        misfits.append('missing keys in source state_dict: ' +
                       ', '.join(missing))
    for key, value in expected.items():
        shape = getattr(loaded.get(key), 'shape', value.shape)
        if shape != value.shape:
            misfits.append(f'size mismatch for {key}: copying a param with '
                           f'shape {tuple(shape)} from checkpoint, the shape '
                           f'in current model is {tuple(value.shape)}')
    return misfits


def load_fitting_checkpoint(target: Union[Runner, nn.Module],
                            filename: str) -> dict:
    """Load ``filename`` into a runner's model or a model, strictly.

    Args:
        target (Runner | nn.Module): A runner (its hooks see the checkpoint,
            as in ``Runner.load_checkpoint``) or a bare model.
        filename (str): The checkpoint.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        RuntimeError: When the checkpoint lacks a parameter or buffer of the
            model, has one the model lacks, or has one of another shape.
            The message names the checkpoint and the keys.
        ValueError: When the file cannot be read as a checkpoint, or a
            loaded tensor holds a NaN or an infinity (a training that
            diverged); the message names the file (and the keys).
    """
    model = target.model if isinstance(target, Runner) else target
    if is_model_wrapper(model):
        model = model.module
    try:
        with naming_unreadable_checkpoint(filename):
            if isinstance(target, Runner):
                checkpoint = target.load_checkpoint(filename, strict=True)
            else:
                checkpoint = load_checkpoint(
                    target, filename, map_location='cpu', strict=True)
    except ForeignStateDictError as err:  # a video detector's key check
        raise ForeignStateDictError(f'checkpoint {filename}: {err}') from err
    except RuntimeError as err:  # mmengine's strict load, on rank 0
        raise RuntimeError(
            f'checkpoint {filename} does not fit the model '
            f'({type(model).__name__}); was it trained with this config? '
            f'{err}') from err
    misfits = state_dict_misfits(model,
                                 checkpoint.get('state_dict', checkpoint))
    if misfits:  # on the other ranks mmengine only loads what fits
        raise RuntimeError(
            f'checkpoint {filename} does not fit the model '
            f'({type(model).__name__}); was it trained with this config? '
            + '; '.join(misfits))
    bad = non_finite_keys(model.state_dict())
    if bad:
        raise ValueError(
            f'checkpoint {filename} holds NaN or infinite values in '
            f'{len(bad)} tensors ({", ".join(bad[:5])}'
            f'{", ..." if len(bad) > 5 else ""}): did its training diverge?')
    return checkpoint


def check_checkpoint_classes(checkpoint: Mapping, classes: Sequence[str],
                             filename: str, where: str) -> bool:
    """Error if a checkpoint's model learned other classes than ``classes``.

    A model predicts label indices; the data set it is tested on turns
    them into class names. When the test data set lists the same classes
    in another order (or others), every label is scored as the wrong
    class and the metric is silently wrong. The runner records the
    training data set's ``metainfo`` in the checkpoint's
    ``meta['dataset_meta']``; its ``classes`` must be ``classes``, in
    order.

    Args:
        checkpoint (Mapping): The loaded checkpoint.
        classes (Sequence[str]): The class names, in label order, of the
            data set the model will be tested on.
        filename (str): The checkpoint's file, for the message.
        where (str): What ``classes`` come from, for the message (e.g.
            ``'test_dataloader.dataset'``).

    Returns:
        bool: True when compared, False when the checkpoint records no
        class names (a checkpoint not saved by mmengine's runner), which
        cannot be checked.

    Raises:
        ValueError: Naming the file and both class lists.
    """
    meta = checkpoint.get('meta')
    dataset_meta = meta.get('dataset_meta') if isinstance(meta,
                                                          Mapping) else None
    trained = (dataset_meta or {}).get('classes')
    if trained is None:
        return False
    if tuple(trained) != tuple(classes):
        same = ('the same classes in another order'
                if sorted(trained) == sorted(classes) else 'other classes')
        raise ValueError(
            f'checkpoint {filename} was trained on classes '
            f'{tuple(trained)!r:.300} (label order), but {where} lists '
            f'{tuple(classes)!r:.300}: {same}, so every label would be '
            f'scored as the wrong class. Test with the classes (and their '
            f'order) of the training data set')
    return True


def load_test_checkpoint(runner: Runner, filename: str) -> dict:
    """Load a checkpoint to test with ``runner``: it must fit the model
    (:func:`load_fitting_checkpoint`) and its classes the test data set
    (:func:`check_checkpoint_classes`).

    Builds the runner's test loop (``runner.test()`` then uses it). A
    checkpoint that records no classes is loaded with a warning that its
    classes could not be checked.

    Args:
        runner (Runner): The runner that will test.
        filename (str): The checkpoint.

    Returns:
        dict: The loaded checkpoint.
    """
    checkpoint = load_fitting_checkpoint(runner, filename)
    classes = runner.test_dataloader.dataset.metainfo.get('classes')
    if classes is None:
        return checkpoint
    check_num_classes(runner.model, classes, 'test_dataloader.dataset')
    if not check_checkpoint_classes(checkpoint, classes, filename,
                                    'test_dataloader.dataset'):
        runner.logger.warning(
            f'checkpoint {filename} records no class names '
            f"(meta['dataset_meta']['classes']), so they cannot be checked "
            f'against the test data set\'s {tuple(classes)!r:.200}; the '
            f'labels are read in that order')
    return checkpoint


#: Keys of a memory model that a per-frame start (``load_from`` a trained
#: R-FCN) does not hold: FlowNet comes from its own ``init_cfg``, psi and
#: the memories' combination from their initialisation.
MEMORY_ONLY_PREFIXES = ('motion.', 'aggregator.')


def start_checkpoint_misfits(model: nn.Module,
                             state_dict: Mapping[str, Tensor],
                             allowed_missing: Sequence[str] = ()
                             ) -> List[str]:
    """What of ``model`` a training start from ``state_dict`` would leave
    at its initialisation, or could not load.

    Args:
        model (nn.Module): The model to train.
        state_dict (Mapping[str, Tensor]): The checkpoint's weights.
        allowed_missing (Sequence[str]): Key prefixes that may be missing
            (they are initialised otherwise). Defaults to ().

    Returns:
        list[str]: One line per kind of misfit (see
        :func:`state_dict_misfits`), and a hint for an image detector's
        own checkpoint loaded into a video detector; empty when everything
        fits.
    """
    expected = model.state_dict()
    loaded = [re.sub(r'^module\.', '', key) for key in state_dict]
    bare = [key for key in loaded if f'detector.{key}' in expected]
    misfits = []
    if bare and not any(key in expected for key in loaded):
        misfits.append(
            f'{len(bare)} of its keys are the image detector\'s without '
            f'the "detector." prefix (e.g. {bare[0]}): load such a '
            f'checkpoint with model.detector.init_cfg=dict(type='
            f'"Pretrained", checkpoint=...) instead')
    for line in state_dict_misfits(model, state_dict):
        head, _, keys = line.partition(': ')
        if head == 'missing keys in source state_dict':
            keys = [
                key for key in keys.split(', ')
                if not key.startswith(tuple(allowed_missing))
            ]
            if not keys:
                continue
            line = f'{head}: {", ".join(keys)}'
        misfits.append(line)
    return misfits


def check_training_start(runner: Runner) -> Optional[str]:
    """Refuse a ``load_from`` or ``resume`` checkpoint that does not fit.

    mmengine loads ``load_from`` leniently: a parameter the checkpoint
    lacks, or holds in another shape, stays at its random initialisation
    and the run trains on with a logged list of keys. Called before
    ``runner.train()``, this reads the checkpoint the run would start from
    and raises, naming the file, when:

    * a resumed run's checkpoint does not fit the model exactly (another
      model's or config's checkpoint would fail later in the optimizer, or
      resume a head of other classes);
    * ``load_from`` misses a parameter outside FlowNet and the memory
      (:data:`MEMORY_ONLY_PREFIXES`, which a per-frame start lacks), holds
      keys the model lacks or a parameter of another shape;
    * the checkpoint's classes (``meta['dataset_meta']``) are not the
      training set's, in label order (:func:`check_checkpoint_classes`);
    * it holds a NaN or an infinity.

    A config with ``load_from_partial=True`` starts anyway from what fits
    (e.g. a head fine-tuned to other classes), and this returns what was
    left at initialisation for the caller to log; the non-finite check
    stays.

    Args:
        runner (Runner): The built runner, before ``train()``.

    Returns:
        str, optional: What ``load_from_partial`` let through, to log;
        None when nothing was.

    Raises:
        ValueError: Naming the file and what does not fit.
    """
    cfg = runner.cfg
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    resume = bool(cfg.get('resume', False))
    filename = cfg.get('load_from')
    if resume and filename is None:
        filename = find_latest_checkpoint(runner.work_dir)
    if filename is None:
        return None
    what = 'resume' if resume else 'load_from'
    with naming_unreadable_checkpoint(filename):
        checkpoint = _load_checkpoint(filename, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    bad = non_finite_keys(state_dict)
    if bad:
        raise ValueError(
            f'{what} checkpoint {filename} holds NaN or infinite values in '
            f'{len(bad)} tensors ({", ".join(bad[:5])}'
            f'{", ..." if len(bad) > 5 else ""}): did its training diverge?')
    misfits = start_checkpoint_misfits(
        model, state_dict, () if resume else MEMORY_ONLY_PREFIXES)
    classes = runner.train_dataloader.dataset.metainfo.get('classes')
    if classes is not None:
        try:
            check_checkpoint_classes(checkpoint, classes, filename,
                                     'train_dataloader.dataset')
        except ValueError as err:
            misfits.append(str(err))
    if not misfits:
        return None
    found = '; '.join(misfits)
    if resume:
        raise ValueError(
            f'cannot resume from {filename}: it does not fit the model '
            f'({type(model).__name__}); is it another config\'s '
            f'checkpoint? {found}')
    if not cfg.get('load_from_partial', False):
        raise ValueError(
            f'load_from {filename} does not fit the model '
            f'({type(model).__name__}), so training would start with these '
            f'parameters at their random initialisation: {found}. Set '
            f'load_from_partial=True (--cfg-options load_from_partial=True) '
            f'to train from what fits on purpose, e.g. a head fine-tuned '
            f'to other classes')
    return (f'load_from_partial: {filename} does not fit the model; these '
            f'parameters start at their initialisation: {found}')


def check_num_classes(model: nn.Module, classes: Optional[Sequence[str]],
                      where: str) -> None:
    """Error if a head of ``model`` predicts another number of classes.

    A box head of fewer classes than the data set trains the extra
    classes' boxes as background (label ``num_classes``) without an error;
    one of more never sees its extra classes. The RPN (one foreground
    class) is not compared. The check of mmdet's ``NumClassCheckHook``,
    raised as a ValueError before training or testing starts.

    Args:
        model (nn.Module): The model (wrapped or not).
        classes (Sequence[str], optional): The data set's class names; None
            skips the check (a data set without ``classes`` metainfo).
        where (str): The data set, for the message.

    Raises:
        ValueError: Naming the head, its ``num_classes`` and the classes.
    """
    if classes is None:
        return
    model = model.module if is_model_wrapper(model) else model
    for name, module in model.named_modules():
        num_classes = getattr(module, 'num_classes', None)
        if (isinstance(num_classes, int) and not name.endswith('rpn_head')
                and num_classes != len(classes)):
            raise ValueError(
                f'{name} ({type(module).__name__}) predicts {num_classes} '
                f'classes, but {where} has {len(classes)} '
                f'({tuple(classes)!r:.200}); set its num_classes to '
                f'{len(classes)}')
