# Copyright (c) memvid_mm contributors. All rights reserved.
import copy

import pytest
import torch
from mmdet.registry import MODELS

from memvid_mm.models.motion import FlowNetSimple
from memvid_mm.models.motion.flownet_simple import (_DECODER, _ENCODER,
                                                    _FINAL_IN_CHANNELS,
                                                    scaled_architecture)

# State dict of mmtrack 1.0.0rc1's FlowNetSimple (the keys and shapes of
# its released flownet_simple.pth), written out by hand.
MMTRACK_FLOWNET_KEYS = [
    ('conv1.0.conv.weight', (64, 6, 7, 7)),
    ('conv1.0.conv.bias', (64, )),
    ('conv2.0.conv.weight', (128, 64, 5, 5)),
    ('conv2.0.conv.bias', (128, )),
    ('conv3.0.conv.weight', (256, 128, 5, 5)),
    ('conv3.0.conv.bias', (256, )),
    ('conv3.1.conv.weight', (256, 256, 3, 3)),
    ('conv3.1.conv.bias', (256, )),
    ('conv4.0.conv.weight', (512, 256, 3, 3)),
    ('conv4.0.conv.bias', (512, )),
    ('conv4.1.conv.weight', (512, 512, 3, 3)),
    ('conv4.1.conv.bias', (512, )),
    ('conv5.0.conv.weight', (512, 512, 3, 3)),
    ('conv5.0.conv.bias', (512, )),
    ('conv5.1.conv.weight', (512, 512, 3, 3)),
    ('conv5.1.conv.bias', (512, )),
    ('conv6.0.conv.weight', (1024, 512, 3, 3)),
    ('conv6.0.conv.bias', (1024, )),
    ('conv6.1.conv.weight', (1024, 1024, 3, 3)),
    ('conv6.1.conv.bias', (1024, )),
    ('deconv5.conv.weight', (1024, 512, 4, 4)),
    ('predict_flow6.conv.weight', (2, 1024, 3, 3)),
    ('upsample_flow5.conv.weight', (2, 2, 4, 4)),
    ('deconv4.conv.weight', (1026, 256, 4, 4)),
    ('predict_flow5.conv.weight', (2, 1026, 3, 3)),
    ('upsample_flow4.conv.weight', (2, 2, 4, 4)),
    ('deconv3.conv.weight', (770, 128, 4, 4)),
    ('predict_flow4.conv.weight', (2, 770, 3, 3)),
    ('upsample_flow3.conv.weight', (2, 2, 4, 4)),
    ('deconv2.conv.weight', (386, 64, 4, 4)),
    ('predict_flow3.conv.weight', (2, 386, 3, 3)),
    ('upsample_flow2.conv.weight', (2, 2, 4, 4)),
    ('predict_flow.conv.weight', (2, 194, 3, 3)),
]
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


@pytest.fixture(scope='module')
def flownet():
    """One FlowNetSimple (~38M parameters) for the whole module."""
    torch.manual_seed(0)
    return MODELS.build(dict(type='FlowNetSimple', img_scale_factor=0.5))


def _normalise(rgb):
    return (rgb - MEAN) / STD


