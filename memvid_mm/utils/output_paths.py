# Copyright (c) memvid_mm contributors. All rights reserved.
"""Refuse an output file that is one of a tool's input files."""
import os
import os.path as osp
from typing import Mapping, Optional


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (also through links)."""
    if osp.realpath(a) == osp.realpath(b):
        return True
    try:
        return osp.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_not_an_input(output: Optional[str], option: str,
                       inputs: Mapping[str, Optional[str]]) -> None:
    """Error before any work if ``output`` would overwrite an input.

    Args:
        output (str, optional): The file the tool will write; None (the
            option not given) passes.
        option (str): Its command-line option, for the message (e.g.
            ``'--out'``).
        inputs (Mapping[str, str | None]): The input files by what they
            are (e.g. ``{'the dump': 'results.pkl'}``); None values are
            skipped.

    Raises:
        ValueError: Naming the option, the path and the input it is.
    """
    if output is None:
        return
    for what, path in inputs.items():
        if path is not None and _same_file(os.fspath(output), path):
            raise ValueError(
                f'{option} {output} is {what} ({path}): writing it would '
                'overwrite that input; give another file')


def check_test_outputs(config: str,
                       checkpoint: str,
                       out: Optional[str],
                       metrics_out: Optional[str],
                       ann_file: Optional[str] = None) -> None:
    """The ``--out`` dump and ``--metrics-out`` JSON of a test tool: neither
    may be the config, the checkpoint or the test annotation file, nor the
    metrics the dump.

    Args:
        config (str): The config file.
        checkpoint (str): The checkpoint file.
        out (str, optional): The ``--out`` dump.
        metrics_out (str, optional): The ``--metrics-out`` JSON.
        ann_file (str, optional): The test data set's annotation file
            (:func:`~memvid_mm.evaluation.dataset_ann_file` of the
            config's test dataset). Defaults to None (not checked).

    Raises:
        ValueError: As :func:`check_not_an_input`.
    """
    inputs = {
        'the config': config,
        'the checkpoint': checkpoint,
        'the test annotation file': ann_file
    }
    check_not_an_input(out, '--out', inputs)
    check_not_an_input(metrics_out, '--metrics-out',
                       dict(inputs, **{'the --out dump': out}))
