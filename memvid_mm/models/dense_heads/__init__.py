# Copyright (c) memvid_mm contributors. All rights reserved.
from .conv1x1_rpn_head import Conv1x1RPNHead

__all__ = ['Conv1x1RPNHead']
