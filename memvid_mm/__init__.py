# Copyright (c) memvid_mm contributors. All rights reserved.
"""memvid_mm: online memory-based video object detection for MMDetection 3.x.

Importing this package registers every component into MMDetection's
registries, so a config only needs::

    custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
"""
import mmcv
import mmdet
import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

_MMDET_MIN, _MMDET_MAX = digit_version('3.3.0'), digit_version('3.4.0')
if not _MMDET_MIN <= digit_version(mmdet.__version__) < _MMDET_MAX:
    raise ImportError(f'memvid_mm needs mmdet>=3.3.0,<3.4.0, but '
                      f'mmdet=={mmdet.__version__} is installed.')
if not digit_version('0.10.0') <= digit_version(mmengine.__version__):
    raise ImportError(f'memvid_mm needs mmengine>=0.10.0, but '
                      f'mmengine=={mmengine.__version__} is installed.')
if not digit_version('2.0.0') <= digit_version(mmcv.__version__) < \
        digit_version('2.2.0'):
    raise ImportError(f'memvid_mm needs mmcv>=2.0.0,<2.2.0, but '
                      f'mmcv=={mmcv.__version__} is installed.')

# yapf: disable
from . import (apis, datasets, engine, evaluation, models,  # noqa: E402,F401
               ops, utils)

# yapf: enable

__all__ = ['__version__', 'version_info']
