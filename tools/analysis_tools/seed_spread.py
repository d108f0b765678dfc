# Copyright (c) memvid_mm contributors. All rights reserved.
"""Spread of the ImageNet VID metrics over training runs, and the gains of
the means over a reference, from ``tools/test.py --metrics-out`` files.

``compare_vid.py``'s intervals cover the choice of val videos for one
trained model each. This tool covers the other source of variation, the
training itself: train a config several times (e.g. ``--cfg-options
randomness.seed=N``), test every checkpoint with ``--metrics-out`` and pass
the files grouped by model, the reference first. Per model it prints every
metric's mean, sample standard deviation and range over the runs; per
model after the reference, the gain of the means with its standard error
(Welch: ``sqrt(sd_model^2 / n_model + sd_ref^2 / n_ref)``; runs are not
paired across models), and the same for the contrasts "gain on fast minus
gain on medium / slow" (computed from each run's own split difference).
A file is one run of one model: given twice, for one model or for two
(the reference and another too), it is refused. Every run must be scored on
one annotation file: files that record theirs (``tools/test.py`` writes its
path and SHA-256 under ``ann_file``) are refused when the digests differ;
files that record none (written before it did) pass with a warning.

Example::

    python tools/analysis_tools/seed_spread.py \\
        --model R-FCN seed1/rfcn/test_metrics.json \\
            seed2/rfcn/test_metrics.json \\
        --model ClockNet seed1/clocknet/test_metrics.json \\
            seed2/clocknet/test_metrics.json
"""
import argparse
import json
import math
import os.path as osp
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from memvid_mm.evaluation.functional import recorded_ann_file
from memvid_mm.utils.output_paths import check_not_an_input

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# the metrics and split contrasts that compare_vid.py reports
from compare_vid import METRICS, SPLIT_CONTRASTS  # noqa: E402

METRIC_PREFIX = 'vid/'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of the tool."""
    parser = argparse.ArgumentParser(
        description='Spread of VID metrics over training runs and gains '
        'of the means over a reference')
    parser.add_argument(
        '--model',
        nargs='+',
        action='append',
        required=True,
        metavar=('NAME', 'METRICS_JSON'),
        help='a model name and the metrics JSON of each of its runs; '
        'repeat per model, the reference first')
    parser.add_argument('--out', help='also write the report (Markdown) here')
    args = parser.parse_args(argv)
    for group in args.model:
        if len(group) < 2:
            parser.error(f'--model {group[0]} needs at least one metrics '
                         'file after the name')
    if len(args.model) < 2:
        parser.error('give a reference and at least one other --model')
    return args


def read_metrics_json(path: str) -> dict:
    """The JSON object of one ``--metrics-out`` file.

    Raises:
        ValueError: If the file is not valid JSON or not an object; the
            message names the file.
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: not valid JSON ({error})') from None
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a JSON object of metrics, got '
                         f'{type(data).__name__}')
    return data


def load_metrics(path: str) -> Dict[str, float]:
    """The ``vid/*`` metrics of one ``--metrics-out`` file, unprefixed.

    Raises:
        ValueError: If the file is not a JSON object of numbers, holds no
            ``vid/mAP``, a ``vid/*`` metric outside [0, 1] (already a
            percentage?) or a NaN in a metric of the report (a per-class
            AP may be NaN: a class without ground truth); the message
            names the file and the metric.
    """
    data = read_metrics_json(path)
    metrics = {}
    for key, value in data.items():
        if not key.startswith(METRIC_PREFIX):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f'{path}: metric {key!r} is not a number: '
                             f'{value!r}')
        if math.isnan(value):
            if key[len(METRIC_PREFIX):] in METRICS:  # a column of the report
                raise ValueError(f'{path}: metric {key!r} is NaN (no ground '
                                 'truth in that split?); it has no value to '
                                 'average over the runs')
        elif not 0 <= value <= 1:
            raise ValueError(f'{path}: metric {key!r} is {value!r}, not an '
                             'AP in [0, 1] as tools/test.py --metrics-out '
                             'writes it (already a percentage?)')
        metrics[key[len(METRIC_PREFIX):]] = float(value)
    if 'mAP' not in metrics:
        raise ValueError(f'{path}: no {METRIC_PREFIX}mAP; is this a '
                         'tools/test.py --metrics-out file of the VID '
                         'metric?')
    return metrics


