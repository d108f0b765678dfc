# Copyright (c) memvid_mm contributors. All rights reserved.
"""MemoryRFCN: R-FCN on a feature memory warped over time (MemNet/ClockNet).

Shape shorthand: N clips (or streams) processed together, T frames per
training clip (axis 1 of the input, in time order, key frame last), K
memories (time axes), C feature channels, h, w feature map size (stride
16), H, W image size.

One frame step (Eq. 1-2 of the paper, generalised to ClockNet):

* for every memory k, warp it from its anchor frame (the last frame it took
  image evidence) to the current frame with the FlowNet displacement
  between the two images (NF = NW = K; a flow is computed once per
  distinct anchor frame);
* memories whose clock ticks at this frame aggregate the new image
  features F_t (``psi``) and move their anchor to the current frame;
* the output M_t combines the K memories (their mean, or with
  ``combine='weighting'`` a learned per-pixel weighting; M_t is the one
  memory for MemNet); RPN and R-FCN run on it.
"""
import logging
import numbers
import random
import warnings
from typing import (Any, Dict, Hashable, List, NamedTuple, Optional, Sequence,
                    Set, Tuple, Union)

import torch
from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, OptTrackSampleList, TrackSampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor, nn

from ...utils.argument_checks import is_int
from ..aggregators import (BaseMemoryAggregator, ClockNetAggregator,
                           MemNetAggregator)
from ..layers import (EvidenceBoxes, EvidenceMotion, MemoryState, SideStreams,
                      SplitHalvesState, compose_flows, extrapolate_flow,
                      extrapolated_anchor_flows, flow_acceleration,
                      propagate_boxes)
from ..layers.flow_warp import coordinate_dtype
from ..necks.flow_warp import non_finite_flow_message, zero_non_finite_flow
from .clip_utils import (check_clip_inputs, check_key_frame_last,
                         gather_frames, loss_frame_indices)
from .detector_keys import (check_detector_pretrained,
                            refuse_foreign_state_dict,
                            refuse_video_detector_state_dict)
from .rfcn import check_tensor_mode_samples
from .split_halves import (check_split_halves, detect_split_frame,
                           split_frame_halves)

#: A frame's flows made finite and the number of values that were not
#: (:meth:`MemoryRFCN.zero_non_finite_flows`), for
#: :meth:`MemoryRFCN.check_flows_were_finite`.
FlowCheck = Tuple[Optional[Tensor], Dict[Hashable, Tensor]]


class PendingFlowChecks(NamedTuple):
    """The finiteness checks of an online frame's flows, not yet made.

    :meth:`MemoryRFCN.online_memory_unchecked` returns them so that its
    caller can read the counts back to the host after its own head, as
    :meth:`MemoryRFCN.predict_frame` does, and not before (on CUDA the
    host read waits for the flows).

    Attributes:
        checks (list[FlowCheck]): The ``(count, flows)`` pairs.
        video_id (Hashable): Video of the frame, for the message.
        frame_id (int): Id of the frame, for the message.
    """

    checks: List[FlowCheck]
    video_id: Hashable
    frame_id: int


def parse_test_cfg(test_cfg: OptConfigType) -> Dict[str, Any]:
    """Check ``MemoryRFCN``'s ``test_cfg`` and fill in its defaults.

    Args:
        test_cfg (dict, optional): ``concurrent_flow`` (bool),
            ``evidence_interval`` (int >= 1), ``anticipate`` (bool),
            ``propagate`` (``'features'`` or ``'boxes'``) and
            ``split_halves`` (bool) and ``chain_flows`` (bool);
            ``anticipate`` and ``'boxes'`` need ``evidence_interval`` > 1,
            boxes are not anticipated, split halves propagate features,
            and chained flows need ``evidence_interval`` = 1.

    Returns:
        dict: The six settings.
    """
    test_cfg = dict(test_cfg or {})
    defaults = dict(
        concurrent_flow=False,
        evidence_interval=1,
        anticipate=False,
        propagate='features',
        split_halves=False,
        chain_flows=False)
    unknown = set(test_cfg) - set(defaults)
    if unknown:
        raise ValueError(f'unknown MemoryRFCN test_cfg keys: '
                         f'{sorted(unknown)}')
    settings = {**defaults, **test_cfg}
    for name in ('concurrent_flow', 'anticipate', 'chain_flows'):
        if not isinstance(settings[name], bool):
            raise TypeError(f'test_cfg.{name} must be a bool, got '
                            f'{settings[name]!r}')
    interval = settings['evidence_interval']
    if not is_int(interval) or interval < 1:
        raise ValueError(f'test_cfg.evidence_interval must be an int >= 1, '
                         f'got {interval!r}')
    settings['evidence_interval'] = int(interval)
    if settings['anticipate'] and interval == 1:
        raise ValueError('test_cfg.anticipate=True needs '
                         'test_cfg.evidence_interval > 1: with image '
                         'evidence at every frame there is no frame to '
                         'anticipate')
    if settings['propagate'] not in ('features', 'boxes'):
        raise ValueError(f"test_cfg.propagate must be 'features' or "
                         f"'boxes', got {settings['propagate']!r}")
    if settings['propagate'] == 'boxes' and (interval == 1
                                             or settings['anticipate']):
        raise ValueError("test_cfg.propagate='boxes' needs "
                         'test_cfg.evidence_interval > 1 and no anticipate '
                         '(the baseline moves boxes with FlowNet\'s flows)')
    if settings['chain_flows'] and interval != 1:
        raise ValueError('test_cfg.chain_flows=True needs '
                         'test_cfg.evidence_interval=1 (it chains the flows '
                         'of consecutive frames with image evidence)')
    if check_split_halves(settings['split_halves']) and \
            settings['propagate'] == 'boxes':
        raise ValueError('test_cfg.split_halves=True needs test_cfg.'
                         "propagate='features' (each half's memory is "
                         'detected on; its boxes are not propagated)')
    return settings


def own_frame(image: Tensor) -> Tensor:
    """``image``, or its own copy when it is a view of a larger tensor.

    An online frame cut from a batch (a clip of frames) would keep the
    whole batch alive in a state that stores it as an anchor image.

    Args:
        image (Tensor): A frame (1, 3, H, W).

    Returns:
        Tensor: A tensor holding only the frame.
    """
    if image.untyped_storage().nbytes() > \
            image.numel() * image.element_size():
        return image.clone()
    return image


def evidence_boxes(image: Tensor, result: DetDataSample) -> EvidenceBoxes:
    """An evidence frame's detections, kept to propagate them.

    Args:
        image (Tensor): The frame (1, 3, H, W), normalised.
        result (:obj:`DetDataSample`): Its detections, in the original
            image's pixels, and its ``frame_id`` and ``scale_factor``.

    Returns:
        EvidenceBoxes: The detections with their boxes in the network
        input's pixels (the flow's).
    """
    instances = result.pred_instances
    scale_x, scale_y = result.metainfo.get('scale_factor', (1, 1))
    bboxes = instances.bboxes.detach() * instances.bboxes.new_tensor(
        [scale_x, scale_y, scale_x, scale_y])
    return EvidenceBoxes(
        frame_id=int(result.metainfo['frame_id']),
        image=image,
        bboxes=bboxes,
        scores=instances.scores.detach().clone(),
        labels=instances.labels.clone())


def propagated_detections(boxes: EvidenceBoxes, flow: Optional[Tensor],
                          data_sample: DetDataSample) -> InstanceData:
    """An evidence frame's detections moved to a later frame.

    Each box moves by minus the mean of the flow inside it
    (:func:`~memvid_mm.models.layers.propagate_boxes`), is clipped to the
    frame's ``img_shape`` and rescaled to its original image
    (``scale_factor``); scores and labels are the evidence frame's.

    Args:
        boxes (EvidenceBoxes): The evidence frame's detections, boxes in
            the network input's pixels.
        flow (Tensor, optional): (1, 2, H, W) the finite flow from the
            later frame to the evidence frame; None for the evidence
            frame itself (the boxes stay where they are).
        data_sample (:obj:`DetDataSample`): The later frame's sample.

    Returns:
        InstanceData: ``bboxes`` (n, 4) in the later frame's original
        image, ``scores`` (n, ), ``labels`` (n, ).
    """
    moved = (
        boxes.bboxes.clone() if flow is None else propagate_boxes(
            boxes.bboxes, flow[0]))
    height, width = data_sample.metainfo.get('img_shape',
                                             boxes.image.shape[-2:])[:2]
    moved[:, 0::2] = moved[:, 0::2].clamp(0, width)
    moved[:, 1::2] = moved[:, 1::2].clamp(0, height)
    scale_x, scale_y = data_sample.metainfo.get('scale_factor', (1, 1))
    moved /= moved.new_tensor([scale_x, scale_y, scale_x, scale_y])
    return InstanceData(
        bboxes=moved, scores=boxes.scores.clone(), labels=boxes.labels.clone())


def evidence_keep_mask(num_frames: int, drop_prob: float,
                       rng: random.Random) -> List[bool]:
    """Which clip frames keep their image evidence during training.

    The first frame always keeps it (the memory starts as M_1 = F_1); every
    later frame loses it with probability ``drop_prob`` (0.8 in the paper).

    Args:
        num_frames (int): T, the clip length.
        drop_prob (float): Probability of dropping a frame's evidence.
        rng (random.Random): Source of randomness.

    Returns:
        list[bool]: T flags, True where the frame's features are used.
    """
    return [True] + [rng.random() >= drop_prob for _ in range(num_frames - 1)]


