# Copyright (c) memvid_mm contributors. All rights reserved.
import copy
import pickle

import pytest
import torch

from memvid_mm.models.layers import SideStreams


def test_a_copy_starts_empty():
    holder = SideStreams()
    holder.streams[torch.device('cuda:0')] = 'a stream of this process'
    assert copy.deepcopy(holder).streams == {}
    assert pickle.loads(pickle.dumps(holder)).streams == {}
    assert holder.streams  # the original keeps its own


@pytest.mark.parametrize('device', ['cpu', 'cuda'])
def test_needs_an_indexed_cuda_device(device):
    with pytest.raises(ValueError, match=f'got {device}'):
        SideStreams().get(device)


def test_cuda_one_stream_per_device(cuda_device):
    holder = SideStreams()
    device = torch.device('cuda', torch.cuda.current_device())
    stream = holder.get(device)
    assert holder.get(device) == stream
    assert stream != torch.cuda.current_stream(device)
    assert copy.deepcopy(holder).get(device) != stream
