# Copyright (c) memvid_mm contributors. All rights reserved.
from memvid_mm.models.layers import SplitHalvesState


def test_split_halves_state_resets_and_moves_both_halves():
    state = SplitHalvesState()
    state.left.video_id, state.right.video_id = 1, 1
    moved = state.to('cpu')
    assert moved is not state and moved.left.video_id == 1
    state.reset()
    assert state.left.is_empty and state.right.is_empty
