# Copyright (c) memvid_mm contributors. All rights reserved.
"""FlowNetSimple (FlowNetS, Dosovitskiy et al. 2015) as used by DFF/FGFA.

Shape shorthand in this module:

    N: batch size
    H, W: size of the input images (as given to the detector)
    h, w: size of the images fed to the network (``img_scale_factor`` * H/W)
    ceil(h / s): size of the network's maps at stride s (2 ... 64); every
        stride-2 conv rounds up, and the decoder crops each upsampled map
        to the skip connection it joins, as mmtrack's ``crop_like`` does

Flow units and conventions of :meth:`FlowNetSimple.forward`:

* The network's raw prediction (``predict_raw_flow``) lives on a grid of
  stride 4 w.r.t. the network input. FlowNet was trained on flow targets
  divided by 20 (in network-input pixels), so ``raw * 20`` is a
  displacement in network-input pixels and ``raw * flow_scale_factor``
  (5 = 20 / 4) a displacement in cells of the stride-4 grid. mmtrack
  multiplies by ``flow_scale_factor * 4 / img_scale_factor`` (= 40), which
  is the same displacement in input-image pixels.
* Here the raw prediction is resized to the input image and multiplied
  by ``flow_scale_factor * 4`` (network-input pixels), with ``dx`` scaled
  by ``W / w`` and ``dy`` by ``H / h``. The result is a displacement in
  **input-image pixels at input resolution**. Where the stride-4 grid
  scales to the image by a whole number of pixels (any even ``H`` and
  ``W`` for ``img_scale_factor=0.5``) that is one bilinear resize by
  ``4 / img_scale_factor``, mmtrack's, and the flow equals mmtrack's;
  otherwise the grid is resized to ``(h, w)`` and then to ``(H, W)``
  (two resizes, each with exact pixel centres).
* Channel 0 is ``dx`` (columns), channel 1 ``dy`` (rows), *backward*
  convention: the content at pixel p of ``img_cur`` is found at
  ``p + flow(p)`` in ``img_prev``. mmtrack's DFF/FGFA call the network on
  ``cat(key_img, ref_img)`` and warp the reference features to the key
  frame with the result, so ``img_cur`` is that first (key) image and
  ``img_prev`` the second (reference) one.
"""
import math
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor

from ...ops.deterministic import resize_bilinear
from ...utils import naming_unreadable_checkpoint, non_finite_keys
from ...utils.argument_checks import is_int
from ...utils.checkpoint import pretrained_init_cfg
from ..layers.flow_warp import scale_flow_

# Encoder: (name, in_channels, out_channels, kernel_size) per conv; the
# first conv of each convN block has stride 2, the others stride 1. Names
# and shapes are those of mmtrack's FlowNetSimple (and its released
# ``flownet_simple.pth``).
_ENCODER = (
    ('conv1', ((6, 64, 7), )),
    ('conv2', ((64, 128, 5), )),
    ('conv3', ((128, 256, 5), (256, 256, 3))),
    ('conv4', ((256, 512, 3), (512, 512, 3))),
    ('conv5', ((512, 512, 3), (512, 512, 3))),
    ('conv6', ((512, 1024, 3), (1024, 1024, 3))),
)
# Decoder, coarse to fine: (level l, channels of the input at level l,
# deconv output channels). At level l: flow_l = predict_flow{l}(x_l);
# x_{l-1} = cat(conv{l-1}, deconv{l-1}(x_l), upsample_flow{l-1}(flow_l)).
_DECODER = ((6, 1024, 512), (5, 1026, 256), (4, 770, 128), (3, 386, 64))
_FINAL_IN_CHANNELS = 194  # conv2 (128) + deconv2 (64) + upsampled flow (2)
_LEAKY_RELU = dict(type='LeakyReLU', negative_slope=0.1)


