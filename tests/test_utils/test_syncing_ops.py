# Copyright (c) memvid_mm contributors. All rights reserved.
import torch

from memvid_mm.utils import SyncingOpRecorder


def test_records_host_reads_and_host_made_tensors():
    x = torch.randn(2, 3)
    with SyncingOpRecorder() as recorder:
        bool((x > 0).any())
        x.sum().item()
        x[x > 0]
        x * x.new_tensor([1.0, 2.0, 3.0])
        x.nonzero()
        x[x < 0] = x.new_zeros(())
        x.tolist()
        x.to('cpu')
        x.cpu().numpy()
    assert recorder.ops == [
        '_local_scalar_dense', '_local_scalar_dense', 'index (boolean mask)',
        'lift_fresh', 'nonzero', 'index_put_ (boolean mask)', 'tolist',
        'to (cpu)', 'cpu', 'numpy'
    ]


def test_device_side_ops_are_not_recorded():
    x = torch.randn(2, 3)
    with SyncingOpRecorder() as recorder:
        y = torch.where(torch.isfinite(x), x, 0.0) * 2.0
        y[:, 0].mul_(0.5)
        (~torch.isfinite(y)).sum()
        torch.nn.functional.interpolate(y[None, None], size=(4, 6))
        y[:, torch.arange(2)]  # an integer index made on the device
        y.to(torch.float64)
    assert recorder.ops == []


def test_ops_whose_output_size_is_read_from_the_device_are_recorded():
    counts = torch.tensor([0, 2, 1])
    with SyncingOpRecorder() as recorder:
        torch.bincount(counts, minlength=1)
        torch.arange(3).repeat_interleave(counts)
        torch.arange(3).repeat_interleave(counts, output_size=3)  # no read
        torch.arange(3).repeat_interleave(2)  # no read
    assert recorder.ops == ['bincount', 'repeat_interleave']
