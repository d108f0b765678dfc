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
            dict(img_path=frame_file, height=10, width=6, video_id=3,
                 frame_id=7))
    assert str(error.value).startswith(
        f'frame {frame_file} (video 3, frame 7) is 10x6 pixels but its '
        'annotation says 6x10')


def test_unreadable_frame_names_the_file(tmp_path):
    missing = str(tmp_path / 'missing.JPEG')
    with pytest.raises(FileNotFoundError, match='missing.JPEG'):
        LoadVIDFrame()(dict(img_path=missing, height=6, width=10))
    assert LoadVIDFrame(ignore_empty=True)(dict(img_path=missing)) is None
    empty = tmp_path / 'empty.JPEG'
    empty.write_bytes(b'')
    with pytest.raises(OSError, match='empty.JPEG'):
        LoadVIDFrame()(dict(img_path=str(empty)))
