# Copyright (c) memvid_mm contributors. All rights reserved.
"""Predicates shared by the argument checks of memvid_mm's modules."""
import math
import numbers
from typing import Any

import numpy as np


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer: a Python or a numpy int, not a bool.

    ``bool`` is a subclass of ``int``, so ``isinstance(True, int)`` holds:
    a setting given as ``True`` where a count is expected must be refused,
    not read as 1.

    Args:
        value (Any): The value to check.

    Returns:
        bool: True for an int or a numpy integer, False for anything else
        (a bool or a numpy bool among them).
    """
    return isinstance(
        value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number (bools are not).

    Args:
        value (Any): The value to check.

    Returns:
        bool: True for a finite int, float or numpy number, False for a
        bool, NaN, an infinity or anything else.
    """
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, numbers.Real) and math.isfinite(value)