def scaled_architecture(width_divisor: int) -> tuple:
    """Encoder and decoder tables with feature channels divided.

    Args:
        width_divisor (int): Divides every feature width (not the 6 input or
            the 2 flow channels); 1 gives mmtrack's FlowNetSimple.

    Returns:
        tuple: ``(encoder, decoder, final_in_channels)`` shaped like
        ``_ENCODER``, ``_DECODER`` and ``_FINAL_IN_CHANNELS``.
    """
    if not is_int(width_divisor) or width_divisor < 1 or \
            64 % width_divisor:
        raise ValueError('width_divisor must be a divisor of 64 (1, 2, 4, '
                         f'8, ...), got {width_divisor!r}')

    def scale(channels: int) -> int:
        return channels if channels == 6 else channels // width_divisor

    encoder = tuple(
        (name, tuple((scale(cin), scale(cout), k) for cin, cout, k in convs))
        for name, convs in _ENCODER)
    out_of = {name: convs[-1][1] for name, convs in encoder}
    decoder, in_channels = [], out_of['conv6']
    for level, _, deconv_out in _DECODER:
        decoder.append((level, in_channels, scale(deconv_out)))
        in_channels = out_of[f'conv{level - 1}'] + scale(deconv_out) + 2
    return encoder, tuple(decoder), in_channels


def crop_to(x: Tensor, hw: Tuple[int, int]) -> Tensor:
    """The top-left ``(h, w)`` cells of ``x`` (``(N, C, >= h, >= w)``).

    Args:
        x (Tensor): ``(N, C, H', W')`` map, ``H' >= h`` and ``W' >= w``.
        hw (tuple[int, int]): ``(h, w)``, the size to keep.

    Returns:
        Tensor: ``(N, C, h, w)``, a view of ``x``.
    """
    return x[:, :, :hw[0], :hw[1]]


def crop_like(x: Tensor, reference: Tensor) -> Tensor:
    """Crop an upsampled decoder map ``x`` to the size of the skip
    connection ``reference`` it joins (mmtrack's ``crop_like``).

    Args:
        x (Tensor): ``(N, C, 2 * ceil(h / 2), 2 * ceil(w / 2))`` map.
        reference (Tensor): ``(N, C', h, w)`` skip connection.

    Returns:
        Tensor: ``(N, C, h, w)``, the top-left cells of ``x``.
    """
    return crop_to(x, tuple(reference.shape[-2:]))


def multiscale_epe_loss(raw_flows: Sequence[Tensor], target: Tensor,
                        pixel_weight: Tensor, level_weights: Sequence[float],
                        strides: Sequence[int]) -> Tensor:
    """Weighted sum over levels of each level's mean end-point error.

    Shape shorthand: N image pairs, h/w network input size, s a level's
    stride, 2 flow channels (0 = dx, 1 = dy).

    The target and the pixel weights are zero-padded to whole cells of the
    coarsest level and averaged over the ``s x s`` cells of every level;
    the averaged target is divided by the cell's share of the (unpadded)
    image, so a cell reaching past the border holds the mean over its
    pixels inside the image. Cells that lie mostly outside the image (at
    most half of them inside: a level's last row and column when the size
    is no multiple of its stride) get no weight. A level's loss is the EPE
    ``||raw - target||_2`` per cell, averaged with the cells' mean pixel
    weight; the result is ``sum_l level_weights[l] * loss_l``. Levels are
    paired with ``zip`` (extra entries of any sequence are ignored).

    Args:
        raw_flows (Sequence[Tensor]): Predictions, one per level, each
            ``(N, 2, ceil(h / s), ceil(w / s))`` for the matching stride,
            in the units of ``target``.
        target (Tensor): ``(N, 2, h, w)`` true flow at the network input
            resolution, in the same units as the predictions (FlowNet's
            raw units: network-input pixels / 20).
        pixel_weight (Tensor): ``(N, 1, h, w)`` non-negative weight of
            every pixel.
        level_weights (Sequence[float]): Weight of each level's mean EPE.
        strides (Sequence[int]): Stride ``s`` of each level, in the order
            of ``raw_flows``.

    Returns:
        Tensor: 0-dim loss, in the units of ``target`` (differentiable in
        ``raw_flows``).
    """
    h, w = target.shape[-2:]
    # Zero-pad to whole cells of every level, and mark the image.
    coarsest = max(strides)
    padding = (0, -w % coarsest, 0, -h % coarsest)
    target = F.pad(target, padding)  # [N, 2, h', w'], multiples of coarsest
    valid = F.pad(target.new_ones(1, 1, h, w), padding)  # [1, 1, h', w']
    pixel_weight = F.pad(pixel_weight, padding)  # [N, 1, h', w']
    loss = target.new_zeros(())
    for weight, raw, stride in zip(level_weights, raw_flows, strides):
        cells = tuple(raw.shape[-2:])  # (ceil(h / stride), ...)
        cover = crop_to(F.avg_pool2d(valid, stride), cells)
        level_target = crop_to(F.avg_pool2d(target, stride),
                               cells) / cover.clamp(min=1e-6)
        cell_weight = crop_to(F.avg_pool2d(pixel_weight, stride), cells) * (
            cover > 0.5)
        epe = (raw - level_target).norm(dim=1, keepdim=True)  # [N, 1, ...]
        loss = loss + weight * (epe * cell_weight).sum() / \
            cell_weight.sum().clamp(min=1e-6)
    return loss


