# Copyright (c) memvid_mm contributors. All rights reserved.
"""The SynthVID root a tool reads; the tools themselves are tested in
tests/test_tools (test_flow_epe_synthvid.py, test_true_flow_synthvid.py,
test_pretrain_flownet.py)."""
import pytest
from mmengine.config import Config

from memvid_mm.datasets import config_data_root


@pytest.mark.parametrize('cfg', [
    dict(),
    dict(test_dataloader=None),
    dict(test_dataloader=dict(dataset=dict(type='ImagenetVIDDataset'))),
    dict(test_dataloader=dict(dataset=dict(datasets=[]))),
])
def test_a_config_without_a_test_data_root_asks_for_data_root(cfg):
    with pytest.raises(
            ValueError,
            match=r"^the config's test_dataloader\.dataset\.data_root is "
            'not set: name the SynthVID root with --data-root$'):
        config_data_root(Config(cfg))
