# Copyright (c) memvid_mm contributors. All rights reserved.
"""The RoI checks both PS RoI ops make (``check_roi_values``)."""
import pytest
import torch

from memvid_mm.ops import ps_roi_align, ps_roi_pool


@pytest.mark.parametrize('op', [ps_roi_align, ps_roi_pool])
@pytest.mark.parametrize('value', [float('nan'), float('inf'), -float('inf')])
@pytest.mark.parametrize('column', [0, 1, 3])
def test_non_finite_boxes_raise(op, value, column):
    """A NaN or infinite coordinate or batch index is refused, not pooled
    as zeros or as cells the box does not cover."""
    x = torch.randn(1, 9, 5, 5)
    rois = torch.tensor([[0., 0., 0., 3., 3.], [0., 1., 1., 4., 4.]])
    rois[1, column] = value
    with pytest.raises(ValueError, match='NaN or infinite'):
        op(x, rois, 3)
    if column:  # the list form has no batch index column
        with pytest.raises(ValueError, match='NaN or infinite'):
            op(x, [rois[:, 1:]], 3)
