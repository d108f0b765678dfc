# Copyright (c) memvid_mm contributors. All rights reserved.
import glob
import importlib
import os.path as osp
from types import SimpleNamespace

import mmcv
import numpy as np
import pytest
import torch
from mmdet.registry import HOOKS
from mmdet.structures import DetDataSample, TrackDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.config import Config
from mmengine.structures import InstanceData

from memvid_mm.engine import VIDVisualizationHook
from .runner_stand_ins import BuiltLoop

REPO_ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
H, W = 32, 48


def make_frame(root, video: str, frame_id: int) -> DetDataSample:
    """Write a frame ``<root>/<video>/<frame_id>.JPEG``; return its sample."""
    img_path = osp.join(root, video, f'{frame_id:06d}.JPEG')
    mmcv.imwrite(np.full((H, W, 3), 40 * frame_id % 255, np.uint8), img_path)
    frame = DetDataSample(
        metainfo=dict(
            img_path=img_path,
            frame_id=frame_id,
            video_id=video,
            img_shape=(H, W),
            ori_shape=(H, W)))
    box = torch.tensor([[4., 4., 20., 16.]])
    frame.gt_instances = InstanceData(
        bboxes=box, labels=torch.tensor([1]), instances_ids=torch.tensor([7]))
    frame.pred_instances = InstanceData(
        bboxes=box + 2, scores=torch.tensor([0.9]), labels=torch.tensor([1]))
    return frame


def make_clip(root, video: str, frame_ids) -> TrackDataSample:
    """A TrackDataSample holding the frames ``frame_ids`` of ``video``."""
    clip = TrackDataSample()
    clip.video_data_samples = [make_frame(root, video, i) for i in frame_ids]
    return clip


@pytest.fixture
def runner(tmp_path):
    """A runner stand-in with the attributes the hook reads."""
    visualizer = DetLocalVisualizer.get_instance(
        f'vid_vis_{tmp_path.name}',
        save_dir=str(tmp_path / 'vis_data'),
        vis_backends=[dict(type='LocalVisBackend')])
    visualizer.dataset_meta = dict(classes=('disc', 'box'))
    return SimpleNamespace(
        work_dir=str(tmp_path / 'work_dir'),
        timestamp='20240101_000000',
        iter=0,
        visualizer=visualizer)


def drawn_files(runner, show_dir='vis'):
    out_dir = osp.join(runner.work_dir, runner.timestamp, show_dir)
    return sorted(
        osp.relpath(path, out_dir)
        for path in glob.glob(osp.join(out_dir, '**', '*'), recursive=True)
        if osp.isfile(path))


def backend_images(tmp_path):
    """Names of the PNGs the vis backends saved under ``vis_data``."""
    return sorted(
        osp.basename(path) for path in glob.glob(
            str(tmp_path / 'vis_data' / '**' / '*.png'), recursive=True))


def test_draws_every_interval_frame_per_video(runner, tmp_path):
    hook = HOOKS.build(
        dict(
            type='VIDVisualizationHook',
            draw=True,
            frame_interval=2,
            test_out_dir='vis'))
    frames = tmp_path / 'Data' / 'VID' / 'val'
    # online testing: one frame per iteration, two videos one after the
    # other, whose frames have the same file names
    batch_idx = 0
    for video in ('video_a', 'video_b'):
        for frame_id in range(5):
            hook.after_test_iter(runner, batch_idx, {},
                                 [make_clip(frames, video, [frame_id])])
            batch_idx += 1
    expected = [
        osp.join(video, f'{i:06d}.JPEG') for video in ('video_a', 'video_b')
        for i in (0, 2, 4)
    ]
    assert drawn_files(runner) == expected
    # GT on the left, predictions on the right
    drawn = mmcv.imread(
        osp.join(runner.work_dir, runner.timestamp, 'vis', expected[0]))
    assert drawn.shape == (H, 2 * W, 3)


def test_draws_the_selected_frames_of_a_clip(runner, tmp_path):
    hook = VIDVisualizationHook(
        draw=True, frame_interval=3, test_out_dir='vis')
    hook.after_test_iter(runner, 0, {},
                         [make_clip(tmp_path / 'val', 'video_c', range(7))])
    assert drawn_files(runner) == [
        osp.join('video_c', f'{i:06d}.JPEG') for i in (0, 3, 6)
    ]


def test_draw_false_writes_nothing(runner, tmp_path):
    hook = VIDVisualizationHook(frame_interval=1, test_out_dir='vis')
    clip = make_clip(tmp_path / 'val', 'video_a', range(3))
    hook.after_test_iter(runner, 0, {}, [clip])
    hook.after_val_iter(runner, 0, {}, [clip])
    assert not osp.exists(runner.work_dir)
    assert backend_images(tmp_path) == []


