# Copyright (c) memvid_mm contributors. All rights reserved.
"""The flow-warp neck: warps feature maps with an image-resolution flow.

Shape shorthand in this module: N images (frame pairs) in a batch, C
feature channels, h/w feature map size, H/W image size (that of the flow),
2 flow channels (0 = dx, 1 = dy, in image pixels).
"""
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple, Union

import torch
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from ..layers.flow_warp import (check_flow_matches_feat, check_interpolation,
                                check_sampler, coordinate_dtype,
                                flow_to_feature_displacement, make_base_grid,
                                warp_by_displacement)

GridKey = Tuple[int, int, torch.device, torch.dtype]


def non_finite_flow_message(shape: Sequence[int], count: int) -> str:
    """The error message for a flow of ``shape`` with ``count`` bad values.

    Args:
        shape (Sequence[int]): The flow's shape, e.g. ``(N, 2, H, W)``.
        count (int): Its number of NaN or infinite values.

    Returns:
        str: The part of the message that names the shape, the count and
        where such a flow comes from; callers add where it was found.
    """
    return (f'a flow {tuple(shape)} with {count} NaN or infinite values, '
            f'which would wreck the memory; they come from the motion '
            f'network (weights that are not finite, or an overflow in half '
            f'precision)')


def check_finite_flow(flow: Tensor) -> None:
    """Raise if ``flow`` holds a NaN or an infinity.

    Reads one value back to the host: on CUDA it waits for the flow.

    Args:
        flow (Tensor): ``(N, 2, H, W)`` flow in image pixels.

    Raises:
        ValueError: Naming the number of non-finite values and where such a
            flow comes from.
    """
    finite = torch.isfinite(flow)
    if bool(finite.all()):
        return
    raise ValueError('FlowWarp got ' +
                     non_finite_flow_message(flow.shape, int((~finite).sum())))


def zero_non_finite_flow(flow: Tensor) -> Tuple[Tensor, Tensor]:
    """Set the NaN and infinite values of ``flow`` to 0, without a host read.

    For callers that check the flow later, at a point where they wait for
    the device anyway (:class:`MemoryRFCN` after the detection head): until
    then the warp samples a finite flow, so no NaN or out-of-range index
    reaches the memory or the head. The gradient passes through the finite
    values.

    Args:
        flow (Tensor): ``(N, 2, H, W)`` flow in image pixels.

    Returns:
        tuple[Tensor, Tensor]: The flow with its non-finite values set to
        0, and the number of such values (a 0-dim int64 tensor on the
        flow's device).
    """
    finite = torch.isfinite(flow)
    return torch.where(finite, flow, 0.0), (~finite).sum()


