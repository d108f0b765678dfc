# Copyright (c) memvid_mm contributors. All rights reserved.
"""Load a checkpoint that has to fit the whole model, key for key.

Testing and inference need every parameter of the model from the
checkpoint. mmengine loads non-strictly by default and only logs a warning
when keys are missing, left over or of another shape, which leaves those
parameters at their random initialisation and the metrics silently wrong.
Its strict mode raises on rank 0 only (the other ranks of a distributed
test would go on with a partly random model), so the fit is also checked
here, on every rank. The start of a training (``load_from`` a per-frame
R-FCN into a memory model, or a resumed run) is checked by
:mod:`.training_start`.
"""
import contextlib
import glob
import os.path as osp
import pickle
import re
from typing import (Dict, Iterator, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)
from torch import Tensor, nn

from .trained_settings import other_model_settings

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


class CheckpointClassesError(ValueError):
    """A checkpoint trained on other classes (or the same in another order)
    than a data set the run uses (:func:`check_checkpoint_classes`)."""


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

    Yields:
        None: The ``with`` block, whose read of ``filename`` is watched.

    Raises:
        ValueError: Naming ``filename``, saying it may be truncated or not
            a checkpoint, and the original error.
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except CHECKPOINT_READ_ERRORS as err:
        if isinstance(err, RuntimeError) and _MISMATCH in str(err):
            raise
        raise ValueError(f'cannot read {what} {filename} (the file may be '
                         f'truncated, or not a checkpoint): '
                         f'{type(err).__name__}: {err}') from err


def pretrained_init_cfg(init_cfg: Optional[Union[dict, Sequence[dict]]],
                        owner: str) -> Optional[dict]:
    """The ``Pretrained`` entry of an ``init_cfg``, if it has one.

    Args:
        init_cfg (dict | list[dict], optional): A module's ``init_cfg``.
        owner (str): Whose it is, for the message (e.g.
            ``'FlowNetSimple'``).

    Returns:
        dict, optional: The ``init_cfg`` itself when it is a
        ``Pretrained`` dict, the one ``Pretrained`` entry of a list, or
        None.

    Raises:
        ValueError: When a list holds more than one ``Pretrained`` entry.
    """
    entries = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    pretrained = [
        entry for entry in entries
        if isinstance(entry, dict) and entry.get('type') == 'Pretrained'
    ]
    if len(pretrained) > 1:
        raise ValueError(f'{owner} init_cfg holds {len(pretrained)} '
                         f'Pretrained entries, expected at most one: '
                         f'{init_cfg!r}')
    return pretrained[0] if pretrained else None


def last_checkpoint_file(directory: str, latest: str) -> Optional[str]:
    """The file a directory's ``last_checkpoint`` entry means.

    mmengine's ``CheckpointHook`` writes the checkpoint's full path. In a
    work dir copied or moved since, that path names the old directory (a
    reused one holds another run's file), so the file of that name in
    ``directory`` comes first when the path as written is missing or lies
    in another work dir (one with a ``last_checkpoint`` of its own). A
    checkpoint saved to the hook's ``out_dir`` (which holds no
    ``last_checkpoint``), or a URI, is taken as written, even where the
    reused ``directory`` still holds an earlier run's file of that name.

    Args:
        directory (str): The directory holding ``last_checkpoint``.
        latest (str): The path it holds.

    Returns:
        str, optional: The checkpoint; None when neither exists.
    """
    if '://' in latest:
        return latest
    in_out_dir = not osp.isfile(
        osp.join(osp.dirname(latest), 'last_checkpoint'))
    if osp.isfile(latest) and in_out_dir:
        return latest
    local = osp.join(directory, osp.basename(latest))
    if osp.isfile(local):
        return local
    return latest if osp.isfile(latest) else None