def check_aggregator_channels(aggregator: BaseMemoryAggregator,
                              detector: nn.Module) -> None:
    """Refuse an aggregator built for other channels than the detector's.

    The memory M_t has the channels C of the per-frame features F_t, and the
    detector's heads read it, so the aggregator (each psi, or causal FGFA's
    embedding) must read the detector's ``feature_channels``
    (``aggregator.check_channels``). Checked when the model is
    built; otherwise the first frame would pass (M_1 = F_1) and the second
    would fail inside psi.

    Args:
        aggregator (BaseMemoryAggregator): The built aggregator.
        detector (nn.Module): The built image detector (an ``RFCN``).

    Raises:
        ValueError: Naming both channel counts.
    """
    channels = getattr(detector, 'feature_channels', None)
    if channels is None:
        raise ValueError(f'MemoryRFCN needs an RFCN detector, whose heads '
                         f'read the memory, got {type(detector).__name__}')
    aggregator.check_channels(channels)


def feature_stride(detector: nn.Module) -> int:
    """The stride of the detector's features, which the memory holds.

    Args:
        detector (nn.Module): The built image detector (an ``RFCN``).

    Returns:
        int: ``detector.roi_head.bbox_head.featmap_stride``, with which its
        R-FCN head pools the memory.

    Raises:
        ValueError: When the detector has no such head.
    """
    head = getattr(getattr(detector, 'roi_head', None), 'bbox_head', None)
    stride = getattr(head, 'featmap_stride', None)
    if not is_int(stride) or stride < 1:
        raise ValueError(f'MemoryRFCN needs the stride of its detector\'s '
                         f'features (roi_head.bbox_head.featmap_stride), '
                         f'got {stride!r} from {type(detector).__name__}')
    return stride


def check_frame_covers_map(image_hw: Sequence[int], feature_hw: Sequence[int],
                           stride: int) -> None:
    """Refuse a frame whose padded size is not ``stride`` times its map's.

    The warp rescales an image-resolution flow to the memory's map by the
    map's size over the image's (:func:`~memvid_mm.models.layers.
    flow_warp.flow_to_feature_displacement`), which is ``1 / stride`` only
    when the padded frame is a multiple of the stride: a 105-pixel side has
    7 cells at stride 16, and 7 / 105 = 1 / 15 would make every
    displacement 6.7% too long.

    Args:
        image_hw (Sequence[int]): ``(H, W)`` of the padded frame.
        feature_hw (Sequence[int]): ``(h, w)`` of its feature map.
        stride (int): The features' stride (:func:`feature_stride`).

    Raises:
        ValueError: Naming both sizes, the stride and ``pad_size_divisor``.
    """
    (H, W), (h, w) = tuple(image_hw), tuple(feature_hw)
    if (H, W) != (stride * h, stride * w):
        raise ValueError(
            f'frames of {H}x{W} (padded) are not {stride} times their '
            f'{h}x{w} feature map (stride {stride}, roi_head.bbox_head.'
            f'featmap_stride), so the flow cannot be rescaled to the map '
            f'exactly: pad the frames to a multiple of {stride} (the data '
            f'preprocessor\'s pad_size_divisor)')


def check_one_frame_size(data_samples: TrackSampleList) -> None:
    """Refuse a test batch of frames of different ``img_shape``.

    Args:
        data_samples (TrackSampleList): The batch, N samples of
            T frames each.

    Raises:
        ValueError: When two frames of the batch differ in ``img_shape``
            (the batch was padded to the largest, see
            :meth:`MemoryRFCN.predict`).
    """
    shapes = {}
    for sample in data_samples:
        for frame in sample:
            shape = tuple(frame.metainfo.get('img_shape', ()))
            shapes.setdefault(shape, (frame.metainfo.get('video_id'),
                                      frame.metainfo.get('frame_id')))
    if len(shapes) > 1:
        where = ', '.join(f'{shape} (video {video}, frame {frame})'
                          for shape, (video, frame) in shapes.items())
        raise ValueError(
            f'a test batch holds frames of different sizes: {where}; they '
            'are padded to one size, which makes a frame\'s memory depend '
            'on the frames batched with it: test memory models with '
            'batch_size=1 in the val/test dataloader')


def predict_frames_in_order(model: nn.Module, inputs: Tensor,
                            data_samples: TrackSampleList,
                            state: Any) -> TrackSampleList:
    """Run ``model.predict_frame`` on every frame of a batch, in order.

    The ``predict`` of the online models (the stock TestLoop path).

    Args:
        model (nn.Module): A model with ``predict_frame(image, sample,
            state)`` (:class:`MemoryRFCN`, ``StrongFeatureRFCN``).
        inputs (Tensor): (N, T, 3, H, W) normalised frames.
        data_samples (Sequence[:obj:`TrackDataSample`]): Their samples.
        state (Any): The model's online state, carried over between calls.

    Returns:
        Sequence[:obj:`TrackDataSample`]: ``data_samples``, every frame's
        sample given ``pred_instances``.

    Raises:
        ValueError: When the frames of the batch differ in size
            (:func:`check_one_frame_size`).
    """
    check_clip_inputs(inputs, data_samples)
    check_one_frame_size(data_samples)
    for n, sample in enumerate(data_samples):
        for t in range(len(sample)):
            model.predict_frame(inputs[n, t:t + 1], sample[t], state)
    return data_samples


