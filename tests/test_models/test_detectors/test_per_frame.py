# Copyright (c) memvid_mm contributors. All rights reserved.
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

from .clip_data import packed_clips
from .tiny_retinanet import tiny_retinanet

CONFIGS = [
    'configs/rfcn/rfcn_r18-tiny-d8_1xb4-6e_synthvid.py',
    'configs/faster_rcnn/faster-rcnn_r18-tiny-d8_1xb4-6e_synthvid.py',
]


@pytest.fixture(params=CONFIGS, ids=['rfcn', 'faster-rcnn'])
def model(request):
    return MODELS.build(Config.fromfile(request.param).model)


def test_loss_on_key_frames(model):
    model.train()
    data = model.data_preprocessor(packed_clips(2, 1, num_classes=4), True)
    losses = model.loss(**data)
    total = sum(v for k, v in losses.items()
                if 'loss' in k and isinstance(v, torch.Tensor))
    assert torch.isfinite(total)
    total.backward()


def test_loss_refuses_a_key_frame_before_the_end_of_the_clip(model):
    model.train()
    data = model.data_preprocessor(packed_clips(1, 2, num_classes=4), True)
    data['data_samples'][0].set_metainfo(dict(key_frames_inds=[0]))
    with pytest.raises(ValueError, match='must end at their key frame'):
        model.loss(**data)


def test_predict_every_frame(model):
    model.eval()
    data = model.data_preprocessor(packed_clips(1, 3, num_classes=4), False)
    with torch.no_grad():
        results = model.predict(**data)
    assert len(results[0]) == 3
    for frame in results[0]:
        assert frame.pred_instances.bboxes.shape[-1] == 4


def test_tensor_mode(model):
    model.eval()
    data = model.data_preprocessor(packed_clips(1, 2, num_classes=4), False)
    with torch.no_grad():
        outs = model(data['inputs'], data['data_samples'], mode='tensor')
    assert isinstance(outs, tuple) and len(outs) > 0
    # The image detector's _forward on the N * T = 2 frames: a 1-tuple of
    # the RoI head's (cls_score (R, C + 1), bbox_pred (R, 4) or
    # (R, 4 * C)), R the RPN proposals of all frames together.
    detector = model.detector
    num_clips, num_frames = data['inputs'].shape[:2]
    with torch.no_grad():
        images = data['inputs'].flatten(0, 1)  # [N*T, 3, H, W]
        samples = [
            clip[t] for clip in data['data_samples'] for t in range(num_frames)
        ]
        proposals = detector.rpn_head.predict(
            detector.extract_feat(images), samples, rescale=False)
    num_rois = sum(len(p) for p in proposals)
    max_rois = num_clips * num_frames * detector.test_cfg.rpn.max_per_img
    assert len(proposals) == num_clips * num_frames == 2
    assert 0 < num_rois <= max_rois
    assert len(outs) == 1 and len(outs[0]) == 2
    cls_score, bbox_pred = outs[0]
    bbox_head = detector.roi_head.bbox_head
    num_classes = bbox_head.num_classes
    assert num_classes == 4
    assert cls_score.shape == (num_rois, num_classes + 1)
    box_dim = 4 if bbox_head.reg_class_agnostic else 4 * num_classes
    assert bbox_pred.shape == (num_rois, box_dim)
    assert torch.isfinite(cls_score).all() and torch.isfinite(bbox_pred).all()


def test_per_frame_rejects_4d_inputs(model):
    data = model.data_preprocessor(packed_clips(1, 1, num_classes=4), True)
    with pytest.raises(ValueError, match='TrackDataPreprocessor'):
        model.loss(data['inputs'][:, 0], data['data_samples'])


def test_rfcn_head_path_matches_predict():
    cfg = copy.deepcopy(Config.fromfile(CONFIGS[0]).model)
    model = MODELS.build(cfg).eval()
    data = model.data_preprocessor(packed_clips(1, 1, num_classes=4), False)
    image = data['inputs'][:, 0]
    sample = data['data_samples'][0][0]
    detector = model.detector
    with torch.no_grad():
        direct = detector.predict(image, [copy.deepcopy(sample)])[0]
        feats = detector.extract_feat(image)
        via_head = detector._head_predict(feats, [copy.deepcopy(sample)])[0]
    assert torch.equal(direct.pred_instances.scores,
                       via_head.pred_instances.scores)


def test_extract_feat_gives_every_frame_s_features_clip_major(model):
    model.eval()
    data = model.data_preprocessor(packed_clips(2, 2, num_classes=4), False)
    inputs = data['inputs']
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        assert len(feats) == 1 and feats[0].shape[0] == 4
        for clip in range(2):
            for t in range(2):
                alone = model.detector.extract_feat(inputs[clip, t:t + 1])
                assert torch.allclose(
                    feats[0][2 * clip + t], alone[0][0], atol=1e-5), (clip, t)


def test_tensor_mode_without_samples_names_them(model):
    """A two-stage detector's RPN reads each frame's img_shape: without
    the data samples the message says so, for R-FCN and Faster R-CNN
    alike."""
    model.eval()
    data = model.data_preprocessor(packed_clips(1, 2, num_classes=4), False)
    with torch.no_grad(), pytest.raises(
            ValueError, match='tensor mode .* needs the data samples'):
        model(data['inputs'], mode='tensor')


def retinanet_cfg():
    """The Faster R-CNN baseline's backbone and embedding under a tiny
    single-stage RetinaNet head."""
    cfg = copy.deepcopy(Config.fromfile(CONFIGS[1]).model)
    cfg.detector = tiny_retinanet(cfg.detector)
    return cfg


def test_single_stage_tensor_mode_needs_no_samples():
    """A single-stage head reads the features alone: tensor mode without
    data samples gives its outputs for every frame, clip-major."""
    model = MODELS.build(retinanet_cfg()).eval()
    data = model.data_preprocessor(packed_clips(2, 2, num_classes=4), False)
    inputs = data['inputs']
    with torch.no_grad():
        cls_scores, bbox_preds = model(inputs, mode='tensor')
        assert cls_scores[0].shape == (4, 4, 8, 8)  # N * T frames
        assert bbox_preds[0].shape == (4, 4, 8, 8)
        for clip in range(2):
            for t in range(2):
                alone = model.detector._forward(inputs[clip, t:t + 1])
                assert torch.allclose(
                    cls_scores[0][2 * clip + t], alone[0][0][0],
                    atol=1e-5), (clip, t)
                assert torch.allclose(
                    bbox_preds[0][2 * clip + t], alone[1][0][0],
                    atol=1e-5), (clip, t)
