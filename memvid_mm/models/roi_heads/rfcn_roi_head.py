# Copyright (c) memvid_mm contributors. All rights reserved.
"""R-FCN RoI head: StandardRoIHead without a RoI extractor, optional OHEM.

Shape shorthand: B images, C_in feature channels, H/W feature map size,
R RoIs (all images), C classes, D box code size.
"""
from typing import List, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig
from mmengine.structures import InstanceData
from torch import Tensor

from ...utils.argument_checks import is_int
from .bbox_heads import single_feature_map


def select_hard_examples(roi_losses: Tensor, batch_inds: Tensor,
                         num_per_img: int) -> Tensor:
    """Indices of the ``num_per_img`` highest-loss RoIs of every image.

    Args:
        roi_losses (Tensor): ``(R,)`` loss of every RoI.
        batch_inds (Tensor): ``(R,)`` long image index of every RoI.
        num_per_img (int): RoIs kept per image (all when fewer).

    Returns:
        Tensor: ``(R',)`` long indices into the RoIs, in increasing order.
    """
    by_loss = torch.argsort(roi_losses, descending=True, stable=True)
    by_img = by_loss[torch.argsort(batch_inds[by_loss], stable=True)]
    img_of = batch_inds[by_img]  # image of each sorted RoI, non-decreasing
    counts = torch.bincount(img_of, minlength=1)
    first = torch.cumsum(counts, 0) - counts  # [num_images]
    rank = torch.arange(img_of.numel(), device=img_of.device) - first[img_of]
    return torch.sort(by_img[rank < num_per_img]).values


