# Copyright (c) memvid_mm contributors. All rights reserved.
"""A per-frame baseline: an image detector applied to every frame.

Shape shorthand in this module: N clips in a batch, T frames per clip
(axis 1 of the inputs is time, in time order, the key frame last), 3 RGB
channels, H/W input image size, C feature channels, h/w feature map size.
"""
from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, OptTrackSampleList, TrackSampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from .clip_utils import (check_clip_inputs, check_key_frame_last,
                         gather_frames, loss_frame_indices)
from .detector_keys import (check_detector_pretrained,
                            refuse_foreign_state_dict,
                            refuse_video_detector_state_dict)
from .rfcn import check_tensor_mode_samples
from .split_halves import (check_split_halves, detect_split_frame,
                           split_frame_halves)


@MODELS.register_module()
class PerFrameVideoDetector(BaseDetector):
    """Run any MMDetection image detector frame by frame on video data.

    This is the baseline without temporal information (the paper's per-frame
    R-FCN, mmtrack's Faster R-CNN baseline). It takes the video data flow of
    MMDetection 3.3 (``PackTrackInputs`` + ``TrackDataPreprocessor``), so the
    same datasets, samplers and VID metrics serve baselines and memory
    models.

    Args:
        detector (dict): Config of the image detector (e.g. ``FasterRCNN``,
            ``RFCN``), built with its own ``train_cfg`` / ``test_cfg``.
        loss_frames (str): Frames of a training clip that get a loss:
            ``'last'`` (the key frame) or ``'all'``. Defaults to ``'last'``.
        test_cfg (dict, optional): ``split_halves`` (bool, default False):
            the paper's "(split)" baseline of Table 3, each frame's left
            and right halves detected apart and their detections merged
            before NMS (:mod:`~memvid_mm.models.detectors.split_halves`;
            a two-stage image detector). The image detector's own
            ``test_cfg`` sets its RPN / RoI head behaviour.
        data_preprocessor (dict, optional): Usually
            ``TrackDataPreprocessor``. Defaults to None.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None.

    Inputs are (N, T, 3, H, W); ``predict`` fills ``pred_instances`` of
    every frame's :obj:`DetDataSample` (boxes in the original image).
    """

    def __init__(self,
                 detector: ConfigType,
                 loss_frames: str = 'last',
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        loss_frame_indices(1, loss_frames)  # validates the choice
        test_cfg = dict(test_cfg or {})
        self.split_halves = check_split_halves(
            test_cfg.pop('split_halves', False))
        if test_cfg:
            raise ValueError(f'unknown PerFrameVideoDetector test_cfg keys: '
                             f'{sorted(test_cfg)}')
        self.detector = MODELS.build(detector)
        if self.split_halves and not (hasattr(self.detector, 'rpn_head')
                                      and hasattr(self.detector, 'roi_head')):
            raise ValueError(
                f'test_cfg.split_halves=True merges the halves\' detections '
                f'before the RoI head\'s NMS: it needs a two-stage detector '
                f'(rpn_head and roi_head), got '
                f'{type(self.detector).__name__}')
        self.register_load_state_dict_pre_hook(refuse_foreign_state_dict)
        self.detector.register_load_state_dict_pre_hook(
            refuse_video_detector_state_dict)
        self.loss_frames = loss_frames

    def init_weights(self) -> None:
        """Initialise as mmengine does, then check that the image
        detector's ``init_cfg`` checkpoint, if any, fitted it exactly
        (:func:`check_detector_pretrained`)."""
        super().init_weights()
        check_detector_pretrained(self)

    def extract_feat(self, inputs: Tensor) -> tuple:
        """Per-frame features of every frame of (N, T, 3, H, W) clips.

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised clips; axis 1 is
                time, T frames per clip.

        Returns:
            tuple[Tensor]: The image detector's features, each
            (N * T, C, h, w), batch in clip-major order (clip 0's T frames
            first).
        """
        images = inputs.flatten(0, 1)  # [N*T, 3, H, W]
        return self.detector.extract_feat(images)

    def loss(self, inputs: Tensor, data_samples: TrackSampleList) -> dict:
        """Detection losses of the loss frames of N clips (N, T, 3, H, W).

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised clips; axis 1 is
                time, T frames per clip.
            data_samples (Sequence[:obj:`TrackDataSample`]): N samples, each
                holding the T frames' :obj:`DetDataSample` with
                ``gt_instances``.

        Returns:
            dict[str, Tensor]: The image detector's losses over the loss
            frames (the last frame of each clip, or all T frames, as
            ``loss_frames`` says), batched clip-major.
        """
        check_clip_inputs(inputs, data_samples)
        check_key_frame_last(data_samples)
        frame_inds = loss_frame_indices(inputs.shape[1], self.loss_frames)
        images, samples = gather_frames(inputs, data_samples, frame_inds)
        return self.detector.loss(images, samples)

    def predict(self, inputs: Tensor,
                data_samples: TrackSampleList) -> TrackSampleList:
        """Detect objects in every frame of (N, T, 3, H, W).

        Args:
            inputs (Tensor): (N, T, 3, H, W) normalised clips; axis 1 is
                time, T frames per clip.
            data_samples (Sequence[:obj:`TrackDataSample`]): N samples, each
                holding the T frames' :obj:`DetDataSample` with metainfo.

        Returns:
            Sequence[:obj:`TrackDataSample`]: ``data_samples`` itself, every
            frame's :obj:`DetDataSample` given ``pred_instances``
            (``bboxes`` (R, 4) in the original image, ``scores`` (R,),
            ``labels`` (R,)).
        """
        check_clip_inputs(inputs, data_samples)
        frame_inds = range(inputs.shape[1])
        images, samples = gather_frames(inputs, data_samples, frame_inds)
        if self.split_halves:
            for index, sample in enumerate(samples):
                self.predict_frame_in_halves(images[index:index + 1], sample)
        else:
            self.detector.predict(images, samples, rescale=True)
        return data_samples

    def predict_frame_in_halves(self, image: Tensor,
                                data_sample: DetDataSample) -> DetDataSample:
        """Detect objects in a frame's left and right halves apart, then
        merge their detections before NMS (``test_cfg.split_halves``).

        Args:
            image (Tensor): The frame (1, 3, H, W), normalised.
            data_sample (:obj:`DetDataSample`): Its sample.

        Returns:
            :obj:`DetDataSample`: ``data_sample`` with ``pred_instances``
            (``bboxes`` (R, 4) in the original image, ``scores`` (R,),
            ``labels`` (R,)).
        """
        halves = split_frame_halves(
            image, data_sample,
            getattr(self.data_preprocessor, 'pad_size_divisor', 1))
        return detect_split_frame(
            self.detector, halves,
            [self.detector.extract_feat(half.image)
             for half in halves], data_sample)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptTrackSampleList = None) -> tuple:
        """Raw outputs of the image detector for every frame."""
        num_frames = inputs.shape[1]
        images = inputs.flatten(0, 1)  # [N*T, 3, H, W]
        if getattr(self.detector, 'with_rpn', False):
            check_tensor_mode_samples(data_samples)  # two-stage: img_shape
        samples = None
        if data_samples is not None:
            _, samples = gather_frames(inputs, data_samples, range(num_frames))
        return self.detector._forward(images, samples)
