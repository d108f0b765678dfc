# Copyright (c) memvid_mm contributors. All rights reserved.
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

from .clip_data import packed_clips

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
