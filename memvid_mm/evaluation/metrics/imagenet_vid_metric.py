# Copyright (c) memvid_mm contributors. All rights reserved.
"""ImageNet VID evaluator (official protocol + motion splits) and dumper.

Both metrics work with the stock TestLoop / ValLoop and
``TrackImgSampler`` (one frame per step, "image process" of
``BaseVideoMetric``) as well as with whole videos per step ("video
process"). A frame is recorded from its ``pred_instances`` (original image
scale) and, for the evaluator, its original-scale GT from the
``instances`` metainfo (``gt_instances`` is in the resized image and is
not used). Results of all ranks are gathered with mmdet's
``collect_tracking_results`` and merged by ``img_id``, so every frame
counts exactly once whatever the number of ranks and videos.
"""
import copy
from typing import List, Optional, Sequence, Union

import numpy as np
from mmdet.evaluation.metrics.base_video_metric import BaseVideoMetric
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmengine.fileio import dump, join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs

from ..functional.vid_frames import (ann_file_record, evaluate_vid_frames,
                                     instances_to_gt, merge_frame_records,
                                     to_numpy)


def _frames_with_predictions(data_samples: Sequence) -> list:
    """The frames of a clip that carry ``pred_instances``."""
    return [s for s in data_samples if s.get('pred_instances') is not None]


def frame_record(data_sample: Union[DetDataSample, dict],
                 with_gt: bool = True,
                 degradation_key: Optional[str] = None) -> dict:
    """The frame record (see ``vid_frames``) of one frame's data sample.

    Args:
        data_sample (DetDataSample | dict): One frame with
            ``pred_instances`` and the metainfo ``img_id``, ``video_id``,
            ``frame_id``, ``img_path`` (and ``instances`` for the GT).
        with_gt (bool): Also read the GT. Defaults to True.
        degradation_key (str, optional): Metainfo key of the frame's
            degradation type. Defaults to None.

    Returns:
        dict: The frame record.
    """
    pred = data_sample.get('pred_instances')
    if pred is None:
        raise ValueError('the data sample has no pred_instances')
    missing = [k for k in ('bboxes', 'scores', 'labels') if k not in pred]
    if missing:
        raise ValueError(f'pred_instances has no {missing}')
    for key in ('img_id', 'video_id', 'frame_id'):
        if data_sample.get(key) is None:
            raise ValueError(f'the data sample has no {key!r} metainfo')
    record = dict(
        img_id=int(data_sample.get('img_id')),
        video_id=data_sample.get('video_id'),
        frame_id=int(data_sample.get('frame_id')),
        img_path=data_sample.get('img_path'),
        bboxes=to_numpy(pred.get('bboxes'), np.float32).reshape(-1, 4),
        scores=to_numpy(pred.get('scores'), np.float32).reshape(-1),
        labels=to_numpy(pred.get('labels'), np.int64).reshape(-1))
    if with_gt:
        record.update(instances_to_gt(data_sample.get('instances')))
        if degradation_key is not None:
            record['degradation'] = data_sample.get(degradation_key)
    return record


