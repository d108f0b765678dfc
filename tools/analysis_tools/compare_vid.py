# Copyright (c) memvid_mm contributors. All rights reserved.
"""Gains of detectors over a reference, with paired video-bootstrap
intervals, from ``DumpVIDResults`` pickles.

For every model it prints the ImageNet VID metrics of the reference and of
the model, the gain, and a 95% interval of the gain from a paired bootstrap
over videos (both detectors scored on the same resampled videos), and the
interval of the difference between the gain on the fast split and the
gains on the medium and slow splits: whether a model gains *more* on fast
objects than on the others, beyond what the choice of videos explains.
The intervals cover the sampling of the videos, not the randomness of
training (run the training again for that). ``--degradation KIND`` scores
only the frames of one degradation kind (e.g. ``blur`` on SynthVID), each
object keeping the speed split of its whole track.

The dumps are checked as in ``eval_vid.py``: a dump that records another
annotation file (SHA-256) than ``ann_file`` is refused unless
``--allow-other-ann-file``, one without the record is scored with a
warning, and every frame of the file or none must carry a
``degradation``.

Example::

    python tools/analysis_tools/compare_vid.py \\
        data/synthvid/annotations/imagenet_vid_val.json \\
        work_dirs/demo/rfcn_r18-tiny-d8_1xb4-ft3e_synthvid/dets.pkl \\
        work_dirs/demo/memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid/dets.pkl \\
        --names R-FCN MemNet-3 --bootstrap 200
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

from memvid_mm.evaluation.functional import (evaluate_vid_frames,
                                             has_degradation,
                                             select_degradation)
from memvid_mm.evaluation.functional.bootstrap import (percentile_interval,
                                                       resampled_scores)
from memvid_mm.utils.output_paths import check_not_an_input

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from eval_vid import add_allow_other_ann_file  # noqa: E402
from eval_vid import load_dump_frames, load_gt_frames  # noqa: E402

METRICS = ('mAP', 'mAP_fast', 'mAP_medium', 'mAP_slow', 'mAP_degraded',
           'mAP_clean')
# (name, minuend, subtrahend) of the gain differences reported.
SPLIT_CONTRASTS = (('fast - medium', 'mAP_fast', 'mAP_medium'),
                   ('fast - slow', 'mAP_fast', 'mAP_slow'))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of the tool."""
    parser = argparse.ArgumentParser(
        description='Gains over a reference detector with paired video '
        'bootstrap intervals')
    parser.add_argument('ann_file', help='CocoVID annotation JSON')
    parser.add_argument('base', help='dump of the reference detector')
    parser.add_argument('models', nargs='+', help='dumps of the others')
    parser.add_argument(
        '--names',
        nargs='+',
        help='display names: the reference, then one per model')
    parser.add_argument(
        '--bootstrap',
        type=int,
        default=200,
        help='resamples of the videos (default 200)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--classes',
        nargs='+',
        help='class names in label order (see eval_vid.py)')
    parser.add_argument(
        '--degradation',
        help="score only the frames with this degradation (e.g. 'blur', "
        "or 'none' for the clean ones)")
    parser.add_argument('--out', help='also write the report (Markdown) here')
    add_allow_other_ann_file(parser)
    args = parser.parse_args(argv)
    if args.names is not None and len(args.names) != 1 + len(args.models):
        parser.error(f'--names needs {1 + len(args.models)} names (the '
                     f'reference and each model), got {len(args.names)}')
    if args.bootstrap < 1:
        parser.error('--bootstrap must be at least 1')
    return args


def load_frames(dump: str,
                gt_frames: List[dict],
                class_names: Sequence[str],
                ann_file: str,
                allow_other_ann_file: bool = False) -> List[dict]:
    """Frame records of one dump; every error is a ValueError naming it.

    See ``eval_vid.load_dump_frames`` for the arguments.
    """
    try:
        return load_dump_frames(dump, gt_frames, class_names, ann_file,
                                allow_other_ann_file)
    except TypeError as error:  # the message names the dump
        raise ValueError(str(error)) from None


