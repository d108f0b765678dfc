# Copyright (c) memvid_mm contributors. All rights reserved.
from .flownet_simple import FlowNetSimple, multiscale_epe_loss

__all__ = ['FlowNetSimple', 'multiscale_epe_loss']