def _conv(in_channels: int, out_channels: int, kernel_size: int,
          stride: int) -> ConvModule:
    """Conv (with bias) + LeakyReLU(0.1), 'same' padding."""
    return ConvModule(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=(kernel_size - 1) // 2,
        bias=True,
        act_cfg=_LEAKY_RELU)


def _deconv(in_channels: int, out_channels: int,
            act_cfg: OptMultiConfig) -> ConvModule:
    """4x4 stride-2 transposed conv (no bias): exactly doubles h and w."""
    return ConvModule(
        in_channels,
        out_channels,
        4,
        stride=2,
        padding=1,
        bias=False,
        conv_cfg=dict(type='deconv'),
        act_cfg=act_cfg)


def _predict_flow(in_channels: int) -> ConvModule:
    """3x3 conv (no bias, no activation) to the 2 flow channels."""
    return ConvModule(in_channels, 2, 3, padding=1, bias=False, act_cfg=None)


@MODELS.register_module()
class FlowNetSimple(BaseModule):
    """FlowNetSimple: flow between two normalised images.

    Parameter names and shapes equal mmtrack's ``FlowNetSimple``, so its
    released ``flownet_simple.pth`` loads with ``strict=True`` (e.g.
    ``init_cfg=dict(type='Pretrained', checkpoint=...)``). Unlike mmtrack's
    version, every constant is given at construction and held in
    non-persistent buffers (they follow ``.to()``, are not in the state
    dict) and the forward needs no metainfo nor data-preprocessor config.

    Input contract: images normalised by the detector's data preprocessor,
    i.e. ``(rgb - img_norm_mean) / img_norm_std`` with RGB channel order.
    They are un-normalised and re-normalised the FlowNet way,
    ``rgb / flow_img_norm_std - flow_img_norm_mean`` (channel order as in
    mmtrack: R, G, B against 0.411, 0.432, 0.450) and resized by
    ``img_scale_factor``. Any size works: like mmtrack's, the decoder crops
    each upsampled map to the skip connection it joins (the input is not
    padded, which would change the flow that mmtrack's weights give near
    the bottom and right border). Padding the detector's batch applies to
    all images alike; no per-image ``img_shape`` is used (mmtrack zeroes
    FlowNet's input beyond ``img_shape``; here the padding is the
    detector's pad value).

    Args:
        img_scale_factor (float): Resize factor of the images fed to the
            network. Defaults to 0.5.
        flow_scale_factor (float): Converts the raw prediction to
            displacements in cells of its stride-4 grid (see the module
            docstring). Defaults to 5.0.
        img_norm_mean (Sequence[float]): RGB mean of the data preprocessor.
            Defaults to ImageNet's (123.675, 116.28, 103.53).
        img_norm_std (Sequence[float]): RGB std of the data preprocessor.
            Defaults to ImageNet's (58.395, 57.12, 57.375).
        flow_img_norm_mean (Sequence[float]): FlowNet's input mean, applied
            after dividing by ``flow_img_norm_std``.
            Defaults to (0.411, 0.432, 0.450).
        flow_img_norm_std (Sequence[float]): FlowNet's input scale.
            Defaults to (255.0, 255.0, 255.0).
        width_divisor (int): Divide every feature width by this (1, 2, 4,
            8, ...) for a lighter network, e.g. on SynthVID; only 1 matches
            mmtrack's weights. Defaults to 1.
        img_contrast_std (float, optional): If given, each image is
            standardised after FlowNet's normalisation: its per-channel
            mean over the pixels is subtracted and it is scaled to this std
            (over its channels and pixels), so a dimmed or over-exposed
            frame reaches the network with the contrast of a normal one and
            the flow becomes invariant to a frame's brightness gain (FlowNet
            assumes constant brightness between the two frames). mmtrack's
            weights were trained without it. Defaults to None (off).
        zero_init_flow (bool): Set the weights of every flow prediction
            layer (``predict_flow*``) to zero in :meth:`init_weights`, so an
            untrained network predicts zero flow (the identity warp) and
            learns motion from there. Only for training without FlowNet
            weights (e.g. SynthVID's FlowNet pre-training); parts of a
            ``Pretrained`` ``init_cfg`` would be overwritten, so the two
            are exclusive.
            Defaults to False.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.
    """

    #: Strides of the raw predictions of :meth:`predict_raw_flows`.
    prediction_strides = tuple(2**level for level, _, _ in _DECODER) + (4, )
    _min_contrast_std = 1e-3  # std floor of img_contrast_std's scaling

    def __init__(self,
                 img_scale_factor: float = 0.5,
                 flow_scale_factor: float = 5.0,
                 img_norm_mean: Sequence[float] = (123.675, 116.28, 103.53),
                 img_norm_std: Sequence[float] = (58.395, 57.12, 57.375),
                 flow_img_norm_mean: Sequence[float] = (0.411, 0.432, 0.450),
                 flow_img_norm_std: Sequence[float] = (255.0, 255.0, 255.0),
                 width_divisor: int = 1,
                 img_contrast_std: Optional[float] = None,
                 zero_init_flow: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if zero_init_flow and init_cfg is not None:
            raise ValueError('zero_init_flow=True would overwrite the '
                             'weights of init_cfg; use one or the other')
        self.zero_init_flow = zero_init_flow
        if not (img_scale_factor > 0 and math.isfinite(img_scale_factor)):
            raise ValueError('img_scale_factor must be finite and > 0, got '
                             f'{img_scale_factor}')
        self.img_scale_factor = float(img_scale_factor)
        if img_contrast_std is not None and not img_contrast_std > 0:
            raise ValueError('img_contrast_std must be > 0 or None, got '
                             f'{img_contrast_std}')
        self.img_contrast_std = img_contrast_std
        self.flow_scale_factor = float(flow_scale_factor)
        constants = dict(
            img_norm_mean=img_norm_mean,
            img_norm_std=img_norm_std,
            flow_img_norm_mean=flow_img_norm_mean,
            flow_img_norm_std=flow_img_norm_std)
        for name, value in constants.items():
            if len(value) != 3:
                raise ValueError(f'{name} needs 3 (RGB) values, got '
                                 f'{value!r}')
            self.register_buffer(
                name,
                torch.tensor(value, dtype=torch.float32).view(1, 3, 1, 1),
                persistent=False)
        encoder, decoder, final_in_channels = scaled_architecture(
            width_divisor)
        self.width_divisor = width_divisor
        for name, convs in encoder:
            self.add_module(
                name,
                nn.Sequential(*[
                    _conv(cin, cout, k, stride=2 if i == 0 else 1)
                    for i, (cin, cout, k) in enumerate(convs)
                ]))
        for level, in_channels, out_channels in decoder:
            self.add_module(f'deconv{level - 1}',
                            _deconv(in_channels, out_channels, _LEAKY_RELU))
            self.add_module(f'predict_flow{level}', _predict_flow(in_channels))
            self.add_module(f'upsample_flow{level - 1}',
                            _deconv(2, 2, act_cfg=None))
        self.predict_flow = _predict_flow(final_in_channels)

    def init_weights(self) -> None:
        """Initialise as ``init_cfg`` says; zero the flow predictors when
        ``zero_init_flow``.

        A ``Pretrained`` ``init_cfg`` (e.g. mmtrack's
        ``flownet_simple.pth``) is loaded with ``strict=True``, by
        :meth:`load_pretrained`: mmengine's ``PretrainedInit`` loads with
        ``strict=False`` and would leave a random FlowNet, with only a
        logged warning, for a checkpoint that does not fit. In a list of
        ``init_cfg`` s the ``Pretrained`` one is loaded the same way, and
        the others are not applied: the strict load sets every parameter.
        """
        pretrained = pretrained_init_cfg(self.init_cfg, 'FlowNetSimple')
        if pretrained is not None:
            self.load_pretrained(
                **{k: v
                   for k, v in pretrained.items() if k != 'type'})
            self._is_init = True
            return
        super().init_weights()
        if self.zero_init_flow:
            for name, module in self.named_children():
                if name.startswith('predict_flow'):
                    nn.init.zeros_(module.conv.weight)

    def load_pretrained(self,
                        checkpoint: str,
                        prefix: Optional[str] = None,
                        map_location: str = 'cpu') -> None:
        """Load FlowNet weights strictly (every key, every shape).

        Args:
            checkpoint (str): Path or URL of the checkpoint: a state dict,
                or a dict holding one under ``state_dict`` (mmtrack's
                ``flownet_simple.pth``, or
                ``tools/misc/pretrain_flownet_synthvid.py``'s output).
            prefix (str, optional): Load only the keys under this prefix
                (e.g. ``'motion.'`` of a whole detector's checkpoint), as
                ``PretrainedInit``'s ``prefix``. Defaults to None.
            map_location (str): Passed to ``torch.load``.
                Defaults to ``'cpu'``.

        Raises:
            ValueError: When the file cannot be read as a checkpoint.
            RuntimeError: When the checkpoint has no key under ``prefix``,
                or its keys or shapes do not fit this network.
            Each message names the checkpoint.
        """
        with naming_unreadable_checkpoint(checkpoint, 'FlowNet checkpoint'):
            loaded = _load_checkpoint(checkpoint, map_location=map_location)
        if isinstance(loaded, dict):
            loaded = loaded.get('state_dict', loaded)
        if not isinstance(loaded, dict):  # also {'state_dict': None}
            raise RuntimeError(f'FlowNet checkpoint {checkpoint} holds '
                               f'no state dict')
        state_dict = {
            re.sub(r'^module\.', '', k): v
            for k, v in loaded.items()
        }
        if prefix is not None:  # as mmengine's _load_checkpoint_with_prefix,
            # whose bare assert would name neither the file nor the prefix
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            state_dict = {
                k[len(prefix):]: v
                for k, v in state_dict.items() if k.startswith(prefix)
            }
            if not state_dict:
                raise RuntimeError(f'FlowNet checkpoint {checkpoint} has no '
                                   f'key under the prefix {prefix!r}')
        self.load_state_dict_from(state_dict, checkpoint)

    def load_state_dict_from(self, state_dict: Dict[str, Tensor],
                             source: str) -> None:
        """Load FlowNet weights strictly (every key, every shape).

        Args:
            state_dict (dict[str, Tensor]): The FlowNet's weights, without
                a prefix.
            source (str): Where they come from, named in the error.

        Raises:
            RuntimeError: When the keys or shapes do not fit this network;
                the message names ``source``.
            ValueError: When a weight holds a NaN or an infinity; the
                message names ``source`` and the keys.
        """
        bad = non_finite_keys(state_dict)
        if bad:
            raise ValueError(f'FlowNet checkpoint {source} holds NaN or '
                             f'infinite values in {", ".join(bad)}')
        try:
            self.load_state_dict(state_dict, strict=True)
        except RuntimeError as error:
            raise RuntimeError(f'FlowNet checkpoint {source} does not '
                               f'fit FlowNetSimple(width_divisor='
                               f'{self.width_divisor}): {error}') from None

    def to_flownet_input(self, img: Tensor) -> Tensor:
        """Turn detector-normalised images into FlowNet-normalised ones.

        Args:
            img (Tensor): ``(N, 3, H, W)`` ``(rgb - mean) / std``.

        Returns:
            Tensor: ``(N, 3, H, W)`` ``rgb / flow_std - flow_mean``, each
            image standardised to ``img_contrast_std`` when that is set.
        """
        rgb = img * self.img_norm_std + self.img_norm_mean
        x = rgb / self.flow_img_norm_std - self.flow_img_norm_mean
        if self.img_contrast_std is None:
            return x
        x = x - x.mean(dim=(2, 3), keepdim=True)
        std = x.flatten(1).std(dim=1).view(-1, 1, 1, 1)
        # A flat image (std 0) stays all zeros.
        return x / std.clamp(min=self._min_contrast_std) * \
            self.img_contrast_std

    def network_size(self, hw: Tuple[int, int]) -> Tuple[int, int]:
        """Size ``(h, w)`` at which images of size ``hw`` enter the network.

        Args:
            hw (tuple[int, int]): Input ``(H, W)``.

        Returns:
            tuple[int, int]: ``(round(H * s), round(W * s))``, at least 1.
        """
        return tuple(max(1, int(round(x * self.img_scale_factor))) for x in hw)

    def predict_raw_flow(self, x: Tensor) -> Tensor:
        """Run the encoder-decoder.

        Args:
            x (Tensor): ``(N, 6, h, w)`` FlowNet-normalised pair (current
                frame in channels 0-2), any size.

        Returns:
            Tensor: ``(N, 2, ceil(h / 4), ceil(w / 4))`` raw prediction
            (units: see the module docstring).
        """
        return self.predict_raw_flows(x)[-1]

    def predict_raw_flows(self, x: Tensor) -> List[Tensor]:
        """Run the encoder-decoder, keeping every level's prediction.

        Args:
            x (Tensor): ``(N, 6, h, w)`` as in :meth:`predict_raw_flow`.

        Returns:
            list[Tensor]: Raw predictions coarse to fine, ``(N, 2,
            ceil(h / s), ceil(w / s))`` for the strides ``s`` = 64, 32, 16,
            8 and 4 of :attr:`prediction_strides` (the last is
            :meth:`predict_raw_flow`'s output), in the same units.
        """
        if x.dim() != 4 or x.size(1) != 6:
            raise ValueError('FlowNetSimple needs an (N, 6, h, w) image '
                             f'pair, got {tuple(x.shape)}')
        skips, flows = [], []
        for name, _ in _ENCODER:
            x = getattr(self, name)(x)
            skips.append(x)  # conv1 ... conv6, strides 2 ... 64
        for level, _, _ in _DECODER:
            flow = getattr(self, f'predict_flow{level}')(x)
            flows.append(flow)  # [N, 2, ceil(h / 2**level), ...]
            skip = skips[level - 2]
            x = torch.cat(
                (skip, crop_like(getattr(self, f'deconv{level - 1}')(x), skip),
                 crop_like(
                     getattr(self, f'upsample_flow{level - 1}')(flow), skip)),
                dim=1)
        flows.append(self.predict_flow(x))  # [N, 2, ceil(h/4), ceil(w/4)]
        return flows

    def raw_to_pixel_flow(self, raw: Tensor, net_hw: Tuple[int, int],
                          img_hw: Tuple[int, int]) -> Tensor:
        """Convert the raw prediction to a flow in input-image pixels.

        Args:
            raw (Tensor): ``(N, 2, ceil(h / 4), ceil(w / 4))`` raw
                prediction.
            net_hw (tuple[int, int]): Network input ``(h, w)``.
            img_hw (tuple[int, int]): Input image ``(H, W)``.

        Returns:
            Tensor: ``(N, 2, H, W)`` flow in input-image pixels.
        """
        (h, w), (H, W) = net_hw, img_hw
        # The stride-4 grid covers 4 * ceil(h / 4) >= h network pixels.
        grid_h, grid_w = raw.size(2) * 4, raw.size(3) * 4
        if (grid_h * H) % h == 0 and (grid_w * W) % w == 0:
            # One resize, by 4 * H / h (mmtrack's 4 / img_scale_factor).
            flow = resize_bilinear(raw, (grid_h * H // h, grid_w * W // w))
            flow = flow[:, :, :H, :W]
        else:
            flow = resize_bilinear(raw, (grid_h, grid_w))[:, :, :h, :w]
            flow = resize_bilinear(flow, (H, W))
        flow = flow * (self.flow_scale_factor * 4)  # network-input pixels
        return scale_flow_(flow, W / w, H / h)  # [N, 2, H, W]

    def network_input(self, img_cur: Tensor, img_prev: Tensor) -> Tensor:
        """Build the network input from two detector-normalised images.

        Args:
            img_cur (Tensor): ``(N, 3, H, W)`` current frame.
            img_prev (Tensor): ``(N, 3, H, W)`` earlier frame.

        Returns:
            Tensor: ``(N, 6, h, w)``, the FlowNet-normalised pair resized to
            :meth:`network_size`.
        """
        if img_cur.dim() != 4 or img_cur.size(1) != 3 or \
                img_cur.shape != img_prev.shape:
            raise ValueError('img_cur and img_prev must both be (N, 3, H, W),'
                             f' got {tuple(img_cur.shape)} and '
                             f'{tuple(img_prev.shape)}')
        if not (img_cur.is_floating_point() and img_prev.is_floating_point()):
            raise ValueError(
                'img_cur and img_prev must be floating-point images as the '
                "detector's data preprocessor normalises them, got "
                f'{img_cur.dtype} and {img_prev.dtype}')
        img_hw = tuple(img_cur.shape[-2:])
        net_hw = self.network_size(img_hw)
        x = torch.cat(
            (self.to_flownet_input(img_cur), self.to_flownet_input(img_prev)),
            dim=1)  # [N, 6, H, W]
        if net_hw != img_hw:
            x = F.interpolate(
                x, size=net_hw, mode='bilinear', align_corners=False)
        return x  # [N, 6, h, w]

    def loss(
        self,
        img_cur: Tensor,
        img_prev: Tensor,
        gt_flow: Tensor,
        pixel_weight: Optional[Tensor] = None,
        level_weights: Sequence[float] = (0.005, 0.01, 0.02, 0.08, 0.32)
    ) -> Dict[str, Tensor]:
        """Multi-scale end-point-error loss against a known flow.

        A multi-scale loss like FlowNet's: the target, converted to raw
        units (network input pixels / 20), is averaged over each level's
        cells and every level's prediction pays its mean EPE times its
        weight (FlowNet sums each level's EPE instead); cells that lie
        mostly outside the image (a level's last row and column, where the
        image is no multiple of its stride) are left out. With
        ``pixel_weight`` the means are weighted (the weights averaged over
        each cell like the target), e.g. to let small moving objects count
        as much as the background. The loss is reported in input-image
        pixels (x 20 / ``img_scale_factor``; with the weights
        (0, 0, 0, 0, 1) it is the finest level's EPE in pixels).

        Args:
            img_cur (Tensor): ``(N, 3, H, W)`` current frame.
            img_prev (Tensor): ``(N, 3, H, W)`` earlier frame.
            gt_flow (Tensor): ``(N, 2, H, W)`` true backward flow in
                input-image pixels (the :meth:`forward` convention).
            pixel_weight (Tensor, optional): ``(N, 1, H, W)`` non-negative
                weight of every pixel. Defaults to None (all equal).
            level_weights (Sequence[float]): Weights of the levels, strides
                64, 32, 16, 8 and 4. Defaults to (0.005, 0.01, 0.02, 0.08,
                0.32), which weights the finest level most; FlowNet's
                weights run the other way, and on per-level sums they
                learned nothing in 3,000 SynthVID iterations
                (docs/synthvid_results.md, "Ablations").

        Returns:
            dict[str, Tensor]: ``loss_flow`` (to minimise) and ``epe``, the
            mean EPE of :meth:`forward`'s output in pixels (no gradient).
        """
        if gt_flow.shape != (img_cur.size(0), 2) + img_cur.shape[-2:]:
            raise ValueError('gt_flow must be (N, 2, H, W) like the images, '
                             f'got {tuple(gt_flow.shape)} for images '
                             f'{tuple(img_cur.shape)}')
        if pixel_weight is None:
            pixel_weight = gt_flow.new_ones(
                gt_flow.size(0), 1, *gt_flow.shape[-2:])
        if pixel_weight.shape != (gt_flow.size(0), 1) + gt_flow.shape[-2:] \
                or (pixel_weight < 0).any():
            raise ValueError('pixel_weight must be (N, 1, H, W) and >= 0, '
                             f'got {tuple(pixel_weight.shape)}')
        if len(level_weights) != len(_DECODER) + 1:
            raise ValueError(f'need {len(_DECODER) + 1} level_weights, got '
                             f'{len(level_weights)}')
        x = self.network_input(img_cur, img_prev)
        raw_flows = self.predict_raw_flows(x)
        (h, w), (H, W) = x.shape[-2:], gt_flow.shape[-2:]
        # Input-image pixels -> network-input pixels / 20 (raw units).
        target = F.interpolate(gt_flow, size=(h, w), mode='area')
        target = scale_flow_(target, w / W, h / H) / (
            self.flow_scale_factor * 4)  # [N, 2, h, w]
        pixel_weight = F.interpolate(
            pixel_weight, size=(h, w), mode='area')  # [N, 1, h, w]
        loss = multiscale_epe_loss(raw_flows, target, pixel_weight,
                                   level_weights, self.prediction_strides)
        unit = self.flow_scale_factor * 4 / self.img_scale_factor
        with torch.no_grad():
            flow = self.raw_to_pixel_flow(raw_flows[-1], (h, w), (H, W))
            epe = (flow - gt_flow).norm(dim=1).mean()
        return dict(loss_flow=loss * unit, epe=epe)

    def forward(self, img_cur: Tensor, img_prev: Tensor) -> Tensor:
        """Estimate the backward flow from ``img_cur`` to ``img_prev``.

        Args:
            img_cur (Tensor): ``(N, 3, H, W)`` current (key) frame,
                normalised by the data preprocessor (RGB).
            img_prev (Tensor): ``(N, 3, H, W)`` earlier (reference/anchor)
                frame, same normalisation.

        Returns:
            Tensor: ``(N, 2, H, W)`` flow in input-image pixels, channel 0 =
            dx, 1 = dy: the content at pixel p of ``img_cur`` is at
            ``p + flow(p)`` in ``img_prev``.
        """
        x = self.network_input(img_cur, img_prev)
        raw = self.predict_raw_flow(x)
        return self.raw_to_pixel_flow(raw, tuple(x.shape[-2:]),
                                      tuple(img_cur.shape[-2:]))
