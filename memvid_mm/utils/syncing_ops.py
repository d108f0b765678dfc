# Copyright (c) memvid_mm contributors. All rights reserved.
"""Find, on any device, the ops that make the host wait for a GPU."""
from typing import List

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode


class _HostCopyRecorder(TorchFunctionMode):
    """Record the tensor methods that bring values to the host.

    On a CPU tensor they dispatch no aten op, so only the Python call shows
    them.
    """

    HOST_COPIES = frozenset(('tolist', 'numpy', 'cpu', '__array__'))

    def __init__(self, ops: List[str]) -> None:
        super().__init__()
        self.ops = ops

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, '__name__', '')
        if name in self.HOST_COPIES:
            self.ops.append(name)
        elif name == 'to' and any(
                torch.device(arg).type == 'cpu'
                for arg in (*args[1:], kwargs.get('device'))
                if isinstance(arg, (str, torch.device))):
            self.ops.append('to (cpu)')
        return func(*args, **kwargs)


class SyncingOpRecorder(TorchDispatchMode):
    """Record the ops that synchronise the host with a CUDA device.

    Two kinds: reads of device values on the host (``bool(t)``,
    ``t.item()``, ``int(t)``, ``t.tolist()``, ``t.cpu()``, ``nonzero``,
    indexing with a boolean mask, ``unique``, and ops whose output size is
    read from device values: ``bincount``, ``repeat_interleave`` with a
    tensor of repeats and no ``output_size``), and tensors made from host
    data (``torch.tensor``, ``t.new_tensor``: aten's ``lift_fresh``),
    which a CUDA device receives by a synchronous copy. Either way the GPU
    idles while the host launches the kernels after it. On the CPU these
    ops cost nothing, but they are recorded all the same, so a CPU test can
    show that a step is free of them.

    Only what passes through PyTorch is seen: a compiled extension that
    synchronises inside (mmcv's NMS) is not.

    Example::

        with SyncingOpRecorder() as recorder:
            model.memory_step(...)
        assert recorder.ops == []

    Attributes:
        ops (list[str]): Names of the recorded ops, in call order.
    """

    SYNCING_OPS = frozenset(
        ('_local_scalar_dense', 'is_nonzero', 'equal', 'nonzero',
         'masked_select', '_unique', '_unique2', 'unique_dim',
         'unique_consecutive', 'lift_fresh', 'bincount'))
    # indexing ops that count the True values of a boolean index first
    MASK_INDEXING_OPS = frozenset(
        ('index', 'index_put', 'index_put_', '_index_put_impl_'))

    def __init__(self) -> None:
        super().__init__()
        self.ops: List[str] = []
        self.host_copies = _HostCopyRecorder(self.ops)

    def __enter__(self) -> 'SyncingOpRecorder':
        super().__enter__()
        self.host_copies.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self.host_copies.__exit__(*exc_info)
        super().__exit__(*exc_info)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in self.SYNCING_OPS:
            self.ops.append(name)
        elif name in self.MASK_INDEXING_OPS and any(
                index is not None and index.dtype in (torch.bool, torch.uint8)
                for index in args[1]):
            self.ops.append(f'{name} (boolean mask)')
        elif (name == 'repeat_interleave' and func._overloadname == 'Tensor'
              and (kwargs or {}).get('output_size') is None):
            self.ops.append(name)
        return func(*args, **(kwargs or {}))