@MODELS.register_module()
class MemoryRFCN(BaseDetector):
    """Online video detector: R-FCN on a warped feature memory.

    Args:
        detector (dict): Config of the per-frame detector, an :class:`RFCN`
            (its backbone + embedding neck give F_t, its RPN and R-FCN head
            read the memory M_t).
        motion (dict): Config of the flow network (``FlowNetSimple``).
        warp (dict): Config of the warping neck (``FlowWarp``).
        aggregator (dict): ``MemNetAggregator`` (one memory, stride 1) or
            ``ClockNetAggregator`` (K memories with strides).
        train_cfg (dict, optional): ``evidence_drop_prob`` (float, default
            0.8) and ``loss_frames`` (``'last'`` or ``'all'``, default
            ``'last'``). With ``'all'`` every clip position has a loss,
            also the positions that ``CausalClipSample`` filled by
            repeating the earliest frame it could reach near the start of
            a video (frame ``t mod s`` for clip stride s; and every
            position of a DET image), so such frames weigh more in the
            loss than a frame in the middle of a video.
        test_cfg (dict, optional): Online testing settings; the
            detector's own ``test_cfg`` sets the RPN / R-FCN behaviour.

            - ``concurrent_flow`` (bool, default False): on CUDA, run
              FlowNet on a second CUDA stream while the backbone extracts
              the frame's features on the current one (the two do not
              depend on each other), see :meth:`flows_beside_features`.
              The same outputs; on the CPU it changes nothing.
            - ``evidence_interval`` (int, default 1): image evidence
              (backbone features) every this many frames of a video,
              from its first; the frames between are propagated (the
              paper's Sec. 5.2, "ClockNet-101-FeatProp" of Sec. 5.3): the
              memories are warped to them with FlowNet's flows and R-FCN
              runs on the result, without the backbone. A ClockNet memory
              takes evidence at the frames where both its clock ticks and
              the interval allows it.
            - ``anticipate`` (bool, default False): the frames between
              evidence frames read no image at all (Sec. 4.3); their flows
              are extrapolated with a constant acceleration from the last
              evidence frame's motion (FlowNet from it to the two frames
              before it, :mod:`~memvid_mm.models.layers.flow_extrapolation`).
              Needs ``evidence_interval`` > 1.
            - ``propagate`` (str, default ``'features'``): what the frames
              between evidence frames get: the propagated memories
              (``'features'``), or (``'boxes'``, the paper's baseline of
              Sec. 5.2) the last evidence frame's detections, each moved
              by the mean of FlowNet's flow inside it
              (:mod:`~memvid_mm.models.layers.box_propagation`); the head
              runs at evidence frames only.
            - ``split_halves`` (bool, default False): the paper's "(split)"
              baseline of Table 3: each frame's left and right halves are
              detected apart, each with its own memory, and their
              detections merged before NMS (:meth:`predict_frame_in_halves`,
              :mod:`~memvid_mm.models.detectors.split_halves`); the state
              is then a :class:`SplitHalvesState`.
            - ``chain_flows`` (bool, default False): FlowNet computes only
              the flow from each frame to the frame before; the flow to
              an older anchor a is composed from the last frame's,
              ``D_{t,a} = compose(D_{t,t-1}, D_{t-1,a})``
              (:meth:`chained_flows`), so NF = 1 and the composition's
              errors add up over the frames. The paper's "Cau. FGFA*"
              ("aggregating displacement fields in an online manner").
              Needs ``evidence_interval`` = 1.
        data_preprocessor (dict, optional): ``TrackDataPreprocessor``.
            Defaults to None.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.

    Training takes ordered clips (N, T, 3, H, W) and back-propagates through
    time into FlowNet, the aggregator and every frame's backbone. Testing is
    strictly online: one frame at a time, the state kept in an explicit
    :class:`MemoryState` (``self.test_state``) that resets on a new video, on
    ``frame_id == 0`` and on a gap in ``frame_id``.

    Input contract: ``inputs`` (N, T, 3, H, W), axis 1 time in video
    order, the key frame last, normalised by the data preprocessor (whose
    mean, std and channel order FlowNet undoes, so they must match
    ``motion``'s); one :class:`TrackDataSample` per clip whose T frames
    carry ``gt_instances`` (boxes (x1, y1, x2, y2) in the input image) in
    training, and ``video_id`` / ``frame_id`` / ``img_shape`` /
    ``scale_factor`` metainfo. ``loss`` returns mmdet's RPN and R-FCN
    losses (``loss_rpn_cls``, ``loss_rpn_bbox``, ``loss_cls``,
    ``loss_bbox``, ``acc``) of the annotated frames ``loss_frames`` picks;
    ``predict`` runs the given frames one by one in order (the stock
    TestLoop serves one, N = T = 1) and gives each frame's sample
    ``pred_instances`` (``bboxes`` (R, 4) as (x1, y1, x2, y2) in the
    original image, ``scores`` (R,), ``labels`` (R,)).
    """

    def __init__(self,
                 detector: ConfigType,
                 motion: ConfigType,
                 warp: ConfigType,
                 aggregator: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.detector = MODELS.build(detector)
        self.register_load_state_dict_pre_hook(refuse_foreign_state_dict)
        self.detector.register_load_state_dict_pre_hook(
            refuse_video_detector_state_dict)
        self.motion = MODELS.build(motion)
        self.check_motion_normalisation()
        self.warp = MODELS.build(warp)
        self.aggregator = self._build_aggregator(aggregator)
        check_aggregator_channels(self.aggregator, self.detector)
        self.feature_stride = feature_stride(self.detector)
        train_cfg = dict(train_cfg or {})
        drop_prob = train_cfg.pop('evidence_drop_prob', 0.8)
        if isinstance(drop_prob, bool) or not isinstance(
                drop_prob, numbers.Real) or not 0.0 <= drop_prob < 1.0:
            raise ValueError(f'train_cfg.evidence_drop_prob must be a number '
                             f'in [0, 1), got {drop_prob!r}')
        self.evidence_drop_prob = float(drop_prob)
        self.loss_frames = train_cfg.pop('loss_frames', 'last')
        loss_frame_indices(1, self.loss_frames)  # validates the choice
        if train_cfg:
            raise ValueError(f'unknown MemoryRFCN train_cfg keys: '
                             f'{sorted(train_cfg)}')
        self.test_cfg = parse_test_cfg(test_cfg)
        self.aggregator.check_evidence_schedule(
            self.evidence_drop_prob, self.test_cfg['evidence_interval'])
        # The CUDA stream FlowNet runs on beside the backbone
        # (concurrent_flow), one per device for the model's lifetime.
        self.flow_streams = SideStreams()
        # Draws the evidence dropout. Seeded with torch's seed, which the
        # runner sets from ``randomness.seed`` before it builds the model
        # (the same on every rank unless ``diff_rank_seed``), so that a
        # seeded run repeats, ranks drop the same clip positions and
        # another seed draws other positions. Like the rest of mmengine's
        # randomness it starts again from the seed when a run resumes.
        self.rng = random.Random(torch.initial_seed())
        # The online state of the stock TestLoop path (``predict``); other
        # callers hand their own states to ``predict_frame``.
        self.test_state = self.new_online_state()
        # The videos whose reset in the middle (a gap in frame_id, or a
        # frame after another video's that is not its first) was logged:
        # once per video, also when a stream holds several.
        self.videos_restarted_midway: Set[Hashable] = set()

    def train(self, mode: bool = True) -> 'MemoryRFCN':
        """Set the training mode; entering it ends online testing.

        ``self.test_state`` is reset when ``mode`` is True, so that the last
        validated video's memories and anchor images do not stay on the
        device through the training epochs that follow (the next online
        frame would reset the state anyway: a new video, or frame 0).

        Args:
            mode (bool): Training (True) or evaluation (False) mode.
                Defaults to True.

        Returns:
            MemoryRFCN: The model itself.
        """
        if mode:
            self.test_state.reset()
        return super().train(mode)

    def check_motion_normalisation(self) -> None:
        """Check that FlowNet undoes the data preprocessor's normalisation.

        FlowNet takes the normalised images and un-normalises them with its
        own ``img_norm_mean`` / ``img_norm_std`` (RGB order). A detector
        normalised otherwise (caffe-style BGR statistics, no ``bgr_to_rgb``,
        no normalisation) would feed FlowNet wrong colours without any
        error, so it is refused here.

        Raises:
            ValueError: Naming the mismatching setting.
        """
        preprocessor = self.data_preprocessor
        if not getattr(preprocessor, '_enable_normalize', False):
            raise ValueError('MemoryRFCN needs a data_preprocessor that '
                             'normalises the images (mean and std): '
                             'FlowNet un-normalises them')
        if not getattr(preprocessor, '_channel_conversion', False):
            raise ValueError('MemoryRFCN needs data_preprocessor.bgr_to_rgb'
                             '=True: FlowNet takes RGB images')
        for name in ('mean', 'std'):
            ours = getattr(preprocessor, name).detach().flatten().cpu()
            flownets = getattr(self.motion, f'img_norm_{name}')
            flownets = flownets.detach().flatten().cpu()
            if not torch.allclose(ours, flownets):
                raise ValueError(
                    f'data_preprocessor.{name}={ours.tolist()} differs from '
                    f'motion.img_norm_{name}={flownets.tolist()}: FlowNet '
                    f'would un-normalise the images wrongly')

    @staticmethod
    def _build_aggregator(cfg: ConfigType) -> BaseMemoryAggregator:
        """Build the aggregator; a MemNet becomes a ClockNet with K = 1."""
        agg_type = cfg['type']
        agg_cls = MODELS.get(agg_type) if isinstance(agg_type, str) else \
            agg_type
        if agg_cls is not None and issubclass(agg_cls, MemNetAggregator):
            # the class, not its name: found under any default scope
            return MODELS.build(
                dict(type=ClockNetAggregator, strides=(1, ), memnet=cfg))
        if agg_cls is not None and issubclass(agg_cls, BaseMemoryAggregator):
            return MODELS.build(cfg)
        raise TypeError(f'aggregator must be a MemNetAggregator, '
                        f'ClockNetAggregator or CausalFGFAAggregator config, '
                        f'got type {agg_type!r}')

    @property
    def concurrent_flow(self) -> bool:
        """bool: ``test_cfg.concurrent_flow``: FlowNet on a second CUDA
        stream."""
        return self.test_cfg['concurrent_flow']

    @property
    def strides(self) -> Tuple[int, ...]:
        """tuple[int]: Temporal strides of the K memories."""
        return tuple(self.aggregator.strides)

    def init_weights(self) -> None:
        """Initialise as mmengine does, then check that the image
        detector's ``init_cfg`` checkpoint, if any, fitted it exactly
        (:func:`check_detector_pretrained`)."""
        super().init_weights()
        check_detector_pretrained(self)

    def extract_feat(self, images: Tensor) -> Tensor:
        """Per-frame features F_t: the detector's backbone and embedding.

        Args:
            images (Tensor): (B, 3, H, W) normalised frames.

        Returns:
            Tensor: (B, C, h, w) the embedded features, C the detector's
            ``feature_channels``.

        Raises:
            ValueError: If the detector's neck gives more than one map.
        """
        feats = self.detector.extract_feat(images)
        if len(feats) != 1:
            raise ValueError(f'MemoryRFCN needs a single embedded feature '
                             f'map from the detector neck, got {len(feats)}')
        return feats[0]

    def warped_memories(self,
                        state: MemoryState,
                        frame_index: Optional[int] = None) -> List[int]:
        """The memories that the next frame warps to itself.

        All of them, but those the aggregator overwrites unread at the
        frame (``overwritten_memories``: none for MemNet and ClockNet, the
        window's oldest frame for causal FGFA).

        Args:
            state (MemoryState): The per-video state (not changed).
            frame_index (int, optional): The frame's place in the clock
                schedule. Defaults to None, meaning ``state.frame_index``.

        Returns:
            list[int]: Memory indices k, ascending; empty for an empty
            state.
        """
        if state.is_empty:
            return []
        index = state.frame_index if frame_index is None else frame_index
        overwritten = set(self.aggregator.overwritten_memories(index))
        return [k for k in range(state.num_memories) if k not in overwritten]

    def anchor_flows(
            self,
            state: MemoryState,
            image: Tensor,
            frame_index: Optional[int] = None) -> Dict[Hashable, Tensor]:
        """FlowNet from the current image to the memories' anchor frames.

        Args:
            state (MemoryState): The per-video state (not changed).
            image (Tensor): The current frame (N, 3, H, W), normalised.
            frame_index (int, optional): The frame's place in the clock
                schedule (:meth:`warped_memories`). Defaults to None,
                meaning ``state.frame_index``.

        Returns:
            dict: One flow (N, 2, H, W) per distinct anchor frame id of the
            memories the frame warps (:meth:`warped_memories`; NF of the
            frame; memories that share an anchor share its flow); empty
            for an empty state.
        """
        flows = {}
        for k in self.warped_memories(state, frame_index):
            anchor_id = state.anchor_frame_ids[k]
            if anchor_id not in flows:
                flows[anchor_id] = self.motion(image, state.anchor_imgs[k])
        return flows

    def frame_flows(self, state: MemoryState,
                    image: Tensor) -> Dict[Hashable, Tensor]:
        """The online frame's flows to the anchors of the memories it
        warps: :meth:`chained_flows` with ``test_cfg.chain_flows``, else
        FlowNet's to each (:meth:`anchor_flows`).

        Args:
            state (MemoryState): The per-video state (not changed).
            image (Tensor): The current frame (N, 3, H, W), normalised.

        Returns:
            dict: One flow (N, 2, H, W) per anchor frame id.
        """
        if self.test_cfg['chain_flows']:
            return self.chained_flows(state, image)
        return self.anchor_flows(state, image)

    def image_grid(self, flow: Tensor) -> Tensor:
        """The identity grid of a flow's image, from the warp's cache.

        Composing flows (chained flows, anticipation) samples one
        image-resolution flow along another; ``self.warp`` keeps the grid
        of that shape with those of the feature maps
        (``FlowWarp.grid_cache``), so it is built once per shape and
        device, not at every frame. An image grid is larger than a feature
        map's (a 600x1000 image: 4.8 MB in float32); the cache's bound
        (``FlowWarp.max_cached_grids``, least recently used evicted first)
        bounds them with the rest when the image size changes from video to
        video.

        Args:
            flow (Tensor): (N, 2, H, W) flow in image pixels.

        Returns:
            Tensor: (1, 2, H, W) identity grid, in the coordinate dtype of
            ``flow`` (at least float32).
        """
        h, w = flow.shape[-2:]
        return self.warp.base_grid(h, w, flow.device,
                                   coordinate_dtype(flow.dtype))

    def chained_flows(self, state: MemoryState,
                      image: Tensor) -> Dict[Hashable, Tensor]:
        """The flows to the anchors, from one FlowNet call (Cau. FGFA*).

        FlowNet gives ``D_{t,t-1}`` from the frame to the last one
        (``state.previous_img``); the flow to an older anchor a is
        ``compose_flows(D_{t,t-1}, D_{t-1,a})`` with the last frame's flow
        to it (``state.previous_flows``, which :meth:`record_chained_flows`
        kept).

        Args:
            state (MemoryState): The per-video state (not changed).
            image (Tensor): The current frame (N, 3, H, W), normalised.

        Returns:
            dict: One flow (N, 2, H, W) per anchor frame id of the
            memories the frame warps; empty for an empty state.
        """
        warped_ks = self.warped_memories(state)
        if not warped_ks:
            return {}
        if state.previous_img is None:
            raise ValueError('chained flows need the last frame\'s image '
                             'and flows in the state (test_cfg.chain_flows '
                             'keeps them from the first frame of a video)')
        if state.previous_frame_id != state.last_frame_id:
            raise ValueError(
                f'no flows from frame {state.last_frame_id} to chain: the '
                f'state holds those of frame {state.previous_frame_id} '
                f'(frame {state.last_frame_id} was advanced without '
                f'test_cfg.chain_flows)')
        step = self.motion(image, state.previous_img)
        flows = {}
        for k in warped_ks:
            anchor_id = state.anchor_frame_ids[k]
            if anchor_id in flows:
                continue
            if anchor_id == state.last_frame_id:
                flows[anchor_id] = step
            elif anchor_id in state.previous_flows:
                flows[anchor_id] = compose_flows(
                    step, state.previous_flows[anchor_id],
                    self.image_grid(step))
            else:
                raise ValueError(
                    f'no flow from frame {state.last_frame_id} to the anchor '
                    f'frame {anchor_id} to chain')
        return flows

    @staticmethod
    def record_chained_flows(state: MemoryState, image: Tensor,
                             flows: Dict[Hashable, Tensor]) -> None:
        """Keep the frame's image and flows for the next frame's
        :meth:`chained_flows` (``test_cfg.chain_flows``).

        Args:
            state (MemoryState): The state, just written for the frame.
            image (Tensor): The frame (N, 3, H, W).
            flows (dict): Its flows to the anchors of the memories it
                warped (made finite); the memories that keep an old anchor
                are among them.
        """
        state.previous_img = image
        state.previous_flows = dict(flows)
        state.previous_frame_id = state.last_frame_id

    def flows_beside_features(
            self, state: MemoryState,
            image: Tensor) -> Tuple[Dict[Hashable, Tensor], Tensor]:
        """The frame's flows and features, computed side by side on CUDA.

        FlowNet reads only the images, the backbone only the current one,
        so the flows (:meth:`frame_flows`) are launched on a second CUDA
        stream while the features are extracted on the current stream; the
        GPU can run the two at once where one leaves it idle. The current
        stream then waits for the flows, so everything after reads them
        finished. The same kernels, the same outputs. The second stream is
        the model's one per device (``self.flow_streams``), so FlowNet's
        freed buffers are reused from frame to frame.

        Args:
            state (MemoryState): The per-video state (not changed).
            image (Tensor): The current frame (N, 3, H, W), normalised, on
                a CUDA device.

        Returns:
            tuple: The flows of :meth:`frame_flows` and F_t (N, C, h, w).
        """
        if not image.is_cuda:
            raise ValueError('flows_beside_features needs a CUDA image, got '
                             f'one on {image.device}')
        current = torch.cuda.current_stream(image.device)
        side = self.flow_streams.get(image.device)
        side.wait_stream(current)  # the images are written
        with torch.cuda.stream(side):
            flows = self.frame_flows(state, image)
        feature = self.extract_feat(image)
        current.wait_stream(side)
        for flow in flows.values():
            # made on the side stream, read and freed on the current one
            flow.record_stream(current)
        return flows, feature

    def flows_and_feature(
            self, state: MemoryState,
            image: Tensor) -> Tuple[Dict[Hashable, Tensor], Tensor]:
        """The frame's :meth:`frame_flows` and F_t, as online testing
        computes them: side by side on CUDA when ``concurrent_flow``
        (:meth:`flows_beside_features`), else one after the other.

        Args:
            state (MemoryState): The per-video state (not changed).
            image (Tensor): The current frame (N, 3, H, W), normalised.

        Returns:
            tuple: The flows (empty for an empty state) and F_t
            (N, C, h, w); F_t is None at a frame where no memory takes
            image evidence (a stride-4 memory at frames 1-3 of every 4;
            :meth:`memory_step` would drop F_t there), and the backbone
            is not run.
        """
        if state.is_empty:
            return {}, self.extract_feat(image)
        if not any(self.aggregator.takes_evidence(state.frame_index)):
            return self.frame_flows(state, image), None
        if self.concurrent_flow and image.is_cuda:
            return self.flows_beside_features(state, image)
        feature = self.extract_feat(image)
        return self.frame_flows(state, image), feature

    @staticmethod
    def zero_non_finite_flows(
        flows: Dict[Hashable, Tensor]
    ) -> Tuple[Dict[Hashable, Tensor], Optional[Tensor]]:
        """Make a frame's flows finite without reading them back to the host.

        Args:
            flows (dict): :meth:`anchor_flows` of a frame.

        Returns:
            tuple: The flows with their NaN and infinite values set to 0
            (:func:`zero_non_finite_flow`), and the number of such values
            in all of them (a 0-dim tensor on the device; None when there
            are no flows), for :meth:`check_flows_were_finite`.
        """
        finite_flows, counts = {}, []
        for anchor_id, flow in flows.items():
            finite_flows[anchor_id], count = zero_non_finite_flow(flow)
            counts.append(count)
        total = torch.stack(counts).sum() if counts else None
        return finite_flows, total

    @staticmethod
    def check_flows_were_finite(non_finite_count: Optional[Tensor],
                                flows: Dict[Hashable,
                                            Tensor], state: MemoryState,
                                video_id: Hashable, frame_id: int) -> None:
        """Raise if a frame's flows held NaN or infinite values.

        Reads one number back to the host. On CUDA that waits for the
        flows, so :meth:`predict_frame` calls it after the detection head,
        which waits for the device anyway, and not between the flow and the
        warp, where the GPU would idle while the host launches the next
        kernels.

        Args:
            non_finite_count (Tensor, optional): The count that
                :meth:`zero_non_finite_flows` returned; None checks nothing.
            flows (dict): The frame's flows, for the message.
            state (MemoryState): The video's state; reset before raising,
                since its memories were warped with the zeroed flows.
            video_id (Hashable): Video of the frame, for the message.
            frame_id (int): Id of the frame, for the message.

        Raises:
            ValueError: Naming the video, the frame and the number of
                non-finite values.
        """
        if non_finite_count is None:
            return
        count = int(non_finite_count)
        if count == 0:
            return
        state.reset()
        shape = next(iter(flows.values())).shape
        raise ValueError(
            f'video {video_id}: frame {frame_id}: FlowNet gave '
            f'{non_finite_flow_message(shape, count)} (summed over the '
            f'{len(flows)} flow(s) of the frame); the memory state is reset')

    def memory_step(self,
                    state: MemoryState,
                    image: Tensor,
                    feature: Optional[Tensor],
                    video_id: Hashable,
                    frame_id: int,
                    frame_index: Optional[int] = None,
                    flows: Optional[Dict[Hashable, Tensor]] = None) -> Tensor:
        """Advance ``state`` by one frame and return M_t.

        Args:
            state (MemoryState): The per-video state; updated in place.
            image (Tensor): The current frame (N, 3, H, W), normalised.
            feature (Tensor, optional): F_t (N, C, h, w), or None when the
                frame has no image evidence (dropped in training, or
                propagated at test time). The first frame after a reset must
                have features.
            video_id (Hashable): Video of the frame (recorded in ``state``).
            frame_id (int): Id of the frame (recorded in ``state``).
            frame_index (int, optional): Frames elapsed since the first
                frame of the memory, for the clock schedule. Defaults to
                None, meaning ``state.frame_index`` (consecutive frames).
            flows (dict, optional): This frame's :meth:`anchor_flows`,
                computed beforehand (e.g. by :meth:`flows_beside_features`)
                and made finite by :meth:`zero_non_finite_flows`; the
                caller checks the count it returned
                (:meth:`check_flows_were_finite`), as :meth:`predict_frame`
                does after the head. Defaults to None: computed and checked
                here (one host read for all the frame's flows).

        Returns:
            Tensor: M_t, the K memories at this frame combined by the
            aggregator (``combine_step``: their mean, a learned per-pixel
            weighting, or causal FGFA's embedding weighting),
            (N, C, h, w).
        """
        num_memories = len(self.strides)
        if not state.is_empty and state.num_memories != num_memories:
            raise ValueError(
                f'video {video_id}: frame {frame_id}: the state holds '
                f'{state.num_memories} memories, this model keeps '
                f'{num_memories} (strides {tuple(self.strides)}); a state '
                f'belongs to the model that wrote it')
        if state.is_empty:
            if feature is None:
                raise ValueError('the first frame of a memory needs image '
                                 'features (M_1 = F_1)')
            # checked here, not one frame later against a correct frame
            if feature.dim() != 4 or feature.size(0) != image.size(0):
                raise ValueError(
                    f'video {video_id}: frame {frame_id}: features of shape '
                    f'{tuple(feature.shape)} for frames of shape '
                    f'{tuple(image.shape)}; expected (N, C, h, w) with the '
                    "frames' batch size N")
            check_frame_covers_map(image.shape[-2:], feature.shape[-2:],
                                   self.feature_stride)
            state.write([feature] * num_memories, [image] * num_memories,
                        [frame_id] * num_memories, video_id, frame_id)
            return feature
        index = state.frame_index if frame_index is None else frame_index
        ticks = ([False] * num_memories
                 if feature is None else self.aggregator.takes_evidence(index))
        warped_ks = self.warped_memories(state, index)
        flows = self._step_flows(state, image, feature is not None, index,
                                 warped_ks, flows, video_id, frame_id)
        check_frame_covers_map(image.shape[-2:], state.memories[0].shape[-2:],
                               self.feature_stride)
        current, stored = self._warp_and_update(state, image, feature,
                                                frame_id, ticks, warped_ks,
                                                flows)
        state.write(*stored, video_id, frame_id)
        return self.aggregator.combine_step(current, ticks, stored[2])

    def _step_flows(self, state: MemoryState, image: Tensor, has_feature: bool,
                    frame_index: int, warped_ks: Sequence[int],
                    flows: Optional[Dict[Hashable,
                                         Tensor]], video_id: Hashable,
                    frame_id: int) -> Dict[Hashable, Tensor]:
        """The flows of :meth:`memory_step`: checked when given, else
        computed and checked.

        Args:
            state (MemoryState): The per-video state, not empty.
            image (Tensor): The current frame (N, 3, H, W).
            has_feature (bool): Whether the frame has image features.
            frame_index (int): The frame's place in the clock schedule.
            warped_ks (Sequence[int]): The memories it warps
                (:meth:`warped_memories`).
            flows (dict, optional): Flows computed beforehand.
            video_id (Hashable): Video of the frame, for messages.
            frame_id (int): Id of the frame, for messages.

        Returns:
            dict: One flow per anchor of the memories to warp.
        """
        overwritten = sorted(set(range(state.num_memories)) - set(warped_ks))
        if overwritten and not has_feature:
            raise ValueError(
                f'video {video_id}: frame {frame_id}: '
                f'{type(self.aggregator).__name__} needs image features at '
                f'every frame (it overwrites memories {overwritten} with '
                f'them)')
        anchors = {state.anchor_frame_ids[k] for k in warped_ks}
        if flows is None:
            flows, non_finite_count = self.zero_non_finite_flows(
                self.anchor_flows(state, image, frame_index))
            self.check_flows_were_finite(non_finite_count, flows, state,
                                         video_id, frame_id)
        elif set(flows) != anchors:
            raise ValueError(
                f'flows are for anchor frames {sorted(flows)}, the memories '
                f'to warp are at {sorted(anchors)}')
        return flows

    def _warp_and_update(
        self, state: MemoryState, image: Tensor, feature: Optional[Tensor],
        frame_id: int, ticks: Sequence[bool], warped_ks: Sequence[int],
        flows: Dict[Hashable, Tensor]
    ) -> Tuple[List[Tensor], Tuple[List[Tensor], List[Tensor], List[int]]]:
        """Warp the memories to the frame and update those that take its
        evidence.

        Args:
            state (MemoryState): The per-video state, not empty (not
                changed).
            image (Tensor): The current frame (N, 3, H, W).
            feature (Tensor, optional): F_t (N, C, h, w).
            frame_id (int): Id of the frame.
            ticks (Sequence[bool]): K flags, which memories take evidence.
            warped_ks (Sequence[int]): The memories to warp
                (:meth:`warped_memories`); the others are overwritten
                unread.
            flows (dict): The flows to the anchors of ``warped_ks``.

        Returns:
            tuple: The K memories (N, C, h, w) aligned to the frame, and
            what the state stores after it (:meth:`MemoryState.write`'s
            memories, anchor images and anchor frame ids): a memory that
            took evidence aligned to the frame, the others unchanged at
            their anchors.
        """
        memories, anchor_imgs = list(state.memories), list(state.anchor_imgs)
        anchor_ids = list(state.anchor_frame_ids)
        current = []
        for k, tick in enumerate(ticks):
            warped = None
            if k in warped_ks:
                warped = self.warp(
                    memories[k], flows[anchor_ids[k]], check_finite=False)
            if tick:
                warped = self.aggregator.update(k, warped, feature)
                memories[k], anchor_imgs[k] = warped, image
                anchor_ids[k] = frame_id
            current.append(warped)
        return current, (memories, anchor_imgs, anchor_ids)

    def clip_memories(self, inputs: Tensor, keep: Sequence[bool],
                      clip_stride: int,
                      output_frames: Sequence[int]) -> Dict[int, Tensor]:
        """Run the memory over N clips and return M_t at the given positions.

        A position without image evidence leaves every memory at its anchor
        (:meth:`memory_step`), so its step changes nothing a later position
        sees: it is run only when its M_t is asked for. Skipping the others
        (their FlowNet calls, warps and combinations) gives the same
        memories bit for bit, and no graph that the loss does not use is
        built or kept while the clip runs.

        Args:
            inputs (Tensor): (N, T, 3, H, W).
            keep (list[bool]): T flags, whether each frame's features enter.
            clip_stride (int): Frames between clip positions; position t is
                ``t * clip_stride`` frames after the first for the clocks.
            output_frames (Sequence[int]): Positions whose M_t to return.

        Returns:
            dict[int, Tensor]: M_t (N, C, h, w) per position of
            ``output_frames``.
        """
        num_clips, num_frames = inputs.shape[:2]
        kept = [t for t in range(num_frames) if keep[t]]
        feats = self.extract_feat(inputs[:, kept].flatten(0, 1))
        feats = feats.unflatten(0, (num_clips, len(kept)))  # [N, L, C, h, w]
        feat_at = {t: feats[:, i] for i, t in enumerate(kept)}
        wanted = set(output_frames)
        state = MemoryState()
        outputs = {}
        for t in range(num_frames):
            if t not in feat_at and t not in wanted:
                continue
            memory = self.memory_step(state, inputs[:, t], feat_at.get(t),
                                      None, t, t * clip_stride)
            if t in wanted:
                outputs[t] = memory
        return outputs

    @staticmethod
    def clip_stride_of(data_samples: TrackSampleList,
                       default: Optional[int] = None) -> int:
        """The temporal stride of the training clips, from their metainfo.

        ``CausalClipSample`` records it as ``clip_stride`` (pack it with
        ``PackTrackInputs(meta_keys=('clip_stride', ...))``); all clips of
        a batch must share it.

        Args:
            data_samples (TrackSampleList): The N clips.
            default (int, optional): The stride of clips without the
                metainfo. Defaults to None: such clips are an error.

        Returns:
            int: The clips' stride.
        """
        strides = {
            sample[0].metainfo.get('clip_stride', default)
            for sample in data_samples
        }
        if None in strides:
            raise ValueError('MemoryRFCN training needs the "clip_stride" '
                             'metainfo of CausalClipSample; add it to '
                             'PackTrackInputs(meta_keys=...)')
        if len(strides) != 1:
            raise ValueError(f'clips of one batch must share clip_stride, '
                             f'got {sorted(strides)}')
        return int(strides.pop())

    def loss(self, inputs: Tensor, data_samples: TrackSampleList) -> dict:
        """Losses of N ordered clips (N, T, 3, H, W), through time.

        Image evidence of each frame but the first is dropped with
        probability ``evidence_drop_prob`` (one draw per clip position,
        shared by the N clips of the batch). The detection loss is taken on
        the loss frames (``loss_frames``) from the memory features. Each
        clip starts its memories afresh, as a test video does: its first
        frame is frame 0 of the ClockNet schedule wherever the clip lies in
        its video, and position t is ``t * clip_stride`` frames later. A
        clip clamped at the start of its video (``CausalClipSample``
        repeats its earliest frame) counts its repeats as frames of a
        paused video: the same image, no motion, the clocks running on.
        Positions that neither keep evidence nor carry a loss are not run
        (:meth:`clip_memories`): nothing the loss sees depends on them.

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised clips, T >= 2, axis
                1 time in video order, the key frame last.
            data_samples (list[:obj:`TrackDataSample`]): N samples of T
                frames, the loss frames with ``gt_instances``.

        Returns:
            dict[str, Tensor | list[Tensor]]: The RPN losses
            (``loss_rpn_cls``, ``loss_rpn_bbox``) and the R-FCN head's
            (``loss_cls``, ``loss_bbox``, ``acc``).

        Raises:
            ValueError: If the clips have fewer than 2 frames, or the
                aggregator cannot train on them.
        """
        check_clip_inputs(inputs, data_samples)
        check_key_frame_last(data_samples)
        num_frames = inputs.shape[1]
        if num_frames < 2:
            raise ValueError(
                f'MemoryRFCN trains on clips of at least 2 frames, got '
                f'{num_frames}: on one frame the memory is F_1 itself, and '
                f'FlowNet, the warp and psi would get no gradient; set the '
                f'train pipeline\'s CausalClipSample(num_frames=...)')
        clip_stride = self.clip_stride_of(data_samples)
        self.aggregator.check_training_clip(num_frames, clip_stride)
        untrained = self.aggregator.psi_without_clip_updates(
            num_frames, clip_stride)
        if untrained:
            warnings.warn(
                f'memories {untrained} (strides '
                f'{[self.strides[k] for k in untrained]}) take no evidence '
                f'after the first frame of {num_frames}-frame clips of '
                f'stride {clip_stride}: their own psi (share_memnet=False) '
                'gets no gradient; train on longer clips, a larger clip '
                'stride, or share psi')
        keep = evidence_keep_mask(num_frames, self.evidence_drop_prob,
                                  self.rng)
        frame_inds = loss_frame_indices(num_frames, self.loss_frames)
        memories = self.clip_memories(inputs, keep, clip_stride, frame_inds)
        _, samples = gather_frames(inputs, data_samples, frame_inds)
        memory = torch.stack([memories[t] for t in frame_inds], dim=1)
        return self.detector._head_loss((memory.flatten(0, 1), ), samples)

    def new_online_state(self) -> Union[MemoryState, SplitHalvesState]:
        """An empty state for one video stream of :meth:`predict_frame`.

        Returns:
            MemoryState | SplitHalvesState: A :class:`SplitHalvesState` with
            ``test_cfg.split_halves``, else a :class:`MemoryState`.
        """
        if self.test_cfg['split_halves']:
            return SplitHalvesState()
        return MemoryState()

    def predict_frame(self, image: Tensor, data_sample: DetDataSample,
                      state: MemoryState) -> DetDataSample:
        """Detect objects in one frame, online, with an explicit state.

        Args:
            image (Tensor): The frame (1, 3, H, W), normalised.
            data_sample (:obj:`DetDataSample`): Its sample; ``video_id`` and
                ``frame_id`` metainfo decide when ``state`` resets.
            state (MemoryState): The video's state, updated in place.

        Returns:
            :obj:`DetDataSample`: ``data_sample`` with ``pred_instances``.

        The state keeps no autograd history: with gradients enabled (a
        ``test_step`` outside mmengine's TestLoop, which turns them off)
        the frame's own output still has its graph, but the memories
        written to ``state`` are detached, so a video does not hold every
        frame's activations. Back-propagation through time is
        :meth:`loss`'s. Nor does it keep the batch an ``image`` view was
        cut from (a clip of frames): the state's anchor image is the
        frame's own copy then.

        With ``test_cfg.evidence_interval`` > 1 only every so many frames
        take image evidence (:meth:`online_flows_and_feature`); with
        ``test_cfg.anticipate`` the frames between read no image; with
        ``test_cfg.propagate='boxes'`` they get the evidence frame's
        detections, moved (:meth:`predict_by_box_propagation`).

        Raises:
            TypeError: When ``image`` is not of the weights' dtype (e.g.
                uint8 frames not normalised by the data preprocessor).
            ValueError: When ``image`` is not one frame (1, 3, H, W), or
                when FlowNet gave a flow with a NaN or an infinity
                (checked after the head, see
                :meth:`check_flows_were_finite`; ``state`` is reset).
        """
        if self.test_cfg['split_halves']:
            return self.predict_frame_in_halves(image, data_sample, state)
        image, video_id, frame_id, img_shape, evidence = \
            self._start_online_step(image, data_sample, state)
        if self.test_cfg['propagate'] == 'boxes' and not evidence:
            return self.predict_by_box_propagation(image, data_sample, state,
                                                   video_id, frame_id)
        memory, pending = self._online_memory_step(state, image, video_id,
                                                   frame_id, img_shape,
                                                   evidence)
        result = self.detector._head_predict((memory, ), [data_sample],
                                             rescale=True)[0]
        if self.test_cfg['propagate'] == 'boxes':
            state.evidence_boxes = evidence_boxes(image, result)
        # Checked after the head: see check_flows_were_finite.
        self.check_pending_flows(pending, state)
        return result

    def predict_frame_in_halves(self, image: Tensor,
                                data_sample: DetDataSample,
                                state: SplitHalvesState) -> DetDataSample:
        """Detect objects in one frame's two halves apart, online
        (``test_cfg.split_halves``, the "(split)" baseline).

        Each half (:func:`split_frame_halves`, padded to the data
        preprocessor's ``pad_size_divisor``) advances its own memory
        (:meth:`online_memory_unchecked`); R-FCN's detections of both,
        before NMS, are merged and then suppressed as a whole frame's
        (:func:`merge_half_detections`).

        Args:
            image (Tensor): The frame (1, 3, H, W), normalised.
            data_sample (:obj:`DetDataSample`): Its sample.
            state (SplitHalvesState): The video's state, one memory per
                half, updated in place.

        Returns:
            :obj:`DetDataSample`: ``data_sample`` with ``pred_instances``
            (``bboxes`` (R, 4) in the original image, ``scores`` (R,),
            ``labels`` (R,)).

        Raises:
            TypeError: When ``state`` is not a :class:`SplitHalvesState`.
            ValueError: As :meth:`online_memory`, for either half; a
                non-finite flow in either (checked after the merge) resets
                both halves' memories.
        """
        if not isinstance(state, SplitHalvesState):
            raise TypeError(f'with test_cfg.split_halves=True the online '
                            f'state is a SplitHalvesState (new_online_state'
                            f'()), got {type(state).__name__}')
        video_id, frame_id = self._check_online_frame(image, data_sample)
        halves = split_frame_halves(
            image, data_sample,
            getattr(self.data_preprocessor, 'pad_size_divisor',
                    self.feature_stride))
        for half, half_state in zip(halves, (state.left, state.right)):
            # before either half advances: a width change may alter only
            # the right half's size
            self.check_frame_size(half_state, half.image, half.sample,
                                  video_id, frame_id)
        memories, pending = [], []
        for half, half_state in zip(halves, (state.left, state.right)):
            memory, checks = self.online_memory_unchecked(
                half.image, half.sample, half_state)
            memories.append((memory, ))
            pending.append(checks)
        detect_split_frame(self.detector, halves, memories, data_sample)
        try:  # after the head, as predict_frame
            for checks, half_state in zip(pending, (state.left, state.right)):
                self.check_pending_flows(checks, half_state)
        except ValueError:
            state.reset()  # the halves' memories stay in step
            raise
        return data_sample

    def online_memory(self, image: Tensor, data_sample: DetDataSample,
                      state: MemoryState) -> Tensor:
        """Advance ``state`` by one online frame and return its M_t; no
        detection head runs.

        The memory path of :meth:`predict_frame` (the same resets, checks,
        evidence schedule, propagation and anticipation), for a model that
        reads the memory itself. FlowNet's flows are checked for NaN and
        infinities before returning (a host read;
        :meth:`online_memory_unchecked` leaves it to the caller).

        Args:
            image (Tensor): The frame (1, 3, H, W), normalised.
            data_sample (:obj:`DetDataSample`): Its sample; ``video_id`` and
                ``frame_id`` metainfo decide when ``state`` resets.
            state (MemoryState): The video's state, updated in place.

        Returns:
            Tensor: M_t (1, C, h, w). As in :meth:`predict_frame`, the
            state is detached: with gradients enabled only this frame's
            computation has a graph.

        Raises:
            ValueError: With ``test_cfg.propagate='boxes'``, whose frames
                between evidence frames have no memory output; and as
                :meth:`predict_frame`.
        """
        memory, pending = self.online_memory_unchecked(image, data_sample,
                                                       state)
        self.check_pending_flows(pending, state)
        return memory

    def online_memory_unchecked(
            self, image: Tensor, data_sample: DetDataSample,
            state: MemoryState) -> Tuple[Tensor, PendingFlowChecks]:
        """:meth:`online_memory` without its host read: the flows'
        finiteness is returned to check later.

        For a model that runs more work on the device after the memory
        step (the fast detector of :class:`StrongFeatureRFCN`, the other
        half of a split frame) and checks after it, with
        :meth:`check_pending_flows`, so that on CUDA the host does not
        wait for FlowNet before launching that work. Until the check, the
        memory may have been warped with flows whose non-finite values
        were set to 0.

        Args:
            image (Tensor): The frame (1, 3, H, W), normalised.
            data_sample (:obj:`DetDataSample`): Its sample.
            state (MemoryState): The video's state, updated in place.

        Returns:
            tuple: M_t (1, C, h, w) and the frame's
            :class:`PendingFlowChecks`.

        Raises:
            ValueError: As :meth:`online_memory`, but for non-finite flows.
        """
        if self.test_cfg['propagate'] == 'boxes':
            raise ValueError('online_memory needs test_cfg.propagate='
                             "'features': with 'boxes' the frames between "
                             'evidence frames have no memory')
        image, video_id, frame_id, img_shape, evidence = \
            self._start_online_step(image, data_sample, state)
        return self._online_memory_step(state, image, video_id, frame_id,
                                        img_shape, evidence)

    def check_pending_flows(self, pending: PendingFlowChecks,
                            state: MemoryState) -> None:
        """Make the checks :meth:`online_memory_unchecked` left pending.

        Args:
            pending (PendingFlowChecks): The frame's checks.
            state (MemoryState): The state its step advanced; reset before
                raising (:meth:`check_flows_were_finite`).

        Raises:
            ValueError: When a flow of the frame held NaN or infinities.
        """
        for count, flows in pending.checks:
            self.check_flows_were_finite(count, flows, state, pending.video_id,
                                         pending.frame_id)

    def _start_online_step(
            self, image: Tensor, data_sample: DetDataSample,
            state: MemoryState) -> Tuple[Tensor, Any, int, Tuple, bool]:
        """Check an online frame, reset ``state`` where it starts a
        sequence, and decide its image evidence.

        Args:
            image (Tensor): The frame (1, 3, H, W), normalised.
            data_sample (:obj:`DetDataSample`): Its sample.
            state (MemoryState): The video's state, reset in place when
                the frame starts a new video or follows a gap.

        Returns:
            tuple: The frame (its own copy when ``image`` is a view of a
            larger batch, see :func:`own_frame`), ``video_id``,
            ``frame_id``, its ``img_shape`` (H, W) and whether it takes
            image evidence (:meth:`takes_image_evidence`).
        """
        video_id, frame_id = self._check_online_frame(image, data_sample)
        image = own_frame(image)
        img_shape = self._start_online_frame(state, image, data_sample,
                                             video_id, frame_id)
        return (image, video_id, frame_id, img_shape,
                self.takes_image_evidence(state))

    def _online_memory_step(
            self, state: MemoryState, image: Tensor, video_id: Any,
            frame_id: int, img_shape: Tuple,
            evidence: bool) -> Tuple[Tensor, PendingFlowChecks]:
        """The memory step of an online frame, its flows' finiteness left
        to check.

        Args:
            state (MemoryState): The video's state, updated in place.
            image (Tensor): The frame (1, 3, H, W), normalised, its own
                copy.
            video_id (Hashable): Video of the frame.
            frame_id (int): Id of the frame.
            img_shape (tuple): Its (H, W) before padding.
            evidence (bool): Whether it takes image evidence.

        Returns:
            tuple: M_t (1, C, h, w), and the :class:`PendingFlowChecks`
            that :meth:`check_pending_flows` must make (the anchor flows,
            and the motion flows when anticipating).
        """
        flows, feature = self.online_flows_and_feature(state, image, frame_id,
                                                       evidence)
        flows, non_finite_count = self.zero_non_finite_flows(flows)
        memory = self.memory_step(
            state, image, feature, video_id, frame_id, flows=flows)
        flow_checks = [(non_finite_count, flows)]
        if self.test_cfg['chain_flows']:
            self.record_chained_flows(state, image, flows)
        if self.test_cfg['anticipate']:
            flow_checks.append(
                self.record_anticipation(state, image, flows, frame_id,
                                         evidence))
        state.detach_()
        state.img_shape = img_shape
        return memory, PendingFlowChecks(flow_checks, video_id, frame_id)

    def predict_by_box_propagation(self, image: Tensor,
                                   data_sample: DetDataSample,
                                   state: MemoryState, video_id: Any,
                                   frame_id: int) -> DetDataSample:
        """The last evidence frame's detections, moved to this frame.

        The box propagation baseline (``test_cfg.propagate='boxes'``): one
        FlowNet call from this frame to the evidence frame e, each box of
        e moved by minus the mean flow inside it
        (:func:`~memvid_mm.models.layers.propagate_boxes`), clipped to the
        image; scores and labels are e's. The memories stay at their
        anchors (:meth:`MemoryState.skip`).

        Args:
            image (Tensor): The frame (1, 3, H, W), normalised.
            data_sample (:obj:`DetDataSample`): Its sample, checked and
                in the state's video (:meth:`predict_frame`).
            state (MemoryState): The video's state, with
                ``evidence_boxes``; its frame bookkeeping advances.
            video_id (Hashable): Video of the frame.
            frame_id (int): Id of the frame.

        Returns:
            :obj:`DetDataSample`: ``data_sample`` with ``pred_instances``.
        """
        boxes = state.evidence_boxes
        if boxes is None:
            raise ValueError(f'video {video_id}: frame {frame_id}: no '
                             'detections of an evidence frame to propagate '
                             '(the state was written without '
                             "test_cfg.propagate='boxes')")
        flows, count = self.zero_non_finite_flows(
            {boxes.frame_id: self.motion(image, boxes.image)})
        state.skip(video_id, frame_id)
        data_sample.pred_instances = propagated_detections(
            boxes, flows[boxes.frame_id], data_sample)
        self.check_flows_were_finite(count, flows, state, video_id, frame_id)
        return data_sample

    def _check_online_frame(self, image: Tensor,
                            data_sample: DetDataSample) -> Tuple[Any, int]:
        """Check an online frame and return its ``(video_id, frame_id)``.

        Args:
            image (Tensor): The frame, expected (1, 3, H, W) of the
                weights' dtype.
            data_sample (:obj:`DetDataSample`): Its sample, with an int
                ``frame_id`` metainfo.

        Returns:
            tuple: ``video_id`` (None when absent) and ``frame_id``.
        """
        video_id = data_sample.metainfo.get('video_id')
        frame_id = data_sample.metainfo.get('frame_id')
        if image.dim() != 4 or image.shape[:2] != (1, 3):
            raise ValueError(
                f'video {video_id}: frame {frame_id}: online prediction '
                f'takes one frame (1, 3, H, W), got {tuple(image.shape)}')
        weight_dtype = next(self.parameters()).dtype
        if image.dtype != weight_dtype:
            raise TypeError(
                f'video {video_id}: frame {frame_id}: the frame is '
                f'{image.dtype}, the model\'s weights {weight_dtype}; pass '
                f'frames through the model\'s data_preprocessor')
        if frame_id is None:
            raise ValueError('online MemoryRFCN needs "frame_id" in the '
                             'frame metainfo (PackTrackInputs meta_keys)')
        if not is_int(frame_id):
            raise TypeError(f'video {video_id}: frame_id must be an int, got '
                            f'{frame_id!r} ({type(frame_id).__name__})')
        return video_id, frame_id

    def _start_online_frame(self, state: MemoryState, image: Tensor,
                            data_sample: DetDataSample, video_id: Any,
                            frame_id: int) -> Tuple[int, int]:
        """Reset ``state`` where the frame starts a sequence; check its size.

        Args:
            state (MemoryState): The video's state, reset in place when
                the frame starts a new video or follows a gap.
            image (Tensor): The frame (1, 3, H, W), padded.
            data_sample (:obj:`DetDataSample`): Its sample.
            video_id (Hashable): Video of the frame.
            frame_id (int): Id of the frame.

        Returns:
            tuple[int, int]: The frame's ``img_shape`` (H, W) before
            padding.
        """
        img_shape = self.check_frame_size(state, image, data_sample, video_id,
                                          frame_id)
        if state.needs_reset(video_id, frame_id):
            if state.is_out_of_order(video_id, frame_id) and \
                    video_id not in self.videos_restarted_midway:
                self._log_out_of_order(state, video_id, frame_id)
            state.reset()
        return img_shape

    @staticmethod
    def check_frame_size(state: MemoryState, image: Tensor,
                         data_sample: DetDataSample, video_id: Any,
                         frame_id: int) -> Tuple[int, int]:
        """Refuse a frame that continues a sequence at another size.

        Changes nothing: a frame that starts a sequence (a new video, frame
        0, a gap; ``state`` would reset) may have any size.

        Args:
            state (MemoryState): The video's state.
            image (Tensor): The frame (1, 3, H, W), padded.
            data_sample (:obj:`DetDataSample`): Its sample.
            video_id (Hashable): Video of the frame.
            frame_id (int): Id of the frame.

        Returns:
            tuple[int, int]: The frame's ``img_shape`` (H, W) before
            padding.

        Raises:
            ValueError: When the frame's ``img_shape`` or its padded size
                differs from the sequence's.
        """
        img_shape = tuple(
            data_sample.metainfo.get('img_shape', image.shape[-2:]))[:2]
        if state.is_empty or state.needs_reset(video_id, frame_id):
            return img_shape
        # img_shape (before padding) and the padded input: either may
        # change while the other stays (a small change of aspect ratio
        # pads to the same input)
        recorded = state.img_shape or img_shape
        padded = tuple(state.anchor_imgs[0].shape[-2:])
        if recorded != img_shape or padded != tuple(image.shape[-2:]):
            raise ValueError(
                f'video {video_id}: frame {frame_id} is {img_shape} '
                f'(H, W; padded to {tuple(image.shape[-2:])}) after '
                f'frames of {recorded} (padded to {padded}); the memory '
                f'can only be warped between frames of one size')
        return img_shape

    def takes_image_evidence(self, state: MemoryState) -> bool:
        """Whether online prediction gives the next frame image evidence.

        Args:
            state (MemoryState): The video's state before the frame.

        Returns:
            bool: True for the first frame of a memory and every
            ``test_cfg.evidence_interval``-th frame after it.
        """
        return (state.is_empty
                or state.frame_index % self.test_cfg['evidence_interval'] == 0)

    def online_flows_and_feature(
            self, state: MemoryState, image: Tensor, frame_id: int,
            evidence: bool) -> Tuple[Dict[Hashable, Tensor], Optional[Tensor]]:
        """The flows and F_t of the next online frame.

        Args:
            state (MemoryState): The video's state (not changed).
            image (Tensor): The frame (1, 3, H, W), normalised.
            frame_id (int): Its id.
            evidence (bool): Whether it takes image evidence
                (:meth:`takes_image_evidence` of ``state``).

        Returns:
            tuple: At an evidence frame, :meth:`flows_and_feature`. At
            another frame the flows to the memories' anchors and None for
            F_t (no backbone): FlowNet's (:meth:`anchor_flows`,
            propagation), or, when ``test_cfg.anticipate``, extrapolated
            ones (:meth:`extrapolated_flows`), for which ``image`` is not
            read.
        """
        if evidence:
            return self.flows_and_feature(state, image)
        if self.test_cfg['anticipate']:
            return self.extrapolated_flows(state, frame_id), None
        return self.anchor_flows(state, image), None

    def extrapolated_flows(self, state: MemoryState,
                           frame_id: int) -> Dict[Hashable, Tensor]:
        """Flows from an anticipated frame to the memories' anchor frames.

        Args:
            state (MemoryState): The video's state, holding the motion of
                the last evidence frame e (``evidence_motion``).
            frame_id (int): The anticipated frame t > e.

        Returns:
            dict: One (N, 2, H, W) flow per distinct anchor frame: the
            flow ``D_{t,e}`` extrapolated ``t - e`` frames with a constant
            acceleration, composed with FlowNet's ``D_{e,a}`` for a memory
            anchored before e.
        """
        motion = state.evidence_motion
        if motion is None:
            raise ValueError(f'frame {frame_id}: no motion of an evidence '
                             'frame to extrapolate (the state was written '
                             'without test_cfg.anticipate)')
        flow = extrapolate_flow(motion.velocity, motion.acceleration,
                                int(frame_id) - motion.frame_id)
        return extrapolated_anchor_flows(flow, motion.frame_id,
                                         motion.anchor_flows,
                                         state.anchor_frame_ids,
                                         self.image_grid(flow))

    def record_anticipation(
            self, state: MemoryState, image: Tensor,
            flows: Dict[Hashable, Tensor], frame_id: int,
            evidence: bool) -> Tuple[Optional[Tensor], Dict[Hashable, Tensor]]:
        """Keep what anticipation needs, after a frame's memory step.

        At an evidence frame e, FlowNet's ``D_{e,e-1}`` and
        ``D_{e-1,e-2}`` from the frames kept in ``state.recent_imgs`` give
        the velocity and acceleration (zeros where those frames are not
        in the state, as at the first frame), stored with the frame's
        flows to the older anchors as ``state.evidence_motion``. Every
        frame's image then joins ``recent_imgs`` (the last two are kept);
        an anticipated frame's image is read only by the next evidence
        frame, after it.

        Args:
            state (MemoryState): The video's state after the step.
            image (Tensor): The frame (1, 3, H, W), normalised.
            flows (dict): The frame's flows to the anchors before the step.
            frame_id (int): The frame's id.
            evidence (bool): Whether the frame took image evidence.

        Returns:
            tuple: The number of non-finite values FlowNet gave for the
            velocity flows (None when none were computed), and those
            flows, for :meth:`check_flows_were_finite`.
        """
        count, motion_flows = None, {}
        if evidence:
            recent = state.recent_imgs
            if recent:
                motion_flows['velocity'] = self.motion(image, recent[-1])
            if len(recent) > 1:
                motion_flows['previous'] = self.motion(recent[-1], recent[-2])
            motion_flows, count = self.zero_non_finite_flows(motion_flows)
            zeros = image.new_zeros((image.shape[0], 2) +
                                    tuple(image.shape[-2:]))
            velocity = motion_flows.get('velocity', zeros)
            acceleration = zeros
            if 'previous' in motion_flows:
                acceleration = flow_acceleration(velocity,
                                                 motion_flows['previous'],
                                                 self.image_grid(velocity))
            state.evidence_motion = EvidenceMotion(
                frame_id=int(frame_id),
                velocity=velocity,
                acceleration=acceleration,
                anchor_flows={
                    a: flows[a]
                    for a in set(state.anchor_frame_ids) if a != frame_id
                })
        state.recent_imgs = (state.recent_imgs + [image])[-2:]
        return count, motion_flows

    def _log_out_of_order(self, state: MemoryState, video_id: Any,
                          frame_id: int) -> None:
        """Warn, once per video, that the memory restarts mid-video."""
        if video_id == state.video_id:
            what = (f'video {video_id}: frame {frame_id} does not follow '
                    f'frame {state.last_frame_id}')
        else:
            what = (f'video {video_id}: frame {frame_id} follows frame '
                    f'{state.last_frame_id} of video {state.video_id}, not '
                    f'frame 0')
        print_log(
            f'{what}; the memory restarts from this frame. Memory models '
            f'need every frame of a video in order, from frame 0 (no '
            f'frame_interval, no interleaved videos; for several videos at '
            f'once keep one MemoryState per video); this is logged once '
            f'per video.',
            logger='current',
            level=logging.WARNING)
        self.videos_restarted_midway.add(video_id)

    def predict(self, inputs: Tensor,
                data_samples: TrackSampleList) -> TrackSampleList:
        """Online detection of frames served in video order.

        Frames are processed one by one, in the order given, with the state
        ``self.test_state`` that carries over between calls; the output of a
        frame never depends on a later frame.

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised frames; clip n's
                frames are taken in time order, the clips in batch order.
            data_samples (list[:obj:`TrackDataSample`]): N samples of T
                frames each, with ``video_id``, ``frame_id``,
                ``img_shape`` and ``scale_factor``.

        Returns:
            list[:obj:`TrackDataSample`]: ``data_samples``, each frame with
            ``pred_instances`` (``bboxes`` (R, 4) as (x1, y1, x2, y2) in
            the original image, ``scores`` (R,), ``labels`` (R,)).

        Raises:
            ValueError: When the frames of the batch differ in size. The
                data preprocessor pads them to a common size, so a frame's
                memory would depend on the frames batched with it (and on
                a later frame), and a video could change size between
                batches; online testing serves one frame per batch (val /
                test dataloader ``batch_size=1``).
        """
        return predict_frames_in_order(self, inputs, data_samples,
                                       self.test_state)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptTrackSampleList = None) -> tuple:
        """Raw head outputs at the last frame of clips (N, T, 3, H, W).

        Every frame keeps its evidence; the clocks run with the clips'
        ``clip_stride`` metainfo, as in :meth:`loss` (1 without it).
        ``data_samples`` is required (the RPN reads ``img_shape``); its
        default is ``BaseModel.forward``'s.

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised clips.
            data_samples (list[:obj:`TrackDataSample`]): N samples of T
                frames each.

        Returns:
            tuple: One item, the R-FCN head's raw ``(cls_score (R, K + 1),
            bbox_pred (R, 4))`` on the last frames' memories.
        """
        check_tensor_mode_samples(data_samples)
        last = inputs.shape[1] - 1
        memories = self.clip_memories(
            inputs, [True] * inputs.shape[1],
            self.clip_stride_of(data_samples, default=1), [last])
        _, samples = gather_frames(inputs, data_samples, [last])
        return self.detector._head_forward((memories[last], ), samples)