def gain_rows(base: Dict[str, float], model: Dict[str, float],
              samples: Dict[str, np.ndarray]) -> Dict[str, dict]:
    """Point metrics, gains and bootstrap intervals of one model.

    Args:
        base (dict[str, float]): The reference's metrics.
        model (dict[str, float]): The model's metrics.
        samples (dict[str, np.ndarray]): Per metric the (B,) resampled
            differences model - reference.

    Returns:
        dict[str, dict]: Per metric (and per split contrast) ``base``,
        ``model``, ``gain`` and ``interval`` (low, high), all x 100.
    """
    rows = {}
    for key in METRICS:
        if key not in base:
            continue
        low, high = percentile_interval(samples[key])
        rows[key] = dict(
            base=100 * base[key],
            model=100 * model[key],
            gain=100 * (model[key] - base[key]),
            interval=(100 * low, 100 * high))
    for name, first, second in SPLIT_CONTRASTS:
        gain = ((model[first] - base[first]) - (model[second] - base[second]))
        low, high = percentile_interval(samples[first] - samples[second])
        rows[f'gain {name}'] = dict(
            base=float('nan'),
            model=float('nan'),
            gain=100 * gain,
            interval=(100 * low, 100 * high))
    return rows


def format_rows(name: str, base_name: str, rows: Dict[str, dict]) -> str:
    """A markdown table of :func:`compare`'s rows."""
    lines = [
        f'{name} vs {base_name}', '',
        f'| metric | {base_name} | {name} | gain | 95% interval |',
        '|---|---|---|---|---|'
    ]
    for key, row in rows.items():
        values = ' | '.join('' if np.isnan(row[k]) else f'{row[k]:.1f}'
                            for k in ('base', 'model'))
        low, high = row['interval']
        lines.append(f'| {key} | {values} | {row["gain"]:+.1f} | '
                     f'{low:+.1f} to {high:+.1f} |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    """Run the tool; returns the rows per model name."""
    args = parse_args(argv)
    check_not_an_input(
        args.out, '--out', {
            'the annotation file': args.ann_file,
            **{
                f'dump {i}': dump
                for i, dump in enumerate([args.base, *args.models], 1)
            }
        })
    names = args.names or [args.base, *args.models]
    class_names, gt_frames = load_gt_frames(args.ann_file, args.classes)
    frames = [
        load_frames(dump, gt_frames, class_names, args.ann_file,
                    args.allow_other_ann_file)
        for dump in (args.base, *args.models)
    ]
    with_degradation = has_degradation(frames[0])
    if args.degradation is not None:
        frames = [
            select_degradation(records, args.degradation) for records in frames
        ]
        with_degradation = False  # one kind: no clean / degraded split

    def score(records: List[dict]) -> Dict[str, float]:
        return evaluate_vid_frames(
            records,
            class_names=class_names,
            with_coco_ap50=False,
            with_degradation=with_degradation)[0]

    points = [score(records) for records in frames]
    # every detector on the same resamples: the reference is scored once
    samples = resampled_scores(frames, score, args.bootstrap, args.seed)
    results, report = {}, []
    for i, name in enumerate(names[1:], 1):
        rows = gain_rows(
            points[0], points[i],
            {key: samples[i][key] - samples[0][key]
             for key in samples[0]})
        report.append(format_rows(name, names[0], rows))
        print(report[-1] + '\n', flush=True)
        results[name] = rows
    subset = ('' if args.degradation is None else
              f' (only their {len(frames[0])} frames with degradation '
              f'{args.degradation!r})')
    report.append(f'{args.bootstrap} paired resamples of the '
                  f'{len({f["video_id"] for f in frames[0]})} videos{subset}, '
                  f'seed {args.seed}; the intervals cover the choice of '
                  'videos, not the randomness of training.')
    print(report[-1])
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write('\n\n'.join(report) + '\n')
    return results


if __name__ == '__main__':
    main()
