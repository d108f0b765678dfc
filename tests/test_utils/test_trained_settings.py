# Copyright (c) memvid_mm contributors. All rights reserved.
"""Model settings other than a checkpoint's training config are logged."""
import copy

from mmengine.config import Config

from memvid_mm.utils.trained_settings import (model_setting_differences,
                                              other_model_settings)

CLOCKNET = dict(
    type='MemoryRFCN',
    motion=dict(
        type='FlowNetSimple',
        img_scale_factor=0.5,
        init_cfg=dict(type='Pretrained', checkpoint='a/flow.pth')),
    aggregator=dict(type='ClockNetAggregator', strides=(1, 4, 8)),
    train_cfg=dict(evidence_drop_prob=0.8),
    test_cfg=dict(chain_flows=False))


def trained_with(model: dict, **cfg) -> dict:
    """A checkpoint as mmengine's runner saves it: the config's text."""
    return dict(
        state_dict={},
        meta=dict(cfg=Config(dict(model=model, **cfg)).pretty_text))


def test_the_same_settings_say_nothing():
    checkpoint = trained_with(
        CLOCKNET,
        custom_imports=dict(
            imports=['not_installed_here'], allow_failed_imports=False))
    current = copy.deepcopy(CLOCKNET)
    # read back from text, tuples may be lists; where the weights came
    # from and training settings are not compared
    current['aggregator']['strides'] = [1, 4, 8]
    current['motion']['init_cfg'] = None
    current['train_cfg'] = dict(evidence_drop_prob=0.0)
    assert other_model_settings(checkpoint, current, 'c.pth') is None
    # a checkpoint not saved by the runner records nothing to compare
    assert other_model_settings(dict(state_dict={}), current, 'c.pth') is None


def test_a_clocknet_checkpoint_in_the_memnet_config_is_said():
    """ClockNet's keys fit a MemNet config with one shared psi: only the
    recorded settings tell them apart."""
    memnet = copy.deepcopy(CLOCKNET)
    memnet['aggregator']['strides'] = (1, )
    memnet['test_cfg'] = dict(chain_flows=True, evidence_interval=1)
    message = other_model_settings(trained_with(CLOCKNET), memnet, 'c.pth')
    assert message.startswith('checkpoint c.pth was trained with other '
                              'model settings than the config has')
    assert message.endswith(
        'model.aggregator.strides: [1, 4, 8] in training, [1] here; '
        'model.test_cfg.chain_flows: False in training, True here; '
        'model.test_cfg.evidence_interval: absent in training, 1 here')


def test_differences_are_leaves_in_key_order():
    assert model_setting_differences(
        dict(b=dict(c=1, d=[1, 2]), a=2),
        dict(b=dict(c=1, d=(1, 3)), a=2, e=dict())) == [
            'model.b.d: [1, 2] in training, [1, 3] here',
            'model.e: absent in training, {} here'
        ]


def test_an_unreadable_recorded_config_is_said():
    checkpoint = dict(state_dict={}, meta=dict(cfg='model = dict(('))
    message = other_model_settings(checkpoint, CLOCKNET, 'c.pth')
    assert message.startswith(
        "checkpoint c.pth: its meta['cfg'] is not a readable config (")
    assert message.endswith(
        'its model settings are not compared with the config')


def test_a_meta_that_is_not_a_dict_is_said():
    checkpoint = dict(state_dict={}, meta='abc')
    assert other_model_settings(checkpoint, CLOCKNET, 'c.pth') == (
        'checkpoint c.pth: meta must be a dict, got str; its model settings '
        'are not compared with the config')