@MODELS.register_module()
class RFCNRoIHead(StandardRoIHead):
    """R-FCN RoI head on one feature map (mmdet ``TwoStageDetector``).

    The bbox head (:class:`RFCNBBoxHead`) computes its position-sensitive
    score maps once per image and PS-pools them itself, so there is no
    ``bbox_roi_extractor``. RoI assignment and sampling, prediction and
    ``_forward`` are :class:`StandardRoIHead`'s.

    Online hard example mining as in R-FCN: with ``train_cfg.ohem =
    dict(num=128)`` all sampled RoIs (e.g. the 300 proposals: use a
    sampler that keeps them all) are scored, and only the ``num`` of each
    image with the highest classification + box loss enter the loss.
    mmdet's ``OHEMSampler`` (cls loss only, fixed positive fraction) also
    works with this head as ``train_cfg.sampler``.

    Args:
        bbox_head (dict): :class:`RFCNBBoxHead` config.
        train_cfg (dict, optional): ``assigner``, ``sampler``,
            ``pos_weight`` and optional ``ohem=dict(num=int)``.
        test_cfg (dict, optional): ``score_thr``, ``nms``, ``max_per_img``.
        bbox_roi_extractor (dict, optional): Must be None; accepted only to
            give a clear error for configs written for StandardRoIHead.
        init_cfg (dict | list[dict], optional): Initialization config.
    """

    def __init__(self,
                 bbox_head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 bbox_roi_extractor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        if bbox_roi_extractor is not None:
            raise ValueError('RFCNRoIHead pools inside its bbox_head: '
                             'bbox_roi_extractor must be None')
        super().__init__(
            bbox_head=bbox_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            init_cfg=init_cfg)
        self._check_ohem_has_a_choice()

    def _check_ohem_has_a_choice(self) -> None:
        """Refuse OHEM that keeps every RoI its sampler gives it.

        Raises:
            ValueError: When ``train_cfg.ohem.num`` is at least the
                sampler's ``num``: OHEM would then change nothing.
        """
        sampler = (self.train_cfg or {}).get('sampler') or {}
        sampled = sampler.get('num') if isinstance(sampler, dict) else None
        if self.ohem_num and sampled is not None and \
                self.ohem_num >= sampled:
            raise ValueError(
                f'train_cfg.ohem.num ({self.ohem_num}) keeps every one of '
                f'the {sampled} RoIs the sampler gives it, so OHEM would '
                'change nothing: let the sampler keep every proposal (e.g. '
                'sampler=dict(num=512, pos_fraction=1.0) for 300 '
                'proposals), as R-FCN scores all of them')

    def init_bbox_head(self, bbox_roi_extractor: OptConfigType,
                       bbox_head: ConfigType) -> None:
        """Build the bbox head; there is no RoI extractor.

        Args:
            bbox_roi_extractor (dict, optional): Not used (the constructor
                has refused one that is not None);
                ``self.bbox_roi_extractor`` is set to None.
            bbox_head (dict): :class:`RFCNBBoxHead` config.
        """
        self.bbox_roi_extractor = None
        self.bbox_head = MODELS.build(bbox_head)

    @property
    def ohem_num(self) -> int:
        """int: RoIs kept per image by OHEM, 0 when OHEM is off."""
        ohem = self.train_cfg.get('ohem') if self.train_cfg else None
        if not ohem:
            return 0
        if not isinstance(ohem, dict):
            # an AttributeError here would read as a missing ohem_num
            raise ValueError('train_cfg.ohem must be a dict such as '
                             f'dict(num=128), got {ohem!r:.100}')
        num = ohem.get('num')
        if not is_int(num) or num < 1:
            raise ValueError('train_cfg.ohem.num must be a positive int, '
                             f'got {num!r}')
        return num

    def _bbox_forward(self, x: Tuple[Tensor], rois: Tensor) -> dict:
        """Score RoIs.

        Args:
            x (tuple[Tensor]): The one ``(B, C_in, H, W)`` map, as a 1-tuple
                (a tensor is accepted too).
            rois (Tensor): ``(R, 5)`` ``[batch_idx, x1, y1, x2, y2]``.

        Returns:
            dict[str, Tensor]: ``cls_score (R, C+1)``, ``bbox_pred (R, D)``.
        """
        cls_score, bbox_pred = self.bbox_head(x, rois)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred)

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """Assign and sample proposals, then compute the box head losses.

        Unlike :meth:`StandardRoIHead.loss`, the proposals in
        ``rpn_results_list`` are left unchanged.

        Args:
            x (Tensor | tuple[Tensor]): The one ``(B, C_in, H, W)`` map, or
                a 1-tuple of it (a neck output).
            rpn_results_list (list[InstanceData]): Proposals (``bboxes``)
                of every image.
            batch_data_samples (list[DetDataSample]): With ``gt_instances``.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``acc``, ``loss_bbox``.
        """
        if len(rpn_results_list) != len(batch_data_samples):
            raise ValueError('rpn_results_list and batch_data_samples '
                             'must have the same length')
        feat = single_feature_map(x, self.bbox_head.in_channels)
        gts, gts_ignore, _ = unpack_gt_instances(batch_data_samples)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            priors = InstanceData(priors=rpn_results.bboxes)
            assign_result = self.bbox_assigner.assign(priors, gts[i],
                                                      gts_ignore[i])
            sampling_results.append(
                self.bbox_sampler.sample(
                    assign_result, priors, gts[i], feats=[feat[i][None]]))
        return self.bbox_loss((feat, ), sampling_results)['loss_bbox']

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """Box head forward and losses, on the hardest RoIs under OHEM.

        Args:
            x (tuple[Tensor]): The one ``(B, C_in, H, W)`` map, as a 1-tuple.
            sampling_results (list[SamplingResult]): Sampled RoIs.

        Returns:
            dict: ``cls_score (R, C+1)``, ``bbox_pred (R, D)``, ``rois
            (R, 5)``, ``loss_bbox`` (dict of losses) and ``keep`` (indices
            of the RoIs in the loss, all of them without OHEM).
        """
        rois = bbox2roi([res.priors for res in sampling_results])
        results = self._bbox_forward(x, rois)
        targets = self.bbox_head.get_targets(sampling_results, self.train_cfg)
        keep = torch.arange(rois.size(0), device=rois.device)
        if self.ohem_num > 0:
            with torch.no_grad():
                roi_losses = self.bbox_head.roi_losses(results['cls_score'],
                                                       results['bbox_pred'],
                                                       *targets)
            keep = select_hard_examples(roi_losses, rois[:, 0].long(),
                                        self.ohem_num)
        losses = self.bbox_head.loss(results['cls_score'][keep],
                                     results['bbox_pred'][keep], rois[keep],
                                     *(t[keep] for t in targets))
        results.update(rois=rois, loss_bbox=losses, keep=keep)
        return results
