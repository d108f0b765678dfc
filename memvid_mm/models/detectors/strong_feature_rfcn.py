# Copyright (c) memvid_mm contributors. All rights reserved.
"""A fast R-FCN fed with a strong, slow detector's propagated features.

The paper's real-time two-detector system (Sec. 4.2, 5.3, Fig. 5): a fast
detector (R-FCN-18) gives an output at every frame; a strong memory
detector (ClockNet-101, with image evidence every 4 frames:
"ClockNet-101-FeatProp") runs beside it, and its memory of a frame is ready
only ``delay`` frames later. At frame t the fast detector warps the strong
memory of frame t - delay to t, with FlowNet's flow between the two
images, averages it with its own features F_t and runs its RPN and R-FCN
head on the result.

Here both run in one process, one after the other; the delay is imposed
by the state, which hands the fast detector the strong memory of frame
t - delay and never a newer one, so the outputs are those of the two-thread
system whose strong thread lags ``delay`` frames. (Running the two on two
devices at once is not implemented.)

Shape shorthand: N clips in a batch, T frames per training clip (axis 1,
in time order, key frame last), C feature channels, h/w feature map size,
H/W image size, R detections of a frame.
"""
import copy
import logging
import random
from pathlib import Path
from typing import Any, Optional, Tuple, Union

import torch
from mmcv.ops import batched_nms
from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, OptTrackSampleList, TrackSampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor

from ...utils import full_checkpoint_loading, load_fitting_checkpoint
from ...utils.argument_checks import is_int
from ...utils.checkpoint import trained_classes
from ...utils.trained_settings import other_model_settings
from ..aggregators import MemNetAggregator
from ..layers import DelayedMemory, EvidenceBoxes, StrongFeatureState
from .clip_utils import check_clip_inputs, check_key_frame_last, gather_frames
from .detector_keys import (check_detector_pretrained,
                            refuse_foreign_state_dict,
                            refuse_video_detector_state_dict)
from .memory_rfcn import (MemoryRFCN, PendingFlowChecks, evidence_boxes,
                          feature_stride, own_frame, predict_frames_in_order,
                          propagated_detections)
from .rfcn import check_tensor_mode_samples


def without_init_cfgs(cfg: Any) -> Any:
    """A copy of a model config with every ``init_cfg`` entry removed.

    The strong detector's weights come from ``strong_ckpt`` alone; its
    config's ``init_cfg`` (ImageNet backbones, FlowNet weights) would only
    be read, or downloaded, to be overwritten.

    Args:
        cfg (Any): A (nested) model config.

    Returns:
        Any: The copy.
    """
    if isinstance(cfg, dict):
        return type(cfg)({
            key: without_init_cfgs(value)
            for key, value in cfg.items() if key != 'init_cfg'
        })
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(without_init_cfgs(value) for value in cfg)
    return copy.deepcopy(cfg)


def strong_model_cfg(strong_config: Union[str, Path, ConfigType],
                     strong_test_cfg: OptConfigType) -> ConfigDict:
    """The strong detector's model config, ready to build.

    Args:
        strong_config (str | Path | dict): The strong detector's config
            file, or a config (dict) holding its ``model``.
        strong_test_cfg (dict, optional): Replaces the model's
            ``test_cfg`` (e.g. ``dict(evidence_interval=4)``); None keeps
            it.

    Returns:
        ConfigDict: The ``model`` config without ``init_cfg`` entries
        (:func:`without_init_cfgs`).
    """
    if isinstance(strong_config, (str, Path)):
        strong_config = Config.fromfile(str(strong_config))
    if 'model' not in strong_config:
        raise ValueError('strong_config must be a config file or a config '
                         'holding the strong detector\'s "model", got keys '
                         f'{sorted(strong_config)}')
    model = without_init_cfgs(ConfigDict(strong_config['model']))
    model_type = model.get('type')
    model_cls = MODELS.get(model_type) if isinstance(model_type,
                                                     str) else model_type
    if model_cls is None or not issubclass(model_cls, MemoryRFCN):
        raise TypeError(f'the strong detector must be a MemoryRFCN (MemNet '
                        f'or ClockNet), got type {model_type!r}')
    if strong_test_cfg is not None:
        if not isinstance(strong_test_cfg, dict):
            raise TypeError(f'strong_test_cfg must be a dict (the strong '
                            f'detector\'s test_cfg), got {strong_test_cfg!r}')
        model.test_cfg = dict(strong_test_cfg)
    return model