class RunnerWithoutTraining(SimpleNamespace):
    """A runner of a test or validation on its own: reading ``iter`` would
    build the train loop (mmengine's ``Runner.iter``)."""

    @property
    def iter(self):
        raise AssertionError('runner.iter built the train loop')


def test_val_in_training_draws_at_the_training_iteration(runner, tmp_path):
    hook = VIDVisualizationHook(draw=True, frame_interval=2)
    runner._train_loop = BuiltLoop(runner, [])
    runner.iter = 12
    hook.after_val_iter(runner, 3, {},
                        [make_clip(tmp_path / 'val', 'video_a', range(3))])
    assert backend_images(tmp_path) == [
        'video_a_000000_12.png', 'video_a_000002_12.png'
    ]


@pytest.mark.parametrize('loop', ['val', 'test'])
def test_without_training_draws_at_the_batch_index(runner, tmp_path, loop):
    """A test, or a validation on its own, leaves the train loop unbuilt:
    its training data may not even be on the machine."""
    alone = RunnerWithoutTraining(**vars(runner), _train_loop=dict(type='x'))
    hook = VIDVisualizationHook(draw=True, frame_interval=2)
    getattr(hook, f'after_{loop}_iter')(
        alone, 5, {}, [make_clip(tmp_path / 'val', 'video_a', range(3))])
    assert backend_images(tmp_path) == [
        'video_a_000000_5.png', 'video_a_000002_5.png'
    ]
    assert not osp.exists(runner.work_dir)


def test_frames_are_drawn_as_stored_like_load_vid_frame(
        runner, tmp_path, monkeypatch):
    """The boxes are in the stored pixels the model saw: an EXIF
    orientation tag does not turn the drawn frame."""
    from PIL import Image
    frame = make_frame(tmp_path / 'val', 'video_a', 0)
    stored = np.zeros((H, W, 3), np.uint8)
    stored[:8, :8] = 255
    exif = Image.Exif()
    exif[0x0112] = 3  # turn by 180 degrees
    Image.fromarray(stored).save(
        frame.img_path, format='JPEG', exif=exif.tobytes(), quality=100)
    clip = TrackDataSample()
    clip.video_data_samples = [frame]
    drawn = []
    hook = VIDVisualizationHook(draw=True)
    monkeypatch.setattr(hook._visualizer, 'add_datasample',
                        lambda name, image, **kwargs: drawn.append(image))
    hook.after_test_iter(runner, 0, {}, [clip])
    assert drawn[0][:8, :8].mean() > 200  # the white corner stays


def test_show_drops_the_vis_backends_with_a_warning(runner):
    assert runner.visualizer._vis_backends  # LocalVisBackend
    with pytest.warns(
            UserWarning,
            match='show=True displays the drawings and stores nothing in '
            'vis_backends'):
        hook = VIDVisualizationHook(draw=True, show=True)
    assert hook._visualizer is runner.visualizer
    assert runner.visualizer._vis_backends == {}


def test_only_rank_0_draws(runner, tmp_path, monkeypatch, log_records):
    """MMDetection's visualizer draws on rank 0 only; the other ranks do
    not even read their frames, and the limit is logged."""
    dist_utils = importlib.import_module('mmengine.dist.utils')
    monkeypatch.setattr(dist_utils, 'get_rank', lambda group=None: 1)
    monkeypatch.setattr(
        importlib.import_module(VIDVisualizationHook.__module__),
        'get_world_size',
        lambda group=None: 2)
    hook = VIDVisualizationHook(
        draw=True, frame_interval=1, test_out_dir='vis')
    clip = make_clip(tmp_path / 'val', 'video_d', range(3))
    clip[0].set_metainfo(dict(img_path=str(tmp_path / 'missing.JPEG')))
    hook.after_test_iter(runner, 0, {}, [clip])
    hook.after_test_iter(runner, 1, {}, [clip])
    assert drawn_files(runner) == []
    assert sum('only rank 0 draws' in record.getMessage()
               for record in log_records) == 1


def test_refuses_a_frame_without_frame_id(runner, tmp_path):
    hook = VIDVisualizationHook(draw=True, test_out_dir='vis')
    clip = make_clip(tmp_path / 'val', 'video_a', [0])
    clip[0].set_metainfo(dict(frame_id=None))
    with pytest.raises(ValueError, match='frame_id'):
        hook.after_test_iter(runner, 0, {}, [clip])


@pytest.mark.parametrize('frame_interval', [0, -1, 1.5, True])
def test_refuses_a_bad_frame_interval(frame_interval):
    with pytest.raises(ValueError, match='frame_interval'):
        VIDVisualizationHook(frame_interval=frame_interval)


def test_default_runtime_uses_the_vid_hook_and_det_visualizer():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py'))
    assert cfg.default_hooks.visualization.type == 'VIDVisualizationHook'
    assert cfg.visualizer.type == 'DetLocalVisualizer'