def checkpoint_in(directory: str) -> Optional[Tuple[str, str]]:
    """The checkpoint a work directory points to, else its newest.

    Args:
        directory (str): A directory, e.g. a training's ``work_dir``.

    Returns:
        tuple[str, str], optional: The checkpoint file and how it was
        found (``'its last_checkpoint'``, written by mmengine's
        ``CheckpointHook``, or ``'the newest .pth in it'``); None when the
        directory holds no ``.pth`` file.
    """
    pointer = osp.join(directory, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            latest = f.read().strip()
        path = last_checkpoint_file(directory, latest) if latest else None
        if path is not None:
            return path, 'its last_checkpoint'
    files = [
        path for path in glob.glob(osp.join(directory, '*.pth'))
        if osp.isfile(path)
    ]
    if not files:
        return None
    return max(files, key=osp.getmtime), 'the newest .pth in it'


def check_checkpoint_file(filename: str) -> None:
    """Refuse a directory given as a checkpoint, before anything is built.

    mmengine would say of an existing directory that it ``can not be
    found``.

    Args:
        filename (str): The checkpoint argument.

    Raises:
        IsADirectoryError: When ``filename`` is a directory; the message
            names it and suggests its last (or newest) checkpoint, if any.
    """
    if not osp.isdir(filename):
        return
    found = checkpoint_in(filename)
    hint = (f', e.g. {found[0]} ({found[1]})'
            if found is not None else '; it holds no .pth file')
    raise IsADirectoryError(
        f'checkpoint {filename} is a directory, but a checkpoint file (.pth) '
        f'is expected{hint}')


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


def check_finite_weights(state_dict: Mapping[str, Tensor], name: str) -> None:
    """Error if a tensor of ``state_dict`` holds a NaN or an infinity.

    Args:
        state_dict (Mapping[str, Tensor]): A checkpoint's weights.
        name (str): The checkpoint, for the message (e.g. ``'checkpoint
            epoch_3.pth'``).

    Raises:
        ValueError: Naming ``name``, the number of such tensors and the
            first five keys: did its training diverge?
    """
    bad = non_finite_keys(state_dict)
    if bad:
        raise ValueError(
            f'{name} holds NaN or infinite values in {len(bad)} tensors '
            f'({", ".join(bad[:5])}{", ..." if len(bad) > 5 else ""}): did '
            f'its training diverge?')


def does_not_fit(filename: str, model: nn.Module,
                 details: str) -> RuntimeError:
    """The error for a checkpoint that does not fit ``model`` exactly.

    Args:
        filename (str): The checkpoint's file.
        model (nn.Module): The model (not wrapped).
        details (str): What does not fit (keys and shapes).

    Returns:
        RuntimeError: To raise.
    """
    return RuntimeError(
        f'checkpoint {filename} does not fit the model '
        f'({type(model).__name__}); was it trained with this config? '
        f'{details}')


def unwrapped_key(key: str) -> str:
    """A checkpoint key as mmengine loads it: without the leading
    ``module.`` of a wrapped (distributed) model.

    Args:
        key (str): A state dict key.

    Returns:
        str: ``key`` without a leading ``module.`` (only the first one).
    """
    return re.sub(r'^module\.', '', key)


def state_dict_differences(
    model: nn.Module, state_dict: Mapping[str, Tensor]
) -> Tuple[List[str], List[str], List[Tuple[str, tuple, tuple]]]:
    """How ``state_dict`` differs from ``model``'s, key by key.

    Keys are compared as mmengine loads them: a leading ``module.`` (of a
    wrapped model) is dropped, and a missing BatchNorm
    ``num_batches_tracked`` is allowed.

    Args:
        model (nn.Module): The model to load into.
        state_dict (Mapping[str, Tensor]): The checkpoint's weights.

    Returns:
        tuple: ``unexpected`` keys (in the checkpoint only), ``missing``
        keys (in the model only) and ``(key, checkpoint shape, model
        shape)`` of each key of another shape.
    """
    expected = model.state_dict()
    loaded = {unwrapped_key(k): v for k, v in state_dict.items()}
    unexpected = [key for key in loaded if key not in expected]
    missing = [
        key for key in expected
        if key not in loaded and 'num_batches_tracked' not in key
    ]
    mismatched = []
    for key, value in expected.items():
        shape = getattr(loaded.get(key), 'shape', value.shape)
        if shape != value.shape:
            mismatched.append((key, tuple(shape), tuple(value.shape)))
    return unexpected, missing, mismatched


def format_misfits(
        unexpected: Sequence[str], missing: Sequence[str],
        mismatched: Sequence[Tuple[str, tuple, tuple]]) -> List[str]:
    """Word :func:`state_dict_differences` as mmengine's strict load.

    Args:
        unexpected (Sequence[str]): Keys in the checkpoint only.
        missing (Sequence[str]): Keys in the model only.
        mismatched (Sequence[tuple[str, tuple, tuple]]): ``(key,
            checkpoint shape, model shape)`` of each key of another shape.

    Returns:
        list[str]: One line per kind of misfit; empty when there is none.
    """
    misfits = []
    if unexpected:
        misfits.append('unexpected key in source state_dict: ' +
                       ', '.join(unexpected))
    if missing:
        misfits.append('missing keys in source state_dict: ' +
                       ', '.join(missing))
    for key, loaded_shape, shape in mismatched:
        misfits.append(f'size mismatch for {key}: copying a param with '
                       f'shape {loaded_shape} from checkpoint, the shape '
                       f'in current model is {shape}')
    return misfits


def state_dict_misfits(model: nn.Module,
                       state_dict: Mapping[str, Tensor]) -> List[str]:
    """What keeps ``state_dict`` from fitting ``model``, key by key.

    Args:
        model (nn.Module): The model to load into.
        state_dict (Mapping[str, Tensor]): The checkpoint's weights.

    Returns:
        list[str]: One line per kind of misfit (missing keys, unexpected
        keys, each size mismatch), worded as mmengine's strict load; empty
        when the state dict fits (see :func:`state_dict_differences`).
    """
    return format_misfits(*state_dict_differences(model, state_dict))


def unwrapped(model: nn.Module) -> nn.Module:
    """The model inside a wrapper (DDP, ...), or ``model`` itself.

    Args:
        model (nn.Module): A model, wrapped or not.

    Returns:
        nn.Module: ``model.module`` for a model wrapper (one level), else
        ``model``.
    """
    return model.module if is_model_wrapper(model) else model


def check_checkpoint_fits(model: nn.Module, state_dict: Mapping[str, Tensor],
                          filename: str) -> None:
    """Error unless ``state_dict`` fits ``model`` exactly and is finite.

    Args:
        model (nn.Module): The model (not wrapped) to load into.
        state_dict (Mapping[str, Tensor]): The checkpoint's weights.
        filename (str): The checkpoint's file, for the message.

    Raises:
        RuntimeError: When the checkpoint lacks a parameter or buffer of the
            model, has one the model lacks, or has one of another shape;
            naming the file and the keys.
        ValueError: When a tensor holds a NaN or an infinity (a training
            that diverged); naming the file and the keys.
    """
    misfits = state_dict_misfits(model, state_dict)
    if misfits:
        raise does_not_fit(filename, model, '; '.join(misfits))
    check_finite_weights(state_dict, f'checkpoint {filename}')


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
        IsADirectoryError: When ``filename`` is a directory
            (:func:`check_checkpoint_file`).
    """
    check_checkpoint_file(filename)
    runner = target if isinstance(target, Runner) else None
    model = unwrapped(target.model if runner is not None else target)
    # the steps of Runner.load_checkpoint, with the hooks outside the
    # guard: an error a hook raises is its own, not an unreadable file
    with naming_unreadable_checkpoint(filename):
        checkpoint = _load_checkpoint(filename, map_location='cpu')
    if runner is not None:
        runner.call_hook('after_load_checkpoint', checkpoint=checkpoint)
    try:
        with naming_unreadable_checkpoint(filename):
            checkpoint = _load_checkpoint_to_model(
                model, checkpoint, strict=True)
    except ForeignStateDictError as err:  # a video detector's key check
        raise ForeignStateDictError(f'checkpoint {filename}: {err}') from err
    except RuntimeError as err:  # mmengine's strict load, on rank 0
        raise does_not_fit(filename, model, str(err)) from err
    if runner is not None:
        runner._has_loaded = True  # as Runner.load_checkpoint sets it
        runner.logger.info(f'Load checkpoint from {filename}')
    # on the ranks but 0 mmengine's strict load only loads what fits
    check_checkpoint_fits(model, checkpoint.get('state_dict', checkpoint),
                          filename)
    return checkpoint


def trained_classes(
        checkpoint: Mapping,
        filename: Optional[str] = None) -> Optional[Tuple[str, ...]]:
    """The class names, in label order, that a checkpoint's model learned.

    The runner records the training data set's ``metainfo`` in the
    checkpoint's ``meta['dataset_meta']``.

    Args:
        checkpoint (Mapping): The loaded checkpoint.
        filename (str, optional): Its file, for the message. Defaults to
            None.

    Returns:
        tuple[str], optional: The classes; None when the checkpoint records
        none (one not saved by mmengine's runner).

    Raises:
        ValueError: When ``meta`` or ``meta['dataset_meta']`` is there but
            not a dict, or the classes are not a list of names (a string
            would be read as one class per letter).
    """
    name = f'checkpoint {filename}' if filename else 'the checkpoint'
    entry = checkpoint
    for key in ('meta', 'dataset_meta'):
        entry = entry.get(key)
        if entry is None:
            return None
        if not isinstance(entry, Mapping):
            where = "meta['dataset_meta']" if key == 'dataset_meta' else key
            raise ValueError(f'{name}: {where} must be a dict, got '
                             f'{type(entry).__name__} {entry!r:.80}')
    classes = entry.get('classes')
    if classes is None:
        return None
    if not isinstance(classes, (list, tuple)) or not all(
            isinstance(c, str) for c in classes):
        raise ValueError(f"{name}: meta['dataset_meta']['classes'] must be a "
                         f'list of class names, got {classes!r:.80}')
    return tuple(classes)


def class_difference(trained: Sequence[str], classes: Sequence[str],
                     where: str) -> Optional[str]:
    """Say how a model's classes differ from a data set's, if they do.

    Args:
        trained (Sequence[str]): The classes the model learned, in label
            order (:func:`trained_classes`).
        classes (Sequence[str]): The data set's, in label order.
        where (str): The data set, for the message (e.g.
            ``'test_dataloader.dataset'``).

    Returns:
        str, optional: ``"classes (...) (label order), but <where> lists
        (...): the same classes in another order"`` (or ``other
        classes``); None when they are the same, in the same order.
    """
    if tuple(trained) == tuple(classes):
        return None
    same = ('the same classes in another order'
            if sorted(trained) == sorted(classes) else 'other classes')
    return (f'classes {tuple(trained)!r:.300} (label order), but {where} '
            f'lists {tuple(classes)!r:.300}: {same}')


def check_checkpoint_classes(checkpoint: Mapping, classes: Sequence[str],
                             filename: Optional[str], where: str) -> bool:
    """Error if a checkpoint's model learned other classes than ``classes``.

    A model predicts label indices; the data set it is tested on turns
    them into class names. When the test data set lists the same classes
    in another order (or others), every label is scored as the wrong
    class and the metric is silently wrong. The classes the checkpoint
    records (:func:`trained_classes`) must be ``classes``, in order.

    Args:
        checkpoint (Mapping): The loaded checkpoint.
        classes (Sequence[str]): The class names, in label order, of the
            data set the model will be tested on.
        filename (str, optional): The checkpoint's file, for the message
            (None: unknown, as in a runner's ``after_load_checkpoint``).
        where (str): What ``classes`` come from, for the message (e.g.
            ``'test_dataloader.dataset'``).

    Returns:
        bool: True when compared, False when the checkpoint records no
        class names (a checkpoint not saved by mmengine's runner), which
        cannot be checked.

    Raises:
        CheckpointClassesError: Naming the file and both class lists.
    """
    trained = trained_classes(checkpoint, filename)
    if trained is None:
        return False
    difference = class_difference(trained, classes, where)
    if difference is not None:
        name = f'checkpoint {filename}' if filename else 'the checkpoint'
        raise CheckpointClassesError(
            f'{name} was trained on {difference}, so its labels would be '
            f'read as the wrong classes. Use the classes (and their order) '
            f'of the data set it was trained on')
    return True


def load_test_checkpoint(runner: Runner, filename: str) -> dict:
    """Load a checkpoint to test with ``runner``: it must fit the model
    (:func:`load_fitting_checkpoint`) and its classes the test data set
    (:func:`check_checkpoint_classes`); model settings other than those it
    was trained with are logged (:func:`other_model_settings`).

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
    settings = other_model_settings(checkpoint, runner.cfg.model, filename)
    if settings is not None:
        runner.logger.warning(settings)
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


def check_num_classes(model: nn.Module, classes: Optional[Sequence[str]],
                      where: str) -> None:
    """Error if a head of ``model`` predicts another number of classes.

    A box head of one class fewer than the data set trains the last
    class's boxes as background (label ``num_classes``) without an error,
    and of more than one fewer fails in the loss; one of more classes
    never sees its extra classes and fails in the metric, which refuses
    labels beyond the data set's classes. The RPN (one foreground
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
    for name, module in unwrapped(model).named_modules():
        num_classes = getattr(module, 'num_classes', None)
        if (isinstance(num_classes, int) and not name.endswith('rpn_head')
                and num_classes != len(classes)):
            raise ValueError(
                f'{name} ({type(module).__name__}) predicts {num_classes} '
                f'classes, but {where} has {len(classes)} '
                f'({tuple(classes)!r:.200}); set its num_classes to '
                f'{len(classes)}')
