# Copyright (c) memvid_mm contributors. All rights reserved.
"""Explicit per-video state of the MemNet / ClockNet memories.

Shape shorthand: N batch (one video stream per row), C channels, h/w
feature map size, H/W image size, K number of memories.
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor


@dataclass
class EvidenceMotion:
    """The motion at the last frame with image evidence, for anticipation.

    Written at every evidence frame e when ``MemoryRFCN`` anticipates
    (``test_cfg.anticipate``), and read at the frames after it, whose flows
    are extrapolated from it instead of computed from their images
    (:mod:`~memvid_mm.models.layers.flow_extrapolation`).

    Attributes:
        frame_id (int): e.
        velocity (Tensor): ``(N, 2, H, W)`` flow ``D_{e,e-1}`` (zeros when
            frame e-1 is not in the state).
        acceleration (Tensor): ``(N, 2, H, W)`` its acceleration (zeros
            when frame e-2 is not in the state).
        anchor_flows (dict[int, Tensor]): ``{a: D_{e,a}}``, FlowNet's flow
            from frame e to each memory anchor a other than e.
    """

    frame_id: int
    velocity: Tensor
    acceleration: Tensor
    anchor_flows: Dict[int, Tensor] = field(default_factory=dict)

    def map_tensors(self, fn: Callable[[Tensor], Tensor]) -> 'EvidenceMotion':
        """Return a copy whose tensors are ``fn(tensor)``.

        Args:
            fn (Callable[[Tensor], Tensor]): Applied to ``velocity``,
                ``acceleration`` and each of ``anchor_flows``.

        Returns:
            EvidenceMotion: The copy, with the same ``frame_id``; ``self``
            is unchanged.
        """
        return EvidenceMotion(
            frame_id=self.frame_id,
            velocity=fn(self.velocity),
            acceleration=fn(self.acceleration),
            anchor_flows={a: fn(f)
                          for a, f in self.anchor_flows.items()})


@dataclass
class EvidenceBoxes:
    """The detections of the last frame with image evidence, for the box
    propagation baseline (``test_cfg.propagate='boxes'``).

    Attributes:
        frame_id (int): The evidence frame e.
        image (Tensor): ``(N, 3, H, W)`` its (normalised) image, to compute
            the flow from a later frame to it.
        bboxes (Tensor): ``(n, 4)`` its boxes in the network input's
            pixels (the flow's), before rescaling to the original image.
        scores (Tensor): ``(n, )`` their scores.
        labels (Tensor): ``(n, )`` their labels.
    """

    frame_id: int
    image: Tensor
    bboxes: Tensor
    scores: Tensor
    labels: Tensor

    def map_tensors(self, fn: Callable[[Tensor], Tensor]) -> 'EvidenceBoxes':
        """Return a copy whose tensors are ``fn(tensor)``.

        Args:
            fn (Callable[[Tensor], Tensor]): Applied to ``image``,
                ``bboxes``, ``scores`` and ``labels``.

        Returns:
            EvidenceBoxes: The copy, with the same ``frame_id``; ``self``
            is unchanged.
        """
        return EvidenceBoxes(
            frame_id=self.frame_id,
            image=fn(self.image),
            bboxes=fn(self.bboxes),
            scores=fn(self.scores),
            labels=fn(self.labels))


@dataclass
class MemoryState:
    """The memories of one video stream, owned by the caller.

    The detector (or a streaming API) keeps one such object per video and
    hands it in and out, so several videos can be processed at once. Nothing
    in it is created lazily: an empty state has ``frame_index == 0`` and
    empty lists.

    Typical per-frame use::

        if state.needs_reset(video_id, frame_id):
            state.reset()
        if state.is_empty:                 # first frame: M^k = F for all k
            ...
        else:                              # warp memory k from its anchor
            ...                            # frame state.anchor_imgs[k]
        state.write(memories, anchor_imgs, anchor_frame_ids,
                    video_id, frame_id)

    Attributes:
        video_id (int | str | None): Video the memories belong to; None when
            empty.
        last_frame_id (int | None): ``frame_id`` of the last frame written.
        frame_index (int): Number of frames written since the last reset
            (0 when empty). It is the ``frame_index`` of the *next* frame
            in the ClockNet schedule.
        memories (list[Tensor]): K tensors ``(N, C, h, w)``; memory k is
            aligned to (expressed in the coordinates of) its anchor frame.
        anchor_imgs (list[Tensor]): K tensors ``(N, 3, H, W)``, the
            (normalised) image of memory k's anchor frame, used to estimate
            the flow from the current frame to the anchor.
        anchor_frame_ids (list[int]): ``frame_id`` of each memory's anchor
            frame (the last frame at which it took image evidence).
        img_shape (tuple[int, int] | None): ``(H, W)`` of the frames before
            the batch padding (their ``img_shape`` metainfo), recorded by
            online prediction, which refuses a frame of another size even
            when padding hides it; None when empty or not recorded.
        recent_imgs (list[Tensor]): Up to the two last frames' images
            ``(N, 3, H, W)``, oldest first, kept by online prediction only
            when it anticipates, for the motion of the next evidence frame;
            empty otherwise.
        evidence_motion (EvidenceMotion | None): The motion at the last
            evidence frame when anticipating; None otherwise.
        evidence_boxes (EvidenceBoxes | None): The detections of the last
            evidence frame when propagating boxes; None otherwise.
        previous_img (Tensor | None): ``(N, 3, H, W)`` the last frame's
            image, kept by online prediction only when it chains flows
            (``test_cfg.chain_flows``); None otherwise.
        previous_flows (dict[int, Tensor]): ``{a: D_{t-1,a}}``, the flows
            ``(N, 2, H, W)`` from the last frame t-1 to the anchors of the
            memories it warped, kept with ``previous_img``; empty
            otherwise.
        previous_frame_id (int | None): ``frame_id`` of the frame whose
            image and flows ``previous_img`` and ``previous_flows`` are;
            None when they are not kept.
    """

    video_id: Optional[Union[int, str]] = None
    last_frame_id: Optional[int] = None
    frame_index: int = 0
    memories: List[Tensor] = field(default_factory=list)
    anchor_imgs: List[Tensor] = field(default_factory=list)
    anchor_frame_ids: List[int] = field(default_factory=list)
    img_shape: Optional[Tuple[int, int]] = None
    recent_imgs: List[Tensor] = field(default_factory=list)
    evidence_motion: Optional[EvidenceMotion] = None
    evidence_boxes: Optional[EvidenceBoxes] = None
    previous_img: Optional[Tensor] = None
    previous_flows: Dict[int, Tensor] = field(default_factory=dict)
    previous_frame_id: Optional[int] = None

    @property
    def is_empty(self) -> bool:
        """bool: True when no frame has been written since the reset."""
        return len(self.memories) == 0

    @property
    def num_memories(self) -> int:
        """int: Number K of stored memories (0 when empty)."""
        return len(self.memories)

    def reset(self) -> None:
        """Forget everything (in place)."""
        self.video_id = None
        self.last_frame_id = None
        self.frame_index = 0
        self.memories = []
        self.anchor_imgs = []
        self.anchor_frame_ids = []
        self.img_shape = None
        self.recent_imgs = []
        self.evidence_motion = None
        self.evidence_boxes = None
        self.previous_img = None
        self.previous_flows = {}
        self.previous_frame_id = None

    def needs_reset(self, video_id: Any, frame_id: int) -> bool:
        """Whether the frame ``(video_id, frame_id)`` starts a new sequence.

        Args:
            video_id (int | str): Video of the incoming frame.
            frame_id (int): Index of the incoming frame in its video.

        Returns:
            bool: True when the state is empty, the video changed,
            ``frame_id == 0`` or ``frame_id`` does not follow the last
            written frame (``frame_id != last_frame_id + 1``).
        """
        return (self._starts_video(video_id, frame_id)
                or self.is_frame_gap(video_id, frame_id))

    def _starts_video(self, video_id: Any, frame_id: int) -> bool:
        """Whether the frame begins a video the state does not hold."""
        return (self.is_empty or video_id != self.video_id or frame_id == 0
                or self.last_frame_id is None)

    def is_frame_gap(self, video_id: Any, frame_id: int) -> bool:
        """Whether ``frame_id`` skips frames of the video being tracked.

        Args:
            video_id (int | str): Video of the incoming frame.
            frame_id (int): Index of the incoming frame in its video.

        Returns:
            bool: True when the state holds frames of ``video_id`` and
            ``frame_id`` is neither 0 nor ``last_frame_id + 1`` (a reset
            that is not the start of a video).
        """
        return (not self._starts_video(video_id, frame_id)
                and frame_id != self.last_frame_id + 1)

    def is_out_of_order(self, video_id: Any, frame_id: int) -> bool:
        """Whether the frame breaks the order of a stream of whole videos.

        In order, a frame is either the next frame of the video the state
        holds or frame 0 of a video. Anything else resets the memory in the
        middle of a video: a gap in the video (:meth:`is_frame_gap`), or a
        frame of another video that is not its first (interleaved videos,
        or a video that does not start at frame 0).

        Args:
            video_id (int | str): Video of the incoming frame.
            frame_id (int): Index of the incoming frame in its video.

        Returns:
            bool: True when the state holds frames and the incoming frame
            is neither frame 0 nor the frame after ``last_frame_id`` of
            the same video.
        """
        return (not self.is_empty and frame_id != 0
                and (video_id != self.video_id
                     or frame_id != self.last_frame_id + 1))

    def write(self, memories: Sequence[Tensor], anchor_imgs: Sequence[Tensor],
              anchor_frame_ids: Sequence[int], video_id: Any,
              frame_id: int) -> None:
        """Store the memories after processing frame ``frame_id``.

        Replaces the K memories/anchors, records ``video_id`` and
        ``frame_id`` as the last frame and increments ``frame_index``.

        Args:
            memories (Sequence[Tensor]): K tensors ``(N, C, h, w)``.
            anchor_imgs (Sequence[Tensor]): K tensors ``(N, 3, H, W)``.
            anchor_frame_ids (Sequence[int]): K anchor frame ids.
            video_id (int | str): Video of the frame just processed.
            frame_id (int): Id of the frame just processed.
        """
        k = len(memories)
        if k == 0:
            raise ValueError('MemoryState.write needs at least one memory')
        if len(anchor_imgs) != k or len(anchor_frame_ids) != k:
            raise ValueError(
                'memories, anchor_imgs and anchor_frame_ids must have the '
                f'same length, got {k}, {len(anchor_imgs)} and '
                f'{len(anchor_frame_ids)}')
        if not self.is_empty and k != self.num_memories:
            raise ValueError(f'MemoryState holds {self.num_memories} '
                             f'memories, cannot write {k}')
        self.memories = list(memories)
        self.anchor_imgs = list(anchor_imgs)
        self.anchor_frame_ids = [int(i) for i in anchor_frame_ids]
        self.video_id = video_id
        self.last_frame_id = int(frame_id)
        self.frame_index += 1

    def skip(self, video_id: Any, frame_id: int) -> None:
        """Pass over a frame whose memory output is not needed.

        A frame without image evidence leaves every memory at its anchor
        (only its output is warped to the frame), so passing over it
        changes nothing but the frame bookkeeping: ``last_frame_id`` and
        ``frame_index`` advance as :meth:`write` advances them, and the
        next frame follows without a reset.

        Args:
            video_id (int | str): Video of the frame, the state's.
            frame_id (int): Id of the frame, the one after the last.
        """
        if self.is_empty or video_id != self.video_id or \
                frame_id != self.last_frame_id + 1:
            raise ValueError(
                f'video {video_id}: frame {frame_id} cannot be skipped: '
                f'the state holds video {self.video_id} up to frame '
                f'{self.last_frame_id}')
        self.last_frame_id = int(frame_id)
        self.frame_index += 1

    def _map_tensors(self, fn: Callable[[Tensor], Tensor]) -> 'MemoryState':
        """Return a copy whose tensors are ``fn(tensor)``."""
        return MemoryState(
            video_id=self.video_id,
            last_frame_id=self.last_frame_id,
            frame_index=self.frame_index,
            memories=[fn(m) for m in self.memories],
            anchor_imgs=[fn(i) for i in self.anchor_imgs],
            anchor_frame_ids=list(self.anchor_frame_ids),
            img_shape=self.img_shape,
            recent_imgs=[fn(i) for i in self.recent_imgs],
            evidence_motion=(None if self.evidence_motion is None else
                             self.evidence_motion.map_tensors(fn)),
            evidence_boxes=(None if self.evidence_boxes is None else
                            self.evidence_boxes.map_tensors(fn)),
            previous_img=(None if self.previous_img is None else fn(
                self.previous_img)),
            previous_flows={a: fn(f)
                            for a, f in self.previous_flows.items()},
            previous_frame_id=self.previous_frame_id)

    def detach(self) -> 'MemoryState':
        """Return a copy whose tensors are detached from the graph.

        Like ``Tensor.detach`` it does not modify ``self``; use
        ``state = state.detach()`` to cut back-propagation through time.

        Returns:
            MemoryState: The copy; its tensors share storage with
            ``self``'s.
        """
        return self._map_tensors(lambda t: t.detach())

    def detach_(self) -> None:
        """Detach the stored tensors from the autograd graph, in place.

        Online prediction calls it after every frame, so that a state
        written with gradients enabled holds no graph of earlier frames.
        """
        self.memories = [m.detach() for m in self.memories]
        self.anchor_imgs = [i.detach() for i in self.anchor_imgs]
        self.recent_imgs = [i.detach() for i in self.recent_imgs]
        if self.evidence_motion is not None:
            self.evidence_motion = self.evidence_motion.map_tensors(
                lambda t: t.detach())
        if self.evidence_boxes is not None:
            self.evidence_boxes = self.evidence_boxes.map_tensors(
                lambda t: t.detach())
        if self.previous_img is not None:
            self.previous_img = self.previous_img.detach()
        self.previous_flows = {
            a: f.detach()
            for a, f in self.previous_flows.items()
        }

    def to(self, device: Union[str, torch.device]) -> 'MemoryState':
        """Return a copy whose tensors live on ``device``.

        Like ``Tensor.to`` it does not modify ``self``.

        Args:
            device (str | torch.device): Target device.

        Returns:
            MemoryState: The moved copy.
        """
        return self._map_tensors(lambda t: t.to(device))