def check_same_normalisation(ours: torch.nn.Module,
                             strong: torch.nn.Module) -> None:
    """Refuse a strong detector normalised otherwise than the fast one.

    Both read the images that the fast detector's data preprocessor
    normalised.

    Args:
        ours (nn.Module): The fast detector's data preprocessor.
        strong (nn.Module): The strong detector's data preprocessor.

    Raises:
        ValueError: Naming the setting that differs.
    """
    for name, setting in (('_enable_normalize', 'mean and std'),
                          ('_channel_conversion', 'bgr_to_rgb')):
        if getattr(ours, name, None) != getattr(strong, name, None):
            raise ValueError(
                f'the data preprocessors differ in {setting}: the strong '
                f'detector reads the images the fast detector\'s '
                f'preprocessor made, so its config must normalise alike')
    for name in ('mean', 'std'):
        mine = getattr(ours, name, None)
        theirs = getattr(strong, name, None)
        if (mine is None) != (theirs is None) or (
                mine is not None
                and not torch.allclose(mine.flatten(), theirs.flatten())):
            raise ValueError(
                f'data_preprocessor.{name} differs between the fast '
                f'detector and the strong one ({mine} against {theirs}): '
                f'the strong detector reads the images the fast '
                f'detector\'s preprocessor normalised')


def merge_detections(first: InstanceData, second: InstanceData, nms_cfg: dict,
                     max_per_img: int) -> InstanceData:
    """Two detectors' detections of a frame, merged by class-wise NMS.

    Args:
        first (InstanceData): ``bboxes`` (n1, 4), ``scores`` (n1, ),
            ``labels`` (n1, ).
        second (InstanceData): The same, (n2, ...), in the same image.
        nms_cfg (dict): mmcv's ``batched_nms`` settings (the fast R-FCN's
            ``test_cfg.rcnn.nms``).
        max_per_img (int): Detections kept, highest scores first.

    Returns:
        InstanceData: Up to ``max_per_img`` detections of the union.
    """
    bboxes = torch.cat([first.bboxes, second.bboxes])
    scores = torch.cat([first.scores, second.scores])
    labels = torch.cat([first.labels, second.labels])
    if bboxes.numel() == 0:
        return InstanceData(bboxes=bboxes, scores=scores, labels=labels)
    _, keep = batched_nms(bboxes, scores, labels, dict(nms_cfg))
    keep = keep[:max_per_img]
    return InstanceData(
        bboxes=bboxes[keep], scores=scores[keep], labels=labels[keep])


def parse_strong_feature_test_cfg(test_cfg: OptConfigType) -> dict:
    """Check ``StrongFeatureRFCN``'s ``test_cfg`` and fill in its default.

    Args:
        test_cfg (dict, optional): ``propagate``: ``'features'`` (the
            strong memory, warped, averaged with the fast features) or
            ``'boxes'`` (the paper's "BoxProp" baseline of Table 3: the
            strong detector's detections of frame t - delay, moved by the
            mean flow inside each box, merged with the fast detector's
            own by NMS).

    Returns:
        dict: The setting.
    """
    settings = dict(propagate='features')
    test_cfg = dict(test_cfg or {})
    unknown = set(test_cfg) - set(settings)
    if unknown:
        raise ValueError(f'unknown StrongFeatureRFCN test_cfg keys: '
                         f'{sorted(unknown)}')
    settings.update(test_cfg)
    if settings['propagate'] not in ('features', 'boxes'):
        raise ValueError(f"test_cfg.propagate must be 'features' or "
                         f"'boxes', got {settings['propagate']!r}")
    return settings