def stack_runs(paths: Sequence[str]) -> Dict[str, np.ndarray]:
    """Per metric the ``(R,)`` values of R runs (x 100).

    Raises:
        ValueError: If a file is given twice (one run counted as two) or
            the runs do not report the same metrics (names the first file
            that differs from the first run).
    """
    seen = {}
    for path in paths:
        real = osp.realpath(path)
        if real in seen:
            also = '' if seen[real] == path else f' (as {seen[real]} too)'
            raise ValueError(f'{path} is given twice for one model{also}: '
                             'one run would count as two')
        seen[real] = path
    runs = [load_metrics(path) for path in paths]
    for path, metrics in zip(paths[1:], runs[1:]):
        if set(metrics) != set(runs[0]):
            raise ValueError(
                f'{path} reports {sorted(metrics)}, but {paths[0]} '
                f'reports {sorted(runs[0])}: runs of one model must be '
                'tested the same way')
    return {
        key: 100 * np.array([metrics[key] for metrics in runs])
        for key in runs[0]
    }


def check_no_run_of_two_models(models: Sequence[Sequence[str]]) -> None:
    """Refuse a metrics file given under more than one ``--model``.

    A test of one checkpoint is a run of one model: counted for two models
    (also as a run of the reference and of another model) it would make
    them look closer than their runs are.

    Args:
        models (Sequence[Sequence[str]]): Per ``--model``, its name and its
            metrics files, the reference first.

    Raises:
        ValueError: Naming the file (and its other spelling, if the two
            models name it differently) and both models.
    """
    # the real path of each file given so far: the model and the spelling
    seen: Dict[str, Tuple[int, str]] = {}
    for index, (name, *paths) in enumerate(models):
        for path in paths:
            real = osp.realpath(path)
            if real in seen and seen[real][0] != index:
                first, first_path = seen[real]
                also = '' if first_path == path else f' (as {first_path})'
                role = ' (the reference)' if first == 0 else ''
                raise ValueError(
                    f'{path} is given for --model {name} and for --model '
                    f'{models[first][0]}{role}{also}: one run would count '
                    'as a run of two models')
            seen.setdefault(real, (index, path))


def load_test_set(path: str) -> Optional[dict]:
    """The tested annotation file that a metrics file records, if any.

    Returns:
        dict | None: ``{'path': str, 'sha256': str}``, or None for a file
        that records none.

    Raises:
        ValueError: If the file is not a JSON object or the record is
            malformed (names the file).
    """
    return recorded_ann_file(read_metrics_json(path), path)


def check_one_test_set(models: Sequence[Sequence[str]]) -> None:
    """Refuse runs scored on different annotation files.

    The spread and the gains compare runs; scored on different val sets
    their differences would mix the data with the training. A file without
    a record (written before ``tools/test.py`` recorded one, or by a test
    whose dataset config has no ``ann_file``) cannot be checked: it passes
    with a warning that names it.

    Args:
        models (Sequence[Sequence[str]]): Per ``--model``, its name and its
            metrics files, the reference first.

    Raises:
        ValueError: Naming two files of different annotation files (their
            models, paths and digests).
    """
    first: Optional[Tuple[str, str, dict]] = None
    unrecorded: List[str] = []
    for name, *paths in models:
        for path in paths:
            record = load_test_set(path)
            if record is None:
                unrecorded.append(path)
            elif first is None:
                first = (name, path, record)
            elif record['sha256'] != first[2]['sha256']:
                first_name, first_path, first_record = first
                raise ValueError(
                    f'{path} (--model {name}) was scored on '
                    f'{record["path"]} (SHA-256 {record["sha256"][:12]}...), '
                    f'but {first_path} (--model {first_name}) on '
                    f'{first_record["path"]} (SHA-256 '
                    f'{first_record["sha256"][:12]}...): the runs must be '
                    'tested on the same annotation file')
    if unrecorded:
        extra = len(unrecorded) - 3
        shown = ', '.join(
            unrecorded[:3]) + (f' and {extra} more' if extra > 0 else '')
        warnings.warn(
            f'{len(unrecorded)} metrics file(s) record no tested annotation '
            f'file, so they cannot be checked to be scored on the same data '
            f'as the others: {shown}')