class _VIDFrameMetric(BaseVideoMetric):
    """Records one frame record per evaluated frame.

    Args:
        collect_device (str): Device to gather results on: ``'cpu'``, the
            only one mmdet's ``collect_tracking_results`` implements (it
            raises for ``'gpu'`` after the whole test pass, so it is
            refused here). Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to None.
    """

    with_gt = True
    degradation_key = None

    def __init__(self,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        if collect_device != 'cpu':
            raise ValueError(
                f"collect_device must be 'cpu', got {collect_device!r}: "
                "mmdet's collect_tracking_results gathers video results "
                'on the CPU only')
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process_image(self, data_samples: Sequence,
                      ori_video_len: int) -> None:
        """Record the frames of one step that carry predictions.

        With ``TrackImgSampler`` this is the single frame of the step; for a
        test clip it is its key frame(s) (the frames with
        ``pred_instances``).

        Args:
            data_samples (Sequence[DetDataSample]): The frames of the step.
            ori_video_len (int): Length of the video.
        """
        frames = _frames_with_predictions(data_samples)
        if not frames:
            raise ValueError('no frame of the step carries pred_instances')
        self._record(frames)

    def process_video(self, data_samples: Sequence) -> None:
        """Record every frame of a whole video.

        Args:
            data_samples (Sequence[DetDataSample]): All frames of a video.
        """
        frames = _frames_with_predictions(data_samples)
        if len(frames) != len(data_samples):
            raise ValueError(f'{len(data_samples) - len(frames)} frames of '
                             'the video carry no pred_instances')
        self._record(frames)

    def _record(self, frames: Sequence) -> None:
        for frame in frames:
            self.results.append(
                frame_record(frame, self.with_gt, self.degradation_key))


@METRICS.register_module()
class ImagenetVIDMetric(_VIDFrameMetric):
    """Official ImageNet VID mAP with FGFA's motion-speed splits.

    Reports ``mAP``, ``mAP_fast``, ``mAP_medium``, ``mAP_slow`` (see
    :func:`memvid_mm.evaluation.functional.eval_vid_map`), the COCO-style
    ``bbox_mAP_50`` of the same frames (COCOeval's AP at IoU 0.5, see
    :func:`memvid_mm.evaluation.functional.coco_ap50`) and, with
    ``degradation_key``, ``mAP_clean`` / ``mAP_degraded`` on the frames
    whose degradation is / is not ``'none'``. The per-class table goes to
    the log.

    Args:
        speed_ranges (dict, optional): ``{name: (lo, hi)}`` motion-IoU
            splits; ``None`` gives all/fast/medium/slow. Defaults to None.
        with_coco_ap50 (bool): Also report ``bbox_mAP_50``. Defaults to
            True.
        coco_backend (str): ``'numpy'`` (vectorised re-implementation of
            COCOeval, checked equal to it) or ``'pycocotools'``. Defaults
            to ``'numpy'``.
        degradation_key (str, optional): Metainfo key holding each frame's
            degradation type (SynthVID). Defaults to None.
        collect_device (str): Device to gather results on; only ``'cpu'``
            (see :class:`_VIDFrameMetric`). Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to ``'vid'``.
    """

    default_prefix: Optional[str] = 'vid'

    def __init__(self,
                 speed_ranges: Optional[dict] = None,
                 with_coco_ap50: bool = True,
                 coco_backend: str = 'numpy',
                 degradation_key: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.speed_ranges = speed_ranges
        self.with_coco_ap50 = with_coco_ap50
        if coco_backend not in ('numpy', 'pycocotools'):
            raise ValueError("coco_backend must be 'numpy' or 'pycocotools',"
                             f' got {coco_backend!r}')
        self.coco_backend = coco_backend
        self.degradation_key = degradation_key

    def compute_metrics(self, results: List[dict]) -> dict:
        """Score the gathered frame records.

        Args:
            results (list[dict]): Frame records of all ranks.

        Returns:
            dict: ``mAP``, ``mAP_<split>``, ``bbox_mAP_50`` and optionally
            ``mAP_clean`` / ``mAP_degraded``.
        """
        frames = merge_frame_records(results)
        classes = (self.dataset_meta or {}).get('classes')
        metrics, _ = evaluate_vid_frames(
            frames,
            class_names=classes,
            speed_ranges=self.speed_ranges,
            with_coco_ap50=self.with_coco_ap50,
            coco_backend=self.coco_backend,
            with_degradation=self.degradation_key is not None,
            logger='current')
        print_log(
            f'ImageNet VID: {len(frames)} frames evaluated', logger='current')
        return metrics


@METRICS.register_module()
class DumpVIDResults(_VIDFrameMetric):
    """Dump per-frame predictions to a pickle for offline VID evaluation.

    The file holds a list of dicts ``{img_id, video_id, frame_id,
    img_path, bboxes (R, 4) float32 x1y1x2y2, scores (R,) float32, labels
    (R,) int64, classes, ann_file}`` sorted by ``img_id``, each frame once
    (also under DDP). ``classes`` is the dataset's tuple of class names in
    label order (one shared object, pickled once; absent without
    ``dataset_meta`` and in older dumps), so that a re-scoring can check
    it reads the labels as the model's classes. ``ann_file`` is
    ``{'path': str, 'sha256': str}``, the annotation file given as
    ``ann_file`` and the SHA-256 of its bytes, read when the metric is
    built (one shared dict, pickled once; absent without ``ann_file`` and
    in older dumps), so that a re-scoring can check it joins the frames
    with the ground truth they were tested on: another data set may have
    the same file names (``tools/test.py --out`` sets it to the test
    dataset's file). Re-score it with ``tools/analysis_tools/eval_vid.py``.

    Args:
        out_file_path (str): Output path, ending in ``.pkl`` / ``.pickle``.
        collect_device (str): Device to gather results on; only ``'cpu'``
            (see :class:`_VIDFrameMetric`). Defaults to ``'cpu'``.
        ann_file (str, optional): The annotation file of the tested
            dataset, as the dataset reads it (``data_root`` joined, see
            :func:`dataset_ann_file`). Defaults to None (not recorded).
    """

    default_prefix: Optional[str] = 'vid'
    with_gt = False

    def __init__(self,
                 out_file_path: str,
                 collect_device: str = 'cpu',
                 ann_file: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device)
        if not str(out_file_path).endswith(('.pkl', '.pickle')):
            raise ValueError('out_file_path must end with .pkl or .pickle, '
                             f'got {out_file_path!r}')
        self.out_file_path = out_file_path
        self.ann_file = None
        if ann_file is not None:
            if not isinstance(ann_file, str) or not ann_file:
                raise ValueError('ann_file must be the path of the '
                                 f'annotation file, got {ann_file!r}')
            self.ann_file = ann_file_record(ann_file)

    def compute_metrics(self, results: List[dict]) -> dict:
        """Write the merged frame records; reports no metric.

        Args:
            results (list[dict]): Frame records of all ranks.

        Returns:
            dict: Empty.
        """
        frames = merge_frame_records(results)
        classes = (self.dataset_meta or {}).get('classes')
        if classes is not None:
            classes = tuple(str(name) for name in classes)
            frames = [dict(frame, classes=classes) for frame in frames]
        if self.ann_file is not None:
            frames = [dict(frame, ann_file=self.ann_file) for frame in frames]
        dump(frames, self.out_file_path)
        print_log(
            f'{len(frames)} frames dumped to {self.out_file_path}',
            logger='current')
        return {}


def dataset_ann_file(dataset: dict) -> Optional[str]:
    """The annotation file a dataset config reads, as mmengine joins it.

    ``BaseDataset`` joins a relative ``ann_file`` to ``data_root``.

    Args:
        dataset (dict): A dataset config (e.g.
            ``cfg.test_dataloader.dataset``).

    Returns:
        str | None: The path; None when the config has no ``ann_file``
        (e.g. a dataset wrapper such as ``ConcatDataset``).
    """
    ann_file = dataset.get('ann_file')
    if not ann_file:
        return None
    data_root = dataset.get('data_root')
    if not is_abs(ann_file) and data_root:
        ann_file = join_path(data_root, ann_file)
    return ann_file


def append_dump_metric(evaluator: Union[dict, list],
                       out_file: str,
                       ann_file: Optional[str] = None) -> Union[dict, list]:
    """Make an evaluator config dump the predictions to ``out_file``.

    What ``tools/test.py --out`` and the other test tools do to the
    config's ``test_evaluator``. A ``DumpVIDResults`` already in it is
    dropped: a config that a test with ``--out`` wrote into its work dir
    carries that test's dump, and testing with it again (e.g. on other
    data) must not overwrite that file.

    Args:
        evaluator (dict | list): An evaluator config: one metric config, a
            list of them, or an evaluator dict with ``metrics``.
        out_file (str): The pickle to write, ``.pkl`` or ``.pickle``.
        ann_file (str, optional): The tested annotation file, recorded in
            the dump (``DumpVIDResults``' ``ann_file``; see
            :func:`dataset_ann_file`). Defaults to None (not recorded).

    Returns:
        dict | list: The evaluator config whose only dump is ``out_file``
        (a new list, or a copy of the evaluator dict with a new
        ``metrics`` list; the given config is left alone).
    """
    if not str(out_file).endswith(('.pkl', '.pickle')):
        raise ValueError(f'the dump must be a .pkl or .pickle file, got '
                         f'{out_file!r}')
    dump_metric = dict(type='DumpVIDResults', out_file_path=out_file)
    if ann_file is not None:
        dump_metric['ann_file'] = ann_file

    def others(metrics: Sequence[dict]) -> List[dict]:
        return [m for m in metrics if m.get('type') != 'DumpVIDResults']

    if isinstance(evaluator, (list, tuple)):
        return others(evaluator) + [dump_metric]
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        metrics = evaluator['metrics']
        if isinstance(metrics, dict):
            metrics = [metrics]
        evaluator = copy.copy(evaluator)  # the caller's is left alone
        evaluator['metrics'] = others(metrics) + [dump_metric]
        return evaluator
    return others([evaluator]) + [dump_metric]