def build_fusion(fusion: OptConfigType, channels: int) -> MemNetAggregator:
    """Build the fusion of the fast features and the strong memory.

    Args:
        fusion (dict, optional): A :class:`MemNetAggregator` config; its
            ``in_channels`` default to ``channels``. None: the average.
        channels (int): C of the fast features and the strong memory.

    Returns:
        MemNetAggregator: The fusion, ``forward(strong_memory, feature)``.

    Raises:
        TypeError: When ``fusion`` is not a MemNetAggregator config.
        ValueError: When its ``in_channels`` is not ``channels``.
    """
    # the class, not its name: found under any default scope
    fusion = dict(fusion or dict(type=MemNetAggregator, mode='average'))
    fusion_type = fusion.get('type')
    fusion_cls = MODELS.get(fusion_type) if isinstance(fusion_type,
                                                       str) else fusion_type
    if not (isinstance(fusion_cls, type)
            and issubclass(fusion_cls, MemNetAggregator)):
        raise TypeError(f'fusion must be a MemNetAggregator config, got '
                        f'type {fusion_type!r}')
    fusion.setdefault('in_channels', channels)
    if fusion['in_channels'] != channels:
        raise ValueError(f'fusion.in_channels must be the features\' '
                         f'{channels} channels, got {fusion["in_channels"]}')
    return MODELS.build(fusion)