def spread(values: np.ndarray) -> Dict[str, float]:
    """Mean, sample standard deviation (nan for one run), min and max."""
    return dict(
        mean=float(values.mean()),
        sd=float(values.std(ddof=1)) if len(values) > 1 else math.nan,
        low=float(values.min()),
        high=float(values.max()),
        runs=len(values))


def gain_of_means(base: np.ndarray, model: np.ndarray) -> Tuple[float, float]:
    """Difference of the means and its Welch standard error.

    Args:
        base (np.ndarray): ``(R_b,)`` values of the reference's runs.
        model (np.ndarray): ``(R_m,)`` values of the model's runs.

    Returns:
        tuple[float, float]: ``mean(model) - mean(base)`` and
        ``sqrt(var(model) / R_m + var(base) / R_b)`` (sample variances;
        nan unless both have at least two runs).
    """
    gain = float(model.mean() - base.mean())
    if len(base) < 2 or len(model) < 2:
        return gain, math.nan
    error = math.sqrt(
        model.var(ddof=1) / len(model) + base.var(ddof=1) / len(base))
    return gain, error


def _number(value: float, sign: bool = False) -> str:
    if math.isnan(value):
        return '-'
    return f'{value:+.1f}' if sign else f'{value:.1f}'


def spread_table(runs: Dict[str, Dict[str, np.ndarray]]) -> str:
    """Markdown: per model and metric, mean, sd and range over runs.

    The columns are the metrics of :data:`METRICS` that the first model
    (the reference) reports; every other model must report them too.
    """
    first = next(iter(runs.values()))
    keys = [key for key in METRICS if key in first]
    lines = [
        '| model | runs | ' + ' | '.join(keys) + ' |',
        '|---|---|' + '---|' * len(keys)
    ]
    for name, metrics in runs.items():
        cells = []
        for key in keys:
            s = spread(metrics[key])
            cells.append(f'{s["mean"]:.1f} ± {_number(s["sd"])} '
                         f'({s["low"]:.1f}-{s["high"]:.1f})')
        count = len(next(iter(metrics.values())))
        lines.append(f'| {name} | {count} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def gain_table(base_name: str, base: Dict[str, np.ndarray],
               models: Dict[str, Dict[str, np.ndarray]]) -> str:
    """Markdown: gains of the means over the reference, ± standard error,
    for every metric and split contrast."""
    contrasts = [c for c in SPLIT_CONTRASTS if c[1] in base and c[2] in base]
    keys = [key for key in METRICS if key in base]
    header = keys + [f'gain {name}' for name, _, _ in contrasts]
    lines = [
        f'| gain over {base_name} | ' + ' | '.join(header) + ' |',
        '|---|' + '---|' * len(header)
    ]
    for name, metrics in models.items():
        cells = []
        for key in keys:
            gain, error = gain_of_means(base[key], metrics[key])
            cells.append(f'{_number(gain, True)} ± {_number(error)}')
        for _, first, second in contrasts:
            gain, error = gain_of_means(base[first] - base[second],
                                        metrics[first] - metrics[second])
            cells.append(f'{_number(gain, True)} ± {_number(error)}')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Run the tool; returns the report."""
    args = parse_args(argv)
    check_not_an_input(
        args.out, '--out', {
            f'a metrics file of --model {name}': path
            for name, *paths in args.model for path in paths
        })
    names: List[str] = [name for name, *_ in args.model]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ValueError(f'--model {name} is given twice')
    check_no_run_of_two_models(args.model)
    runs: Dict[str, Dict[str, np.ndarray]] = {
        name: stack_runs(paths)
        for name, *paths in args.model
    }
    check_one_test_set(args.model)
    base = runs[names[0]]
    for name in names[1:]:
        missing = sorted(set(base) - set(runs[name]))
        if missing:
            raise ValueError(f'--model {name} lacks metrics of the '
                             f'reference {names[0]}: {missing}')
    report = '\n\n'.join([
        'AP x 100: mean ± sample standard deviation (min-max) over runs',
        spread_table(runs),
        'Gains of the means ± standard error (Welch; runs unpaired)',
        gain_table(names[0], base, {n: runs[n]
                                    for n in names[1:]})
    ])
    print(report)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(report + '\n')
    return report


if __name__ == '__main__':
    main()
