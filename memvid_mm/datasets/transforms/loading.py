# Copyright (c) memvid_mm contributors. All rights reserved.
"""Frame loading that checks the image against its annotation."""
import warnings
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmdet.registry import TRANSFORMS

#: mmcv's decoding flag for the stored pixels, not turned by the EXIF
#: orientation tag: the pixels the annotations' boxes are in, as the model
#: reads them (LoadVIDFrame) and as the demo and the visualizer draw them.
STORED_PIXELS = 'color_ignore_orientation'


def frame_name(results: dict) -> str:
    """``'<img_path> (video V, frame F)'`` for error messages.

    Args:
        results (dict): The pipeline's results; ``img_path`` is required,
            ``video_id`` and ``frame_id`` are named when present.

    Returns:
        str: The image path, followed by the video and frame in
        parentheses when the results have them.
    """
    where = [
        f'{label} {results[key]!r}'
        for key, label in (('video_id', 'video'), ('frame_id', 'frame'))
        if key in results
    ]
    suffix = f" ({', '.join(where)})" if where else ''
    return f"{results['img_path']}{suffix}"


@TRANSFORMS.register_module()
class LoadVIDFrame(LoadImageFromFile):
    """Load a frame like mmcv's ``LoadImageFromFile`` and check its size.

    The boxes of a CocoVID file, and the detections the evaluation
    compares with them, are in the pixels of the annotation's ``width`` x
    ``height``. An image file of another size (resized, or swapped for
    another file) would move every box without an error, so a frame whose
    decoded ``(H, W)`` differs from ``(height, width)`` raises. Results
    without ``width`` and ``height`` are loaded unchecked. A missing file
    raises a ``FileNotFoundError``, one that cannot be read or decoded an
    ``OSError``, each naming the frame (OpenCV's own error for an empty
    file names nothing). With ``ignore_empty=True`` a frame that cannot be
    loaded (missing, unreadable or undecodable) gives None and a warning
    that names it. mmcv's
    ``TransformBroadcaster`` cannot leave one frame out of a clip and
    stops with a ``ValueError`` that names no frame, so the warning is the
    message that says which frame it was.

    Unlike ``LoadImageFromFile`` it decodes the stored pixels as they are
    and does not turn the image by its EXIF orientation tag
    (``color_type='color_ignore_orientation'``), as the converters'
    ``read_image_size`` reads them: the annotation's sizes and boxes are
    taken to be in the stored pixels, and a turned image would move every
    box, by 180 degrees without changing the size the check compares.

    Args:
        color_type (str): mmcv's decoding flag. Defaults to
            ``'color_ignore_orientation'``; ``'color'`` applies the EXIF
            orientation as mmcv and mmtrack do.
        **kwargs: ``LoadImageFromFile``'s other arguments (``to_float32``,
            ``imdecode_backend``, ``ignore_empty``, ``backend_args``).

    Required Keys:
        - img_path
        - height, width (optional; checked when present)

    Modified Keys:
        - img
        - img_shape
        - ori_shape
    """

    def __init__(self, color_type: str = STORED_PIXELS, **kwargs) -> None:
        super().__init__(color_type=color_type, **kwargs)

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']`` and check its size.

        Args:
            results (dict): One frame's data info.

        Returns:
            dict or None: ``results`` with ``img`` (H, W, 3), ``img_shape``
            and ``ori_shape``; None, with a warning that names the frame,
            for an unreadable file when ``ignore_empty`` is set.

        Raises:
            FileNotFoundError: If the file does not exist.
            OSError: If the file cannot be read or decoded.
            ValueError: If the image is not ``width`` x ``height``.
        """
        reason = ''
        try:
            loaded = super().transform(results)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f'frame {frame_name(results)} not found') from error
        except Exception as error:  # mmcv raises whatever the backend does
            if not self.ignore_empty:
                raise OSError(f'cannot load frame {frame_name(results)}: '
                              f'{type(error).__name__}: {error}') from error
            # mmcv's ignore_empty covers reading and decoding errors, not
            # a file that decodes to nothing (its assert comes after)
            loaded, reason = None, f' ({type(error).__name__}: {error})'
        if loaded is None:
            warnings.warn(f'skipped frame {frame_name(results)}: it cannot '
                          f'be loaded{reason} and ignore_empty is set')
            return None
        if 'height' not in results or \
                'width' not in results:
            return loaded
        height, width = loaded['img'].shape[:2]
        if (height, width) != (results['height'], results['width']):
            raise ValueError(
                f'frame {frame_name(results)} is {width}x{height} pixels '
                f"but its annotation says {results['width']}x"
                f"{results['height']}, the pixels its boxes are in; "
                'convert the data set again with --check-images to list '
                'every such frame')
        return loaded