@MODELS.register_module()
class StrongFeatureRFCN(BaseDetector):
    """A fast R-FCN on its features averaged with a strong detector's
    delayed memory, warped to the current frame (Sec. 4.2 of the paper).

    Args:
        detector (dict): Config of the fast image detector, an
            :class:`RFCN` (the paper's R-FCN-18). Its embedding must give
            the strong memory's channels at its stride.
        strong_config (str | Path | dict): The strong detector's config
            file (or a config holding its ``model``), a
            :class:`MemoryRFCN` (the paper's ClockNet-101). Its
            ``init_cfg`` entries are dropped: its weights come from
            ``strong_ckpt``.
        strong_ckpt (str, optional): The strong detector's checkpoint,
            loaded strictly when the weights are initialised (a training
            start); its weights are frozen. Its classes must be the data
            set's, in order (``CheckpointClassesHook`` refuses a training
            otherwise). None keeps its random
            initialisation (tests; a warning is logged). A trained
            StrongFeatureRFCN's own checkpoint holds the strong weights
            (``tools/test.py`` needs no ``strong_ckpt``; a resumed
            training reads it again before it resumes, as mmengine
            initialises the weights first).
        strong_test_cfg (dict, optional): Replaces the strong detector's
            ``test_cfg``: ``dict(evidence_interval=4)`` is the paper's
            "ClockNet-101-FeatProp". ``propagate='boxes'`` is refused (it
            gives no features), and so are ``split_halves``,
            ``anticipate`` and ``chain_flows``: training builds the strong
            memory of the whole frame with FlowNet's flows to its evidence
            frames, which is what the strong detector reads online only
            without them. Defaults to None: its config's.
        delay (int): The strong detector's latency in frames: at frame t
            the fast detector reads its memory of frame t - delay. 0 reads
            the current frame's, unwarped (no latency, the upper bound).
            Defaults to 3.
        fusion (dict, optional): How F_t and the warped strong memory are
            combined, a :class:`MemNetAggregator` (its ``in_channels``
            default to the features'): ``mode='average'``, the paper's
            average, or ``mode='weighting'``, a learned per-pixel
            weighting (Eq. 4 applied to the two detectors; "more advanced
            aggregation schemes are possible"). Defaults to None: the
            average.
        test_cfg (dict, optional): ``propagate='features'`` (default) or
            ``'boxes'``, the paper's "BoxProp" baseline
            (:func:`parse_strong_feature_test_cfg`); the fast detector's
            own ``test_cfg`` sets its RPN / R-FCN behaviour.
        data_preprocessor (dict, optional): ``TrackDataPreprocessor``; the
            strong config's must normalise alike. Defaults to None.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.

    The fast detector, its head and a learned fusion are trained; the
    strong detector, FlowNet and the warp are the strong model's, frozen
    ("we only leverage fixed features coming from the second thread"). A
    training clip of T frames (T >= delay + 1, clip stride 1) ends at its
    key frame t; the strong memory of frame t - delay is computed over the
    clip positions from a start drawn uniformly at or before it, with
    image evidence every ``evidence_interval`` positions from that start,
    so that it was propagated over 0 to ``evidence_interval`` - 1 frames
    as at test time (but its history is at most T - delay frames, against
    the whole video online). Testing is online with an explicit
    :class:`StrongFeatureState`; the first ``delay`` frames of a video,
    before any strong memory is delivered, get the fast features alone.

    Input contract: as :class:`MemoryRFCN`'s, ``inputs`` (N, T, 3, H, W)
    normalised frames, axis 1 time in video order, the key frame last.
    ``loss`` returns the fast detector's RPN and R-FCN losses at the key
    frames (``loss_rpn_cls``, ``loss_rpn_bbox``, ``loss_cls``,
    ``loss_bbox``, ``acc``); ``predict`` runs the frames one by one in
    order and gives each frame's sample ``pred_instances`` (``bboxes``
    (R, 4) as (x1, y1, x2, y2) in the original image, ``scores`` (R,),
    ``labels`` (R,)).
    """

    def __init__(self,
                 detector: ConfigType,
                 strong_config: Union[str, Path, ConfigType],
                 strong_ckpt: Optional[str] = None,
                 strong_test_cfg: OptConfigType = None,
                 delay: int = 3,
                 fusion: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not is_int(delay) or delay < 0:
            raise ValueError(f'delay must be an int >= 0 (frames), got '
                             f'{delay!r}')
        self.delay = int(delay)
        self.detector = MODELS.build(detector)
        self.register_load_state_dict_pre_hook(refuse_foreign_state_dict)
        self.detector.register_load_state_dict_pre_hook(
            refuse_video_detector_state_dict)
        # kept to compare with the config strong_ckpt records
        self.strong_model_config = strong_model_cfg(strong_config,
                                                    strong_test_cfg)
        self.strong = MODELS.build(copy.deepcopy(self.strong_model_config))
        if self.strong.test_cfg['propagate'] != 'features':
            raise ValueError("strong_test_cfg.propagate must be 'features': "
                             'the fast detector reads the strong memory')
        if self.strong.test_cfg['split_halves']:
            raise ValueError('strong_test_cfg.split_halves must be False: '
                             'the fast detector reads the strong memory of '
                             'the whole frame')
        for name in ('anticipate', 'chain_flows'):
            if self.strong.test_cfg[name]:
                raise ValueError(
                    f'strong_test_cfg.{name} must be False: training '
                    "builds the strong memory with FlowNet's flow from each "
                    'frame to its evidence frame (strong_clip_memory), so '
                    'the fast detector would be trained on other strong '
                    'features than it reads online')
        check_same_normalisation(self.data_preprocessor,
                                 self.strong.data_preprocessor)
        self.strong_ckpt = strong_ckpt
        # The classes, in label order, that strong_ckpt records; set when
        # init_weights loads it (CheckpointClassesHook compares them with
        # the run's data sets before training).
        self.strong_ckpt_classes: Optional[Tuple[str, ...]] = None
        self.strong.requires_grad_(False)
        self.strong.eval()
        self._check_strong_features_fit()
        self.fusion = build_fusion(fusion, self.detector.feature_channels)
        self.test_cfg = parse_strong_feature_test_cfg(test_cfg)
        # Draws the start of the strong memory in a training clip; seeded
        # with torch's seed as MemoryRFCN's evidence dropout.
        self.rng = random.Random(torch.initial_seed())
        # The online state of the stock TestLoop path (``predict``); other
        # callers hand their own states to ``predict_frame``.
        self.test_state = StrongFeatureState()

    def _check_strong_features_fit(self) -> None:
        """Refuse a fast detector whose features cannot be averaged with
        the strong memory (other channels or another stride)."""
        fast_channels = getattr(self.detector, 'feature_channels', None)
        strong_channels = self.strong.detector.feature_channels
        if fast_channels != strong_channels:
            raise ValueError(
                f'the fast detector\'s features have {fast_channels} '
                f'channels (detector.feature_channels), the strong '
                f'memory {strong_channels}: set the fast embedding (neck) '
                f'out_channels to {strong_channels}')
        fast_stride = feature_stride(self.detector)
        if fast_stride != self.strong.feature_stride:
            raise ValueError(
                f'the fast detector\'s features have stride {fast_stride}, '
                f'the strong memory {self.strong.feature_stride}; both '
                f'must be of one size to be averaged')

    def train(self, mode: bool = True) -> 'StrongFeatureRFCN':
        """Set the training mode of the fast detector; the strong one stays
        in evaluation mode (frozen, its BatchNorm statistics too).

        Entering training mode ends online testing: ``self.test_state`` is
        reset.

        Args:
            mode (bool): Training (True) or evaluation (False) mode.
                Defaults to True.

        Returns:
            StrongFeatureRFCN: The model itself.
        """
        if mode:
            self.test_state.reset()
        super().train(mode)
        self.strong.eval()
        return self

    def init_weights(self) -> None:
        """Initialise as mmengine does, check the fast detector's
        ``init_cfg`` checkpoint (:func:`check_detector_pretrained`), then
        load ``strong_ckpt`` into the strong detector, strictly, record
        the classes it was trained on in ``strong_ckpt_classes`` (None
        when it records none, with a warning), and log the strong model
        settings that differ from those it was trained with
        (:func:`other_model_settings`; ``strong_test_cfg`` among them).

        The strong detector's labels are the output of box propagation
        (``test_cfg.propagate='boxes'``), so its classes must be the data
        set's, in order: ``CheckpointClassesHook`` refuses a training
        whose data sets list others."""
        super().init_weights()
        check_detector_pretrained(self)
        if self.strong_ckpt is None:
            print_log(
                'StrongFeatureRFCN: no strong_ckpt, the strong detector '
                'keeps its random initialisation',
                logger='current',
                level=logging.WARNING)
            return
        with full_checkpoint_loading():  # a trusted file, as load_from
            loaded = load_fitting_checkpoint(self.strong, self.strong_ckpt)
        self.strong_ckpt_classes = trained_classes(loaded, self.strong_ckpt)
        if self.strong_ckpt_classes is None:
            print_log(
                f'StrongFeatureRFCN: strong_ckpt {self.strong_ckpt} records '
                f"no classes (meta['dataset_meta']['classes']), so they "
                f"cannot be compared with the data set's",
                logger='current',
                level=logging.WARNING)
        settings = other_model_settings(loaded, self.strong_model_config,
                                        self.strong_ckpt)
        if settings is not None:
            print_log(
                f'StrongFeatureRFCN: strong_ckpt {settings}',
                logger='current',
                level=logging.WARNING)

    def extract_feat(self, images: Tensor) -> Tensor:
        """The fast detector's features F_t: its backbone and embedding.

        Args:
            images (Tensor): (B, 3, H, W) normalised frames.

        Returns:
            Tensor: (B, C, h, w) the embedded features.

        Raises:
            ValueError: If the detector's neck gives more than one map.
        """
        feats = self.detector.extract_feat(images)
        if len(feats) != 1:
            raise ValueError(f'StrongFeatureRFCN needs a single embedded '
                             f'feature map from the detector neck, got '
                             f'{len(feats)}')
        return feats[0]

    def fuse(self, feature: Tensor, strong_memory: Tensor) -> Tensor:
        """The fast features combined with the warped strong memory by
        ``self.fusion`` (their average, or a learned per-pixel weighting).

        Args:
            feature (Tensor): F_t (N, C, h, w).
            strong_memory (Tensor): The strong memory warped to the frame
                (N, C, h, w).

        Returns:
            Tensor: (N, C, h, w).
        """
        return self.fusion(strong_memory, feature)

    def strong_clip_memory(self, inputs: Tensor, start: int,
                           position: int) -> Tensor:
        """The strong memory of a clip position, from a start at or before
        it.

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised clips.
            start (int): The first clip position the memory sees.
            position (int): The position whose memory is returned
                (>= ``start``).

        Returns:
            Tensor: M (N, C, h, w), with image evidence at ``start`` and
            every ``evidence_interval`` positions after it, without
            gradient.
        """
        interval = self.strong.test_cfg['evidence_interval']
        length = position - start + 1
        keep = [i % interval == 0 for i in range(length)]
        with torch.no_grad():
            memories = self.strong.clip_memories(inputs[:, start:position + 1],
                                                 keep, 1, [length - 1])
        return memories[length - 1]

    def strong_flows(self, image: Tensor,
                     strong_image: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """The strong FlowNet's flow from a frame to the strong memory's.

        Args:
            image (Tensor): The current frames (N, 3, H, W).
            strong_image (Tensor): The strong memory's frames
                (N, 3, H, W).

        Returns:
            tuple: The flow (N, 2, H, W) with its non-finite values set
            to 0, and their number (0-dim tensor, on the device), which
            the caller checks (a host read).
        """
        with torch.no_grad():
            flows, count = self.strong.zero_non_finite_flows(
                {0: self.strong.motion(image, strong_image)})
        return flows[0], count

    def warp_strong_memory(self, memory: Tensor, flow: Tensor) -> Tensor:
        """Warp a strong memory to the current frame with the strong warp.

        Args:
            memory (Tensor): (N, C, h, w) the strong memory.
            flow (Tensor): (N, 2, H, W) a finite flow in image pixels, from
                the current frame to the memory's.

        Returns:
            Tensor: (N, C, h, w) the warped memory, without gradient.
        """
        with torch.no_grad():
            return self.strong.warp(memory, flow, check_finite=False)

    def loss(self, inputs: Tensor, data_samples: TrackSampleList) -> dict:
        """Losses at the key frame (the last) of N clips (N, T, 3, H, W).

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised clips, T >=
                ``delay`` + 1, consecutive frames (clip stride 1).
            data_samples (Sequence[:obj:`TrackDataSample`]): N samples, the
                key frame's with ``gt_instances``.

        Returns:
            dict[str, Tensor]: The fast detector's RPN and R-FCN losses on
            the key frame's fused features (:meth:`fuse`); the start of
            the strong memory is drawn once per batch.
        """
        check_clip_inputs(inputs, data_samples)
        check_key_frame_last(data_samples)
        num_frames = inputs.shape[1]
        self._check_clip_length(num_frames)
        clip_stride = MemoryRFCN.clip_stride_of(data_samples, default=1)
        if clip_stride != 1:
            raise ValueError(
                f'StrongFeatureRFCN trains on consecutive frames (the delay '
                f'counts frames), got clips of stride {clip_stride}; set '
                f"the train pipeline's CausalClipSample(stride=1)")
        key = num_frames - 1
        position = key - self.delay
        start = self.rng.randint(0, position)
        feature = self._fused_clip_feature(inputs, start, position)
        _, samples = gather_frames(inputs, data_samples, [key])
        return self.detector._head_loss((feature, ), samples)

    def _check_clip_length(self, num_frames: int) -> None:
        """Refuse clips without the frame ``delay`` before the key frame
        (``loss`` and tensor mode read the strong memory there)."""
        if num_frames < self.delay + 1:
            raise ValueError(
                f'StrongFeatureRFCN with delay={self.delay} needs clips of '
                f'at least {self.delay + 1} frames (the key frame and the '
                f'frame {self.delay} before it), got {num_frames}; set the '
                f"pipeline's CausalClipSample(num_frames=...)")

    def _fused_clip_feature(self, inputs: Tensor, start: int,
                            position: int) -> Tensor:
        """The key frame's fast features fused with the strong memory of
        ``position``, computed from ``start`` and warped to the key frame
        (the last of the clips (N, T, 3, H, W)); (N, C, h, w)."""
        key = inputs.shape[1] - 1
        memory = self.strong_clip_memory(inputs, start, position)
        if position != key:
            flow, count = self.strong_flows(inputs[:, key], inputs[:,
                                                                   position])
            if int(count):
                raise ValueError(f'the strong FlowNet gave {int(count)} '
                                 f'NaN or infinite flow values on a '
                                 f'training clip')
            memory = self.warp_strong_memory(memory, flow)
        return self.fuse(self.extract_feat(inputs[:, key]), memory)

    @staticmethod
    def new_online_state() -> StrongFeatureState:
        """An empty state for one video stream of :meth:`predict_frame`.

        Returns:
            StrongFeatureState: A new state with empty memories.
        """
        return StrongFeatureState()

    def predict_frame(self, image: Tensor, data_sample: DetDataSample,
                      state: StrongFeatureState) -> DetDataSample:
        """Detect objects in one frame, online, with an explicit state.

        The strong detector advances its memory by this frame
        (:meth:`MemoryRFCN.online_memory`), which joins ``state.delayed``;
        the fast detector reads the delayed memory of frame
        ``frame_id - delay``, warped to this frame, averaged with its own
        features. Before that frame exists (the first ``delay`` frames of
        a video) it reads its own features alone.

        Args:
            image (Tensor): The frame (1, 3, H, W), normalised.
            data_sample (:obj:`DetDataSample`): Its sample; ``video_id`` and
                ``frame_id`` metainfo decide when ``state`` resets.
            state (StrongFeatureState): The video's state, updated in
                place.

        Returns:
            :obj:`DetDataSample`: ``data_sample`` with ``pred_instances``
            (``bboxes`` (R, 4) in the original image, ``scores`` (R,),
            ``labels`` (R,)).

        Raises:
            ValueError: As :meth:`MemoryRFCN.online_memory` (its flows
                checked after the head, so that on CUDA the fast detector
                is launched without waiting for the strong FlowNet; when
                it resets ``state.strong``, ``state.delayed`` is emptied
                too), and when the flow to the delayed memory held a NaN or an
                infinity (checked after the head; ``state`` is kept: only
                this frame's output read that flow).
        """
        image = own_frame(image)
        strong_memory, strong_checks = self._advance_strong(
            image, data_sample, state)
        frame_id = int(data_sample.metainfo['frame_id'])
        if self.test_cfg['propagate'] == 'boxes':
            state.delayed.append(
                DelayedMemory(
                    frame_id,
                    image,
                    boxes=self.strong_detections(image, strong_memory,
                                                 data_sample)))
        else:
            state.delayed.append(
                DelayedMemory(frame_id, image, memory=strong_memory))
        delivered = None
        if state.delayed[0].frame_id == frame_id - self.delay:
            delivered = state.delayed.pop(0)
        flow = count = None
        if delivered is not None and self.delay:
            flow, count = self.strong_flows(image, delivered.image)
        feature = self.extract_feat(image)
        if self.test_cfg['propagate'] == 'boxes':
            result = self._detect_with_strong_boxes(feature, data_sample,
                                                    delivered, flow)
        else:
            result = self._detect_on_fused_features(feature, data_sample,
                                                    delivered, flow)
        # The host reads come after the head (on CUDA they wait for the
        # flows): first the strong step's own flows
        self._check_strong_step(strong_checks, state)
        if count is not None and int(count):
            # only this frame's output read the zeroed flow: the state,
            # strong memories and delayed queue, stays valid
            raise ValueError(
                f'video {data_sample.metainfo.get("video_id")}: frame '
                f'{frame_id}: the strong FlowNet gave a flow '
                f'{tuple(flow.shape)} to frame {frame_id - self.delay} with '
                f'{int(count)} NaN or infinite values (weights that are '
                f'not finite, or an overflow in half precision); the '
                f'state is kept')
        return result

    def _detect_on_fused_features(self, feature: Tensor,
                                  data_sample: DetDataSample,
                                  delivered: Optional[DelayedMemory],
                                  flow: Optional[Tensor]) -> DetDataSample:
        """The fast head on F_t (1, C, h, w) fused with the delivered
        strong memory, warped with ``flow`` (1, 2, H, W) (None: delay 0);
        on F_t alone when nothing is delivered."""
        if delivered is not None:
            memory = delivered.memory
            if flow is not None:
                memory = self.warp_strong_memory(memory, flow)
            feature = self.fuse(feature, memory)
        return self.detector._head_predict((feature, ), [data_sample],
                                           rescale=True)[0]

    def _detect_with_strong_boxes(self, feature: Tensor,
                                  data_sample: DetDataSample,
                                  delivered: Optional[DelayedMemory],
                                  flow: Optional[Tensor]) -> DetDataSample:
        """The fast head's detections on F_t (1, C, h, w), merged with the
        delivered strong detections moved with ``flow`` (1, 2, H, W)
        (None: delay 0, not moved) ("BoxProp")."""
        result = self.detector._head_predict((feature, ), [data_sample],
                                             rescale=True)[0]
        if delivered is None:
            return result
        rcnn_cfg = self.detector.test_cfg.rcnn
        result.pred_instances = merge_detections(
            result.pred_instances,
            propagated_detections(delivered.boxes, flow, data_sample),
            rcnn_cfg.nms, rcnn_cfg.max_per_img)
        return result

    def _advance_strong(
            self, image: Tensor, data_sample: DetDataSample,
            state: StrongFeatureState) -> Tuple[Tensor, PendingFlowChecks]:
        """The strong detector's step on a frame (M_t (1, C, h, w),
        :meth:`MemoryRFCN.online_memory_unchecked`) and its flow checks,
        left for :meth:`_check_strong_step`; ``state.delayed`` is emptied
        where the strong memory restarts, also when the step raised after
        resetting it."""
        try:
            with torch.no_grad():
                strong_memory, checks = self.strong.online_memory_unchecked(
                    image, data_sample, state.strong)
        except Exception:
            if state.strong.is_empty:  # reset before it raised
                state.delayed = []
            raise
        if state.strong.frame_index == 1:  # the strong memory (re)started
            state.delayed = []
        return strong_memory, checks

    def _check_strong_step(self, checks: PendingFlowChecks,
                           state: StrongFeatureState) -> None:
        """Raise if the strong step's flows held NaN or infinities; the
        strong memory is then reset and ``state.delayed`` emptied (the
        frame's own strong memory joined it)."""
        try:
            self.strong.check_pending_flows(checks, state.strong)
        except ValueError:
            state.delayed = []
            raise

    def strong_detections(self, image: Tensor, strong_memory: Tensor,
                          data_sample: DetDataSample) -> EvidenceBoxes:
        """The strong detector's detections on its memory M_t, kept to
        propagate them (``test_cfg.propagate='boxes'``).

        Args:
            image (Tensor): The frame (1, 3, H, W), normalised.
            strong_memory (Tensor): M_t (1, C, h, w).
            data_sample (:obj:`DetDataSample`): The frame's sample (not
                changed).

        Returns:
            EvidenceBoxes: The detections, boxes in the network input's
            pixels.
        """
        sample = DetDataSample(metainfo=data_sample.metainfo)
        with torch.no_grad():
            result = self.strong.detector._head_predict((strong_memory, ),
                                                        [sample],
                                                        rescale=True)[0]
        return evidence_boxes(image, result)

    def predict(self, inputs: Tensor,
                data_samples: TrackSampleList) -> TrackSampleList:
        """Online detection of frames served in video order, with the state
        ``self.test_state`` (see :meth:`MemoryRFCN.predict`, whose
        one-frame-size rule this shares).

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised frames.
            data_samples (list[:obj:`TrackDataSample`]): N samples of T
                frames each, with ``video_id``, ``frame_id``,
                ``img_shape`` and ``scale_factor``.

        Returns:
            list[:obj:`TrackDataSample`]: ``data_samples``, each frame with
            ``pred_instances``.
        """
        return predict_frames_in_order(self, inputs, data_samples,
                                       self.test_state)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptTrackSampleList = None) -> tuple:
        """Raw head outputs at the last frame of clips (N, T, 3, H, W),
        T >= ``delay`` + 1, the strong memory computed from the clip's
        first frame. ``data_samples`` is required (the RPN reads
        ``img_shape``).

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised clips.
            data_samples (list[:obj:`TrackDataSample`]): N samples of T
                frames each.

        Returns:
            tuple: One item, the fast R-FCN head's raw ``(cls_score
            (R, K + 1), bbox_pred (R, 4))`` at the key frames.
        """
        check_tensor_mode_samples(data_samples)
        num_frames = inputs.shape[1]
        self._check_clip_length(num_frames)
        key = num_frames - 1
        feature = self._fused_clip_feature(inputs, 0, key - self.delay)
        _, samples = gather_frames(inputs, data_samples, [key])
        return self.detector._head_forward((feature, ), samples)