def _constant_raw(value_x, value_y, calls=None):
    """A stand-in for predict_raw_flow returning a constant prediction."""

    def raw(x):
        if calls is not None:
            calls.append(x.clone())
        out = x.new_empty(x.size(0), 2, -(-x.size(2) // 4), -(-x.size(3) // 4))
        out[:, 0] = value_x
        out[:, 1] = value_y
        return out

    return raw


def test_state_dict_has_mmtrack_keys_and_shapes(flownet):
    got = [(k, tuple(v.shape)) for k, v in flownet.state_dict().items()]
    assert sorted(got) == sorted(MMTRACK_FLOWNET_KEYS)
    num_params = sum(p.numel() for p in flownet.parameters())
    assert 38e6 < num_params < 39e6


def test_loads_mmtrack_state_dict_strict(flownet):
    state = {k: torch.randn(shape) for k, shape in MMTRACK_FLOWNET_KEYS}
    backup = {k: v.clone() for k, v in flownet.state_dict().items()}
    try:
        flownet.load_state_dict(state, strict=True)
        assert torch.equal(flownet.predict_flow.conv.weight,
                           state['predict_flow.conv.weight'])
        assert torch.equal(
            flownet.get_parameter('conv3.1.conv.bias'),
            state['conv3.1.conv.bias'])
    finally:
        flownet.load_state_dict(backup, strict=True)


def save_as_detector_part(flownet, path):
    """Save ``flownet`` as a whole detector's checkpoint holds it."""
    torch.save(
        dict(state_dict={
            f'motion.{k}': v
            for k, v in flownet.state_dict().items()
        }), path)


def test_pretrained_init_cfg_loads_strictly(tmp_path):
    """``init_cfg=Pretrained`` loads every key or raises naming the file.

    mmengine's own ``PretrainedInit`` loads with ``strict=False`` and would
    keep a random FlowNet for a checkpoint that does not fit.
    """
    source = FlowNetSimple(width_divisor=8)
    # mmtrack's layout: a plain state dict; the SynthVID pre-training's:
    # one under 'state_dict'; a whole detector's: under a prefix.
    plain = tmp_path / 'plain.pth'
    torch.save(source.state_dict(), plain)
    wrapped = tmp_path / 'wrapped.pth'
    torch.save(dict(state_dict=source.state_dict(), meta={}), wrapped)
    detector = tmp_path / 'detector.pth'
    save_as_detector_part(source, detector)
    # a list init_cfg (which mmengine allows) loads strictly too
    for init_cfg in (dict(type='Pretrained', checkpoint=str(plain)),
                     dict(type='Pretrained', checkpoint=str(wrapped)),
                     dict(
                         type='Pretrained',
                         checkpoint=str(detector),
                         prefix='motion.'), [
                             dict(type='Kaiming', layer='Conv2d'),
                             dict(type='Pretrained', checkpoint=str(plain))
                         ]):
        target = FlowNetSimple(width_divisor=8, init_cfg=init_cfg)
        target.init_weights()
        for key, value in source.state_dict().items():
            assert torch.equal(target.state_dict()[key], value), key
    # a checkpoint of another width does not fit: a clear error
    other = tmp_path / 'other.pth'
    torch.save(FlowNetSimple(width_divisor=4).state_dict(), other)
    other_cfg = dict(type='Pretrained', checkpoint=str(other))
    for init_cfg in (other_cfg, [other_cfg]):
        target = FlowNetSimple(width_divisor=8, init_cfg=init_cfg)
        with pytest.raises(RuntimeError, match='other.pth does not fit'):
            target.init_weights()
    target = FlowNetSimple(
        width_divisor=8,
        init_cfg=[dict(type='Pretrained', checkpoint=str(plain)), other_cfg])
    with pytest.raises(ValueError, match='2 Pretrained entries'):
        target.init_weights()
    # a missing key is an error too, not a partly random network
    partial = tmp_path / 'partial.pth'
    state = source.state_dict()
    state.pop('predict_flow.conv.weight')
    torch.save(state, partial)
    target = FlowNetSimple(
        width_divisor=8,
        init_cfg=dict(type='Pretrained', checkpoint=str(partial)))
    with pytest.raises(RuntimeError, match='predict_flow.conv.weight'):
        target.init_weights()
    # weights of a training that diverged: refused, not a NaN flow
    diverged = tmp_path / 'diverged.pth'
    state = source.state_dict()
    state['conv2.0.conv.weight'] = state['conv2.0.conv.weight'].clone()
    state['conv2.0.conv.weight'][0, 0, 0, 0] = float('nan')
    torch.save(state, diverged)
    target = FlowNetSimple(
        width_divisor=8,
        init_cfg=dict(type='Pretrained', checkpoint=str(diverged)))
    with pytest.raises(
            ValueError,
            match='diverged.pth holds NaN or infinite values in '
            'conv2.0.conv.weight'):
        target.init_weights()


def test_unreadable_checkpoint_or_missing_prefix_names_the_file(tmp_path):
    source = FlowNetSimple(width_divisor=8)
    detector = tmp_path / 'detector.pth'
    save_as_detector_part(source, detector)
    # mmengine's prefix: 'motion' and 'motion.' are the same
    target = FlowNetSimple(width_divisor=8)
    target.load_pretrained(str(detector), prefix='motion')
    assert torch.equal(target.conv1[0].conv.weight,
                       source.conv1[0].conv.weight)
    with pytest.raises(
            RuntimeError,
            match='detector.pth has no key under the prefix '
            "'flow.'"):
        target.load_pretrained(str(detector), prefix='flow.')
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(detector.read_bytes()[:200])
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'\x80\x02 not a checkpoint' * 8)
    for path in (truncated, garbage):
        with pytest.raises(
                ValueError, match=f'cannot read FlowNet checkpoint {path}'):
            target.load_pretrained(str(path))


def test_constants_are_non_persistent_buffers(flownet):
    buffers = dict(flownet.named_buffers())
    for name in ('img_norm_mean', 'img_norm_std', 'flow_img_norm_mean',
                 'flow_img_norm_std'):
        assert buffers[name].shape == (1, 3, 1, 1)  # follows .to()
        assert name not in flownet.state_dict()
    assert torch.allclose(buffers['img_norm_mean'], MEAN)
    with pytest.raises(ValueError, match='img_norm_std'):
        FlowNetSimple(img_norm_std=(1., 2.))


@pytest.mark.parametrize('hw', [(96, 160), (75, 131)])
def test_output_shape_for_sizes_not_divisible_by_64(flownet, hw):
    img_cur = _normalise(torch.rand(2, 3, *hw) * 255)
    img_prev = _normalise(torch.rand(2, 3, *hw) * 255)
    with torch.no_grad():
        flow = flownet(img_cur, img_prev)
    assert flow.shape == (2, 2, *hw)
    assert torch.isfinite(flow).all()


@pytest.mark.parametrize('hw, raw_hw', [((64, 128), (16, 32)),
                                        ((48, 80), (12, 20)),
                                        ((38, 66), (10, 17))])
def test_raw_prediction_has_stride_4_on_any_input(flownet, hw, raw_hw):
    with torch.no_grad():
        raw = flownet.predict_raw_flow(torch.randn(1, 6, *hw))
    assert raw.shape == (1, 2, *raw_hw)
    with pytest.raises(ValueError, match=r'\(N, 6, h, w\)'):
        flownet.predict_raw_flow(torch.randn(1, 3, *hw))


def mmtrack_forward(model, imgs):
    """mmtrack 1.0.0rc1's ``FlowNetSimple.forward`` as its source reads,
    on ``model``'s layers: the FlowNet-normalised (N, 6, H, W) pair halved,
    no padding, each deconv and flow upsampling cropped to the skip
    connection it joins, the stride-4 prediction resized by
    ``4 / img_scale_factor`` = 8 in one step and scaled by 40."""
    x = torch.nn.functional.interpolate(
        imgs, scale_factor=0.5, mode='bilinear', align_corners=False)
    skips = []
    for name, _ in _ENCODER:
        x = getattr(model, name)(x)
        skips.append(x)
    for level, _, _ in _DECODER:
        flow = getattr(model, f'predict_flow{level}')(x)
        skip = skips[level - 2]
        up_flow = getattr(model, f'upsample_flow{level - 1}')(flow)
        deconv = getattr(model, f'deconv{level - 1}')(x)
        x = torch.cat((skip, deconv[..., :skip.size(2), :skip.size(3)],
                       up_flow[..., :skip.size(2), :skip.size(3)]),
                      dim=1)
    flow = torch.nn.functional.interpolate(
        model.predict_flow(x),
        scale_factor=8,
        mode='bilinear',
        align_corners=False)
    return flow * 8 * 5


def ours_and_mmtrack_flow(flownet, hw, seed):
    """``flownet``'s flow between two random frames of ``hw`` (H, W), and
    mmtrack's forward of the same weights on them."""
    torch.manual_seed(seed)
    img_cur = _normalise(torch.rand(1, 3, *hw) * 255)
    img_prev = _normalise(torch.rand(1, 3, *hw) * 255)
    flow_mean = torch.tensor([0.411, 0.432, 0.450]).view(1, 3, 1, 1)
    imgs = torch.cat([(img * STD + MEAN) / 255 - flow_mean
                      for img in (img_cur, img_prev)],
                     dim=1)
    with torch.no_grad():
        ours = flownet(img_cur, img_prev)
        reference = mmtrack_forward(flownet, imgs)
    return ours, reference


@pytest.mark.parametrize('hw', [(96, 176), (120, 200)])
def test_flow_equals_mmtrack_for_sizes_not_divisible_by_64(flownet, hw):
    """mmtrack's weights give mmtrack's flow: its network sees the halved
    image unpadded (48 x 88 or 60 x 100 here; a 64-padding changes the
    flow near the bottom and right border) and its flow is one x8
    resize."""
    ours, reference = ours_and_mmtrack_flow(flownet, hw, seed=1)
    assert ours.shape == reference.shape == (1, 2, *hw)
    assert torch.allclose(ours, reference, atol=1e-4)


def test_flow_units_even_size(flownet, monkeypatch):
    """Raw c -> c * flow_scale_factor * 4 / img_scale_factor = 40c px."""
    monkeypatch.setattr(flownet, 'predict_raw_flow', _constant_raw(0.25, -0.1))
    img = torch.zeros(1, 3, 96, 160)
    flow = flownet(img, img)
    assert flow.shape == (1, 2, 96, 160)
    assert torch.allclose(flow[:, 0], torch.full((1, 96, 160), 10.0))
    assert torch.allclose(flow[:, 1], torch.full((1, 96, 160), -4.0))


def test_flow_units_odd_size(flownet, monkeypatch):
    """Odd sizes: the network sees round(H / 2) x round(W / 2) = 38 x 66."""
    monkeypatch.setattr(flownet, 'predict_raw_flow', _constant_raw(1., 1.))
    img = torch.zeros(1, 3, 75, 131)
    flow = flownet(img, img)
    assert flownet.network_size((75, 131)) == (38, 66)
    assert torch.allclose(flow[:, 0], torch.full((1, 75, 131), 20 * 131 / 66))
    assert torch.allclose(flow[:, 1], torch.full((1, 75, 131), 20 * 75 / 38))


def test_flownet_input_normalisation_and_order(flownet, monkeypatch):
    calls = []
    monkeypatch.setattr(flownet, 'predict_raw_flow',
                        _constant_raw(0., 0., calls))
    cur_rgb = torch.tensor([10., 20., 30.]).view(1, 3, 1, 1)
    prev_rgb = torch.tensor([200., 100., 50.]).view(1, 3, 1, 1)
    flownet(
        _normalise(cur_rgb.expand(1, 3, 96, 160)),
        _normalise(prev_rgb.expand(1, 3, 96, 160)))
    x = calls[0]
    assert x.shape == (1, 6, 48, 80)  # halved, not padded
    flow_mean = torch.tensor([0.411, 0.432, 0.450])
    expected = torch.cat((cur_rgb.flatten() / 255 - flow_mean,
                          prev_rgb.flatten() / 255 - flow_mean))
    assert torch.allclose(
        x[0], expected.view(6, 1, 1).expand(6, 48, 80), atol=1e-5)


def test_gradients_reach_parameters(flownet):
    flownet.zero_grad()
    img_cur = _normalise(torch.rand(1, 3, 64, 64) * 255)
    img_prev = _normalise(torch.rand(1, 3, 64, 64) * 255)
    flownet(img_cur, img_prev).pow(2).mean().backward()
    for name in ('conv1.0.conv.weight', 'deconv5.conv.weight',
                 'predict_flow6.conv.weight', 'predict_flow.conv.weight'):
        grad = flownet.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    flownet.zero_grad()


def test_bad_inputs_raise_value_error(flownet):
    with pytest.raises(ValueError, match='img_cur'):
        flownet(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 32))
    with pytest.raises(ValueError, match='img_cur'):
        flownet(torch.zeros(1, 1, 64, 64), torch.zeros(1, 1, 64, 64))
    # raw uint8 frames are not the detector-normalised images it undoes
    with pytest.raises(
            ValueError,
            match='floating-point images .* got '
            'torch.uint8 and torch.uint8'):
        flownet(
            torch.zeros(1, 3, 64, 64, dtype=torch.uint8),
            torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    for bad in (0, -0.5, float('nan'), float('inf')):
        with pytest.raises(
                ValueError, match='img_scale_factor must be '
                'finite and > 0'):
            FlowNetSimple(img_scale_factor=bad)


def test_zero_init_flow_predicts_zero_flow():
    model = FlowNetSimple(zero_init_flow=True)
    model.init_weights()
    img_cur, img_prev = torch.randn(2, 1, 3, 64, 96)
    with torch.no_grad():
        flow = model(img_cur, img_prev)
    assert flow.shape == (1, 2, 64, 96)
    assert torch.equal(flow, torch.zeros_like(flow))
    with pytest.raises(ValueError, match='zero_init_flow'):
        FlowNetSimple(
            zero_init_flow=True,
            init_cfg=dict(type='Pretrained', checkpoint='x.pth'))


def test_img_contrast_std_standardises_each_image():
    model = FlowNetSimple(width_divisor=8, img_contrast_std=0.25)
    torch.manual_seed(0)
    rgb = torch.rand(2, 3, 64, 96) * 255
    x = model.to_flownet_input(_normalise(rgb))
    assert torch.allclose(x.mean(dim=(2, 3)), torch.zeros(2, 3), atol=1e-5)
    assert torch.allclose(x.flatten(1).std(dim=1), torch.full((2, ), 0.25))
    flat = model.to_flownet_input(_normalise(torch.full((1, 3, 8, 8), 90.)))
    assert torch.equal(flat, torch.zeros_like(flat))
    with pytest.raises(ValueError, match='img_contrast_std'):
        FlowNetSimple(img_contrast_std=0.0)


def test_img_contrast_std_makes_flow_invariant_to_a_brightness_gain():
    """A frame dimmed to a tenth (SynthVID's ``dim`` degradation, without
    its noise) gives the same flow as the frame itself; without the option
    it does not."""
    torch.manual_seed(0)
    img_cur, img_prev = torch.rand(2, 1, 3, 64, 96) * 255
    for contrast_std, invariant in ((0.25, True), (None, False)):
        model = FlowNetSimple(width_divisor=8, img_contrast_std=contrast_std)
        with torch.no_grad():
            flow = model(_normalise(img_cur), _normalise(img_prev))
            dimmed = model(_normalise(img_cur * 0.1), _normalise(img_prev))
        # float32 rounding of the dimmed input, carried through a random
        # FlowNet, moves the flow by up to ~1.5e-6 of its largest value
        # (seen over seeds 0-3; absolute, up to 8e-5 px, which kernels of
        # other CPUs can double); without the option by about all of it
        gap = (dimmed - flow).abs().max()
        assert bool(gap <= 2e-5 * flow.abs().max()) == invariant


def test_width_divisor_gives_a_lighter_network_of_the_same_layout():
    full = scaled_architecture(1)
    assert full == (_ENCODER, _DECODER, _FINAL_IN_CHANNELS)
    light = FlowNetSimple(width_divisor=8)
    full_keys = {k for k in FlowNetSimple().state_dict()}
    assert set(light.state_dict()) == full_keys
    assert light.conv6[1].conv.weight.shape == (128, 128, 3, 3)
    assert light.predict_flow.conv.weight.shape == (2, 16 + 8 + 2, 3, 3)
    with torch.no_grad():
        flow = light(torch.randn(1, 3, 64, 96), torch.randn(1, 3, 64, 96))
    assert flow.shape == (1, 2, 64, 96)
    for bad in (3, True):
        with pytest.raises(ValueError, match='width_divisor'):
            FlowNetSimple(width_divisor=bad)


@pytest.mark.parametrize('hw, level_hws', [
    ((64, 128), [(1, 2), (2, 4), (4, 8), (8, 16), (16, 32)]),
    ((60, 100), [(1, 2), (2, 4), (4, 7), (8, 13), (15, 25)]),
])
def test_raw_flows_of_every_level(flownet, hw, level_hws):
    """Level s has ceil(h / s) x ceil(w / s) cells."""
    x = torch.randn(1, 6, *hw)
    with torch.no_grad():
        flows = flownet.predict_raw_flows(x)
        final = flownet.predict_raw_flow(x)
    assert [tuple(f.shape[-2:]) for f in flows] == level_hws
    assert flownet.prediction_strides == (64, 32, 16, 8, 4)
    assert torch.equal(flows[-1], final)


def _constant_raw_flows(value_x, value_y):
    """A stand-in for predict_raw_flows: every level constant."""

    def raw_flows(x):
        outs = []
        for stride in (64, 32, 16, 8, 4):
            out = x.new_empty(
                x.size(0), 2, -(-x.size(2) // stride), -(-x.size(3) // stride))
            out[:, 0], out[:, 1] = value_x, value_y
            outs.append(out)
        return outs

    return raw_flows


def test_loss_is_zero_for_the_true_flow_and_in_pixels(flownet, monkeypatch):
    """Raw (0.25, -0.1) is (10, -4) px (x 40): a zero loss against that
    flow; against a zero flow every level's EPE is |(10, -4)| px."""
    img = torch.zeros(2, 3, 96, 160)
    gt = torch.empty(2, 2, 96, 160)
    gt[:, 0], gt[:, 1] = 10.0, -4.0
    monkeypatch.setattr(flownet, 'predict_raw_flows',
                        _constant_raw_flows(0.25, -0.1))
    losses = flownet.loss(img, img, gt)
    assert losses['loss_flow'].item() == pytest.approx(0.0, abs=1e-4)
    assert losses['epe'].item() == pytest.approx(0.0, abs=1e-4)
    monkeypatch.setattr(flownet, 'predict_raw_flows',
                        _constant_raw_flows(0.0, 0.0))
    losses = flownet.loss(img, img, gt)
    norm = (10.0**2 + 4.0**2)**0.5
    assert losses['epe'].item() == pytest.approx(norm, rel=1e-5)
    assert losses['loss_flow'].item() == pytest.approx(
        (0.005 + 0.01 + 0.02 + 0.08 + 0.32) * norm, rel=1e-5)
    only_finest = flownet.loss(img, img, gt, level_weights=(0, 0, 0, 0, 1))
    assert only_finest['loss_flow'].item() == pytest.approx(norm, rel=1e-5)


def test_loss_pixel_weight_selects_pixels(flownet, monkeypatch):
    """Error only in the left half: weighting only the right half (whole
    cells at every level: columns 0-79 | 80-159 at the 64-px level of the
    80-px network input) gives zero loss, only the left half the full."""
    img = torch.zeros(1, 3, 96, 160)
    gt = torch.zeros(1, 2, 96, 160)
    gt[:, 0, :, :80] = 8.0  # raw 0.2 on the left half, 0 on the right
    monkeypatch.setattr(flownet, 'predict_raw_flows',
                        _constant_raw_flows(0.0, 0.0))
    right = torch.zeros(1, 1, 96, 160)
    right[..., 128:] = 1.0  # network columns 64-79: the 2nd 64-px cell
    weights = (0, 0, 0, 0, 1)
    assert flownet.loss(img, img, gt, right, weights)['loss_flow'].item() \
        == pytest.approx(0.0, abs=1e-5)
    left = 1.0 - right
    left[..., 64:] = 0.0
    assert flownet.loss(img, img, gt, left, weights)['loss_flow'].item() \
        == pytest.approx(8.0, rel=1e-5)
    with pytest.raises(ValueError, match='pixel_weight'):
        flownet.loss(img, img, gt, -right)


def test_loss_trains_the_network_and_checks_shapes():
    model = FlowNetSimple(width_divisor=16)
    img_cur, img_prev = torch.randn(2, 1, 3, 64, 96)
    gt = torch.randn(1, 2, 64, 96)
    losses = model.loss(img_cur, img_prev, gt)
    losses['loss_flow'].backward()
    assert model.conv1[0].conv.weight.grad.abs().sum() > 0
    assert not losses['epe'].requires_grad
    with pytest.raises(ValueError, match='gt_flow'):
        model.loss(img_cur, img_prev, gt[:, :, :32])
    with pytest.raises(ValueError, match='level_weights'):
        model.loss(img_cur, img_prev, gt, level_weights=(1.0, ))


def test_cuda_matches_cpu(flownet, cuda_device):
    """Same flow (TF32 off) and gradients reach the parameters on CUDA."""
    img_cur = _normalise(torch.rand(1, 3, 64, 96) * 255)
    img_prev = _normalise(torch.rand(1, 3, 64, 96) * 255)
    with torch.no_grad():
        on_cpu = flownet(img_cur, img_prev)
    on_gpu = copy.deepcopy(flownet).to(cuda_device)
    flow = on_gpu(img_cur.to(cuda_device), img_prev.to(cuda_device))
    assert flow.device.type == 'cuda' and flow.shape == on_cpu.shape
    scale = on_cpu.abs().max()
    assert (flow.detach().cpu() - on_cpu).abs().max() <= 1e-4 * scale
    flow.pow(2).mean().backward()
    grad = on_gpu.get_parameter('conv1.0.conv.weight').grad
    assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize(
    'content', [torch.zeros(3), dict(state_dict=None)],
    ids=['tensor', 'state_dict-None'])
def test_checkpoint_without_a_state_dict_names_the_file(tmp_path, content):
    """A readable file that holds no dict, or no dict under 'state_dict'
    (that was a bare AttributeError)."""
    path = tmp_path / 'no_state_dict.pth'
    torch.save(content, path)
    with pytest.raises(
            RuntimeError,
            match=f'FlowNet checkpoint {path} holds no state dict'):
        FlowNetSimple(width_divisor=8).load_pretrained(str(path))


@pytest.mark.parametrize('hw', [(100, 180), (84, 200)])
def test_flow_is_cropped_where_the_halved_size_is_not_a_multiple_of_4(
        flownet, hw):
    """At H = 100 FlowNet reads 50 rows, its stride-4 grid covers 52, and
    the x8 resize gives 104 rows, cropped to H."""
    ours, reference = ours_and_mmtrack_flow(flownet, hw, seed=2)
    # mmtrack's x8 resize covers the whole stride-4 grid: more rows than H
    assert reference.size(2) > hw[0]
    assert ours.shape == (1, 2, *hw)
    assert torch.allclose(ours, reference[..., :hw[0], :hw[1]], atol=1e-4)


def test_default_runs_flownet_at_half_resolution(monkeypatch):
    model = FlowNetSimple()
    assert model.img_scale_factor == 0.5
    assert model.network_size((96, 160)) == (48, 80)
    calls = []
    monkeypatch.setattr(model, 'predict_raw_flow',
                        _constant_raw(0.25, -0.1, calls))
    img = torch.zeros(1, 3, 96, 160)
    flow = model(img, img)
    assert calls[0].shape == (1, 6, 48, 80)
    # raw c -> c * 5 * 4 / 0.5 = 40c input pixels
    assert torch.allclose(flow[:, 0], torch.full((1, 96, 160), 10.0))
    assert torch.allclose(flow[:, 1], torch.full((1, 96, 160), -4.0))
