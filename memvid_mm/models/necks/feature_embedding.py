# Copyright (c) memvid_mm contributors. All rights reserved.
"""The feature embedding of DFF's and FGFA's R-FCN: one conv + ReLU.

Shape shorthand in this module: N images, C_in backbone channels, C
embedding channels, h/w feature map size.
"""
from typing import Sequence, Tuple

from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from ...utils.argument_checks import is_int


@MODELS.register_module()
class FeatureEmbedding(BaseModule):
    """A dilated 3x3 convolution and a ReLU on the backbone's last map.

    The paper passes the dilated ResNet's features "through a 3x3
    convolutional layer and a non-linear activation (ReLU)" as FGFA does;
    FGFA's and DFF's MXNet R-FCN (``feat_conv_3x3``) reduce conv5 to 1024
    channels with dilation 6 and zero padding 6, so the map keeps its size
    and each cell sees 13x13 cells of conv5. mmdet's ``ChannelMapper`` has
    no dilation.

    Args:
        in_channels (int): Channels of the backbone map (C_in).
        out_channels (int): Channels of the embedding (C).
        kernel_size (int): Side of the convolution. Defaults to 3.
        dilation (int): Dilation of the convolution; the padding is
            ``dilation * (kernel_size - 1) // 2``, which keeps the map's
            size. Defaults to 6.
        init_cfg (dict or list[dict], optional): Initialisation. Defaults
            to a normal distribution with std 0.01 and zero bias, as FGFA
            initialises ``feat_conv_3x3``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        dilation: int = 6,
        init_cfg: OptMultiConfig = dict(
            type='Normal', layer='Conv2d', std=0.01)
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels), ('dilation',
                                                             dilation)):
            if not is_int(value) or value < 1:
                raise ValueError(f'FeatureEmbedding {name} must be a '
                                 f'positive int, got {value!r}')
        if not is_int(kernel_size) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'FeatureEmbedding kernel_size must be a '
                             f'positive odd int (the map keeps its size), '
                             f'got {kernel_size!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            padding=dilation * (kernel_size - 1) // 2,
            dilation=dilation)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor]:
        """Embed the backbone's map.

        Args:
            inputs (Sequence[Tensor]): The backbone's output, one map
                ``(N, C_in, h, w)`` (``out_indices`` of one stage).

        Returns:
            tuple[Tensor]: One map ``(N, C, h, w)``.

        Raises:
            ValueError: If ``inputs`` is not one map of ``in_channels``
                channels.
        """
        if len(inputs) != 1:
            raise ValueError(f'FeatureEmbedding embeds one backbone map, got '
                             f'{len(inputs)}: set the backbone out_indices '
                             f'to its last stage only')
        feature = inputs[0]
        if feature.dim() != 4 or feature.shape[1] != self.in_channels:
            raise ValueError(f'FeatureEmbedding expects a map (N, '
                             f'{self.in_channels}, h, w) (in_channels), got '
                             f'{tuple(feature.shape)}')
        return (self.relu(self.conv(feature)), )