@MODELS.register_module()
class FlowWarp(BaseModule):
    """Warp one or several feature maps with an image-resolution flow.

    A parameter-free neck around :func:`memvid_mm.models.layers.flow_warp`:
    for every map the flow is resized to the map, rescaled to feature cells
    and the map is sampled at ``p + disp(p)``, bilinearly (the paper's Eq.
    1) or bicubically (zeros outside; backward convention, see
    :mod:`memvid_mm.models.layers.flow_warp`).

    The identity sampling grid of each map size is cached in
    ``self.grid_cache``, a plain dict declared here in ``__init__`` and
    keyed by ``(h, w, device, dtype)``, so it is built once per shape,
    device and dtype rather than on every call. It is not part of the
    state dict and needs no ``.to()``: a new device or dtype is simply a
    new key. Moving or casting the module (``.to()``, ``.cuda()``,
    ``.cpu()``, ``.half()``) empties the cache, so that the grids of a
    device the model has left do not stay there. :meth:`warp` samples in
    at least float32 whatever the dtype of the flow (half-precision
    coordinates would misplace features), so a
    float16 or bfloat16 flow uses the float32 grid. At most
    ``max_cached_grids`` grids are kept (the least recently used evicted
    first), which bounds memory under multi-scale training.

    Args:
        interpolation (str): ``'bilinear'`` (the paper) or ``'bicubic'``,
            which blurs a memory less when it is warped again every frame
            by sub-cell displacements (see
            :func:`~memvid_mm.models.layers.warp_by_displacement`).
            Defaults to ``'bilinear'``.
        sampler (str): ``'grid_sample'``, one fused ``grid_sample`` call
            per map (whose CUDA backward is not deterministic),
            ``'gather'``, one gather per kernel tap (deterministic, many
            more operations: kernel launches on a GPU), or ``'auto'``,
            ``'grid_sample'`` on CUDA and ``'gather'`` on the CPU (where it
            is faster) and in deterministic CUDA training. Both are exact
            for zero and integer flows and agree to float rounding
            elsewhere (see :mod:`memvid_mm.models.layers.flow_warp`).
            Defaults to ``'auto'``.
        max_cached_grids (int): Size bound of ``grid_cache``.
            Defaults to 32.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.
    """

    def __init__(self,
                 interpolation: str = 'bilinear',
                 sampler: str = 'auto',
                 max_cached_grids: int = 32,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.interpolation = check_interpolation(interpolation)
        self.sampler = check_sampler(sampler)
        if max_cached_grids < 1:
            raise ValueError('max_cached_grids must be >= 1, got '
                             f'{max_cached_grids}')
        self.max_cached_grids = max_cached_grids
        self.grid_cache: Dict[GridKey, Tensor] = OrderedDict()

    def _apply(self, fn, recurse: bool = True) -> 'FlowWarp':
        """Empty ``grid_cache``, then move or cast the module as
        ``nn.Module`` does (every ``.to()``, ``.cuda()``, ``.cpu()`` and
        dtype cast goes through here)."""
        self.grid_cache.clear()
        return super()._apply(fn, recurse)

    def base_grid(self, h: int, w: int, device: torch.device,
                  dtype: torch.dtype) -> Tensor:
        """Return the cached ``(1, 2, h, w)`` identity grid (pixel units).

        Args:
            h (int): Feature map height.
            w (int): Feature map width.
            device (torch.device): Device of the grid.
            dtype (torch.dtype): Dtype of the grid.

        Returns:
            Tensor: ``(1, 2, h, w)``, channel 0 = x, channel 1 = y.
        """
        key = (int(h), int(w), torch.device(device), dtype)
        grid = self.grid_cache.get(key)
        if grid is None:
            grid = make_base_grid(h, w, device=device, dtype=dtype)
            if len(self.grid_cache) >= self.max_cached_grids:
                self.grid_cache.popitem(last=False)
            self.grid_cache[key] = grid
        else:
            # least recently used first: a shape used every frame stays
            self.grid_cache.move_to_end(key)
        return grid

    def warp(self, feat: Tensor, flow: Tensor) -> Tensor:
        """Warp a single map.

        Args:
            feat (Tensor): ``(N, C, h, w)`` features of the reference frame.
            flow (Tensor): ``(N, 2, H, W)`` backward flow in image pixels.

        Returns:
            Tensor: ``(N, C, h, w)`` warped features.
        """
        check_flow_matches_feat(feat, flow)
        h, w = feat.shape[-2:]
        disp = flow_to_feature_displacement(flow, (h, w))
        grid = self.base_grid(h, w, disp.device, coordinate_dtype(disp.dtype))
        return warp_by_displacement(feat, disp, grid, self.interpolation,
                                    self.sampler)

    def forward(
        self,
        feats: Union[Tensor, Sequence[Tensor]],
        flow: Tensor,
        check_finite: bool = True
    ) -> Union[Tensor, List[Tensor], Tuple[Tensor, ...]]:
        """Warp ``feats`` from the reference frame to the target frame.

        Args:
            feats (Tensor | list[Tensor] | tuple[Tensor]): One ``(N, C, h,
                w)`` map or a list/tuple of maps (e.g. several levels).
            flow (Tensor): ``(N, 2, H, W)`` flow in image pixels, channel
                0 = dx, 1 = dy, such that the content at pixel ``p`` of the
                target frame is at ``p + flow(p)`` in the reference frame
                (the output of ``FlowNetSimple(target_img, ref_img)``).
            check_finite (bool): Refuse a flow with a NaN or an infinity
                (:func:`check_finite_flow`). A caller that has made its
                flow finite with :func:`zero_non_finite_flow`, and checks
                the count later, passes False. Defaults to True.

        Returns:
            Tensor | list[Tensor] | tuple[Tensor]: The warped map(s), of the
            same kind and shapes as ``feats``.

        Raises:
            ValueError: When ``check_finite`` and ``flow`` holds a NaN or an
                infinity. Sampling would turn it into a memory of NaNs or
                zeros (or a bad index), so every later frame of the video
                would be wrong. On CUDA the check waits for the flow: one
                synchronisation per call, while the next kernels are being
                launched.
        """
        if check_finite:
            check_finite_flow(flow)
        if isinstance(feats, Tensor):
            return self.warp(feats, flow)
        if not isinstance(feats, (list, tuple)):
            raise TypeError('feats must be a Tensor or a list/tuple of '
                            f'Tensors, got {type(feats).__name__}')
        warped = [self.warp(feat, flow) for feat in feats]
        return tuple(warped) if isinstance(feats, tuple) else warped
