# Copyright (c) memvid_mm contributors. All rights reserved.
import numpy as np
import pytest
import torch

from memvid_mm.utils.argument_checks import is_int


@pytest.mark.parametrize('value', [0, 3, -2, np.int64(4), np.uint8(1)])
def test_ints_and_numpy_ints_are_ints(value):
    assert is_int(value)


@pytest.mark.parametrize('value', [
    True, False,
    np.bool_(True), 2.0, '3', None, (1, ),
    torch.tensor(3),
    np.array(3)
])
def test_bools_floats_and_containers_are_not(value):
    """A bool is an int to Python, not a count; a 0-d array or tensor is
    not taken for its value."""
    assert not is_int(value)
