# Copyright (c) memvid_mm contributors. All rights reserved.
import cv2
import numpy as np
import pytest

from memvid_mm.datasets.transforms import LoadVIDFrame


@pytest.fixture
def frame_file(tmp_path) -> str:
    path = str(tmp_path / '000000.JPEG')
    cv2.imwrite(path, np.full((6, 10, 3), 128, np.uint8))
    return path


def test_frame_of_the_annotated_size_loads(frame_file):
    results = LoadVIDFrame()(
        dict(img_path=frame_file, height=6, width=10, video_id=3, frame_id=0))
    assert results['img'].shape == (6, 10, 3)
    assert results['img_shape'] == results['ori_shape'] == (6, 10)


def test_frame_without_annotated_size_loads_unchecked(frame_file):
    assert LoadVIDFrame()(dict(img_path=frame_file))['img_shape'] == (6, 10)


def test_transposed_frame_names_the_file_and_both_sizes(frame_file):
    with pytest.raises(ValueError) as error:
        LoadVIDFrame()(
            dict(
                img_path=frame_file,
                height=10,
                width=6,
                video_id=3,
                frame_id=7))
    assert str(error.value).startswith(
        f'frame {frame_file} (video 3, frame 7) is 10x6 pixels but its '
        'annotation says 6x10')


def test_unreadable_frame_names_the_file(tmp_path):
    missing = str(tmp_path / 'missing.JPEG')
    with pytest.raises(FileNotFoundError, match='missing.JPEG'):
        LoadVIDFrame()(dict(img_path=missing, height=6, width=10))
    with pytest.warns(UserWarning, match=r'skipped frame .*missing.JPEG'):
        assert LoadVIDFrame(ignore_empty=True)(dict(img_path=missing)) is None
    empty = tmp_path / 'empty.JPEG'
    empty.write_bytes(b'')
    with pytest.raises(OSError, match='empty.JPEG'):
        LoadVIDFrame()(dict(img_path=str(empty)))
    # a file that decodes to nothing is skipped too, as the docstring says
    # (it raised past ignore_empty: mmcv asserts after its try block)
    corrupt = tmp_path / 'corrupt.JPEG'
    corrupt.write_bytes(b'not a JPEG at all')
    with pytest.raises(OSError, match='cannot load frame .*corrupt.JPEG'):
        LoadVIDFrame()(dict(img_path=str(corrupt)))
    with pytest.warns(
            UserWarning,
            match=r'skipped frame .*corrupt.JPEG \(frame 4\): it cannot be '
            r'loaded \(AssertionError: .*\) and ignore_empty is set'):
        assert LoadVIDFrame(ignore_empty=True)(dict(
            img_path=str(corrupt), frame_id=4)) is None


def test_frame_skipped_in_a_clip_is_named(frame_file, tmp_path):
    """mmcv's broadcaster refuses a clip with a skipped frame with an error
    that names no frame; the warning before it names the frame."""
    from mmcv.transforms import TransformBroadcaster
    missing = str(tmp_path / 'missing.JPEG')
    broadcaster = TransformBroadcaster(
        transforms=[dict(type='LoadVIDFrame', ignore_empty=True)],
        mapping=dict(img_path='img_path', frame_id='frame_id'),
        remapping=dict(img='img'),
        allow_nonexist_keys=True)
    with pytest.warns(UserWarning) as warned, pytest.raises(
            ValueError, match='should not return None'):
        broadcaster(dict(img_path=[frame_file, missing], frame_id=[0, 1]))
    assert [str(warning.message) for warning in warned] == [
        f'skipped frame {missing} (frame 1): it cannot be loaded and '
        'ignore_empty is set'
    ]


def write_jpeg_with_orientation(path: str, orientation: int) -> np.ndarray:
    """A 48x64 JPEG whose stored pixels have a white top-left corner and
    whose EXIF tag says to turn it (3: 180 degrees, 6: 90 degrees)."""
    from PIL import Image
    stored = np.zeros((48, 64, 3), np.uint8)
    stored[:10, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=100)
    return stored


@pytest.mark.parametrize('orientation', [3, 6])
def test_exif_orientation_is_ignored(tmp_path, orientation):
    path = str(tmp_path / f'turned{orientation}.JPEG')
    write_jpeg_with_orientation(path, orientation)
    img = LoadVIDFrame()(dict(img_path=path, height=48, width=64))['img']
    assert img.shape == (48, 64, 3)
    rows, cols = np.nonzero(img[..., 0] > 128)
    assert rows.max() < 12 and cols.max() < 12  # still top-left


def test_color_type_can_apply_the_exif_orientation(tmp_path):
    path = str(tmp_path / 'turned3.JPEG')
    write_jpeg_with_orientation(path, 3)
    img = LoadVIDFrame(color_type='color')(dict(img_path=path))['img']
    rows, cols = np.nonzero(img[..., 0] > 128)
    assert rows.min() > 36 and cols.min() > 52  # turned to bottom-right
