# Copyright (c) memvid_mm contributors. All rights reserved.
"""tools/misc/run_demo.py: every training gets the demo's seed, and a
finished stage is kept only when everything it depends on is unchanged."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from . import REPO_ROOT, load_tool

CONFIG = osp.join(REPO_ROOT,
                  'configs/rfcn/rfcn_r18-tiny-d8_1xb4-ft3e_synthvid.py')


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """run_demo with tools/train.py replaced by a fake that writes a
    checkpoint named after the call (``last_checkpoint`` as mmengine)."""
    tool = load_tool('tools/misc/run_demo.py')
    calls = []

    def fake_train(config, model_dir, options):
        os.makedirs(model_dir, exist_ok=True)  # as tools/train.py does
        calls.append(options)
        checkpoint = osp.join(model_dir, f'epoch_{len(calls)}.pth')
        with open(checkpoint, 'w') as f:
            f.write(str(len(calls)))
        with open(osp.join(model_dir, 'last_checkpoint'), 'w') as f:
            f.write(checkpoint)
        return 1.5

    monkeypatch.setattr(tool, 'train', fake_train)
    return tool, calls, str(tmp_path / 'stage')


def test_stage_is_kept_only_for_the_same_key(demo, tmp_path):
    tool, calls, model_dir = demo
    done_file = osp.join(model_dir, 'stage_results.json')
    start = tmp_path / 'start.pth'
    start.write_text('weights')

    def stage(seed=0,
              overwrite=False,
              options=(f'load_from={start}', ),
              data='synthvid-a'):
        return tool.run_stage(CONFIG, model_dir, list(options), [str(start)],
                              data, False, seed, overwrite)

    first = stage()
    assert calls == [[f'load_from={start}', 'randomness.seed=0']]
    assert first['checkpoint'] == osp.join(model_dir, 'epoch_1.pth')
    assert first['key']['seed'] == 0
    assert tool.read_record(done_file) == first

    assert stage() == dict(first, kept=True) and len(calls) == 1  # kept
    stage(seed=1)  # another seed
    assert calls[-1][-1] == 'randomness.seed=1' and len(calls) == 2
    stage(seed=1, overwrite=True)
    assert len(calls) == 3
    stage(seed=1, options=())  # other options
    assert len(calls) == 4
    stage(seed=1, options=())
    assert len(calls) == 4
    start.write_text('retrained weights')  # the start checkpoint changed
    stage(seed=1, options=())
    assert len(calls) == 5
    stage(seed=1, options=(), data='synthvid-b')  # the data changed
    assert len(calls) == 6

    # results of an older demo (no key) are not reused
    with open(done_file, 'w') as f:
        json.dump(dict(seed=1, train_s=2.0), f)
    stage(seed=1, options=(), data='synthvid-b')
    assert len(calls) == 7

    # the checkpoint the stage wrote, written over (or gone): retrained
    kept = stage(seed=1, options=(), data='synthvid-b')
    assert len(calls) == 7
    with open(kept['checkpoint'], 'w') as f:
        f.write('other weights')
    stage(seed=1, options=(), data='synthvid-b')
    assert len(calls) == 8
    os.remove(tool.read_record(done_file)['checkpoint'])
    stage(seed=1, options=(), data='synthvid-b')
    assert len(calls) == 9
    # a record of the same key without the digests of what it wrote
    record = tool.read_record(done_file)
    del record['outputs']
    with open(done_file, 'w') as f:
        json.dump(record, f)
    stage(seed=1, options=(), data='synthvid-b')
    assert len(calls) == 10


def test_stage_with_a_test_is_kept_only_with_its_test_dump(demo, monkeypatch):
    tool, calls, model_dir = demo

    def fake_test(config, checkpoint, model_dir, options):
        with open(osp.join(model_dir, tool.TEST_DUMP), 'w') as f:
            f.write(f'detections of {checkpoint}')
        return {'vid/mAP': 0.5}

    monkeypatch.setattr(tool, 'test', fake_test)

    def stage():
        return tool.run_stage(CONFIG, model_dir, [], [], 'd', True, 0, False)

    first = stage()
    assert first['vid/mAP'] == 0.5
    assert sorted(first['outputs']) == sorted(
        [first['checkpoint'],
         osp.join(model_dir, tool.TEST_DUMP)])
    stage()
    assert len(calls) == 1
    # compare_vid.py reads the dump: another one is not this stage's
    with open(osp.join(model_dir, tool.TEST_DUMP), 'w') as f:
        f.write('detections of another model')
    stage()
    assert len(calls) == 2


def test_interrupted_training_is_not_taken_for_a_finished_one(demo):
    tool, calls, model_dir = demo
    done_file = osp.join(model_dir, 'stage_results.json')
    true_flow = osp.join(model_dir, tool.TRUE_FLOW_METRICS)
    tool.run_stage(CONFIG, model_dir, [], [], 'd', False, 0, False)
    with open(true_flow, 'w') as f:
        json.dump({'vid/mAP': 0.5}, f)

    def failing_train(config, model_dir, options):
        raise SystemExit('command failed (1)')

    tool.train = failing_train
    with pytest.raises(SystemExit):
        tool.run_stage(CONFIG, model_dir, [], [], 'd', False, 1, False)
    # neither the old results nor the old true-flow test survive
    assert not osp.exists(done_file)
    assert not osp.exists(true_flow)


def test_flownet_pretraining_is_kept_only_for_the_same_key(
        tmp_path, monkeypatch):
    tool = load_tool('tools/misc/run_demo.py')
    commands = []

    def fake_run(cmd, log_file):
        commands.append(cmd)
        with open(cmd[cmd.index('--out') + 1], 'w') as f:
            f.write('flownet')
        return 2.0

    monkeypatch.setattr(tool, 'run', fake_run)
    work_dir = str(tmp_path)
    checkpoint = tool.pretrain_flownet(work_dir, 'data/x', 0, 'd', False)
    assert checkpoint == osp.join(work_dir, tool.FLOWNET_CHECKPOINT)
    assert commands[0][commands[0].index('--seed') + 1] == '0'
    assert '--balance-objects' in commands[0]
    assert commands[0][commands[0].index('--data-root') + 1] == 'data/x'
    tool.pretrain_flownet(work_dir, 'data/x', 0, 'd', False)
    assert len(commands) == 1
    # a FlowNet pre-trained by hand to the same path (the tool's defaults)
    # over the demo's is not the demo's, though its record is still there
    with open(checkpoint, 'w') as f:
        f.write('flownet of 3,000 iterations')
    tool.pretrain_flownet(work_dir, 'data/x', 0, 'd', False)
    assert len(commands) == 2
    with open(checkpoint) as f:
        assert f.read() == 'flownet'
    # a FlowNet pre-trained with other options is not the demo's
    monkeypatch.setattr(tool, 'FLOWNET_PRETRAIN_OPTIONS', ['--iters', '10'])
    tool.pretrain_flownet(work_dir, 'data/x', 0, 'd', False)
    assert len(commands) == 3
    tool.pretrain_flownet(work_dir, 'data/x', 1, 'd', False)
    assert len(commands) == 4
    tool.pretrain_flownet(work_dir, 'data/x', 1, 'other data', False)
    assert len(commands) == 5


def test_tree_digest_follows_file_names_and_contents(tmp_path):
    tool = load_tool('tools/misc/run_demo.py')
    root = tmp_path / 'synthvid'
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'val.json').write_text('{}')
    (root / 'a.jpg').write_bytes(b'pixels')
    first = tool.tree_digest(str(root))
    assert tool.tree_digest(str(root)) == first
    (root / 'a.jpg').write_bytes(b'other pixels')
    second = tool.tree_digest(str(root))
    assert second != first
    (root / 'a.jpg').rename(root / 'b.jpg')
    assert tool.tree_digest(str(root)) not in (first, second)
    assert tool.tree_digest(str(tmp_path / 'missing')) == \
        tool.tree_digest(str(tmp_path / 'also_missing'))


def test_every_stage_reads_the_data_root_of_its_blur_mode(demo, tmp_path):
    tool, calls, model_dir = demo
    options = tool.data_root_options(tool.DATA_ROOTS['motion'])
    tool.run_stage(CONFIG, model_dir, options, [], 'd', False, 0, False)
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(dict(o.split('=', 1) for o in calls[0][:-1]))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == 'data/synthvid_motion-blur'


def converted_synthvid_root(tmp_path):
    """A SynthVID root as ``prepare_data`` finds it: the train and val
    JSON and ``synthvid.json`` of frame blur and every degradation kind."""
    root = tmp_path / 'synthvid'
    (root / 'annotations').mkdir(parents=True)
    for split in ('train', 'val'):
        (root / 'annotations' / f'imagenet_vid_{split}.json').write_text('{}')
    settings = dict(
        num_train_videos=1,
        num_val_videos=1,
        num_frames=2,
        width=32,
        height=32,
        seed=0,
        blur='frame')
    (root / 'synthvid.json').write_text(json.dumps(settings))
    return root


def test_data_of_another_blur_mode_is_not_reused(tmp_path):
    tool = load_tool('tools/misc/run_demo.py')
    root = converted_synthvid_root(tmp_path)
    (root / tool.DATA_RECORD).write_text(
        json.dumps(dict(code=tool.source_digest(tool.DATA_CODE_PATHS))))
    every_kind = ['blur', 'noise', 'occlusion', 'dim']
    tool.prepare_data(str(tmp_path), str(root), 'frame', every_kind,
                      False)  # kept
    with pytest.raises(SystemExit, match="'frame' blur, not 'motion'"):
        tool.prepare_data(
            str(tmp_path), str(root), 'motion', every_kind, False)
    with pytest.raises(
            SystemExit,
            match=r"degraded by \['blur', 'noise', "
            r"'occlusion', 'dim'\], not \['blur'\]"):
        tool.prepare_data(str(tmp_path), str(root), 'frame', ['blur'], False)


def test_narrowed_degradations_get_their_own_data_root(monkeypatch, capsys):
    tool = load_tool('tools/misc/run_demo.py')
    monkeypatch.setattr('sys.argv', ['run_demo.py'])
    args = tool.parse_args()
    assert tool.degradations_suffix(args.degradations) == ''
    monkeypatch.setattr('sys.argv',
                        ['run_demo.py', '--degradations', 'dim', 'blur'])
    args = tool.parse_args()
    assert args.degradations == ['blur', 'dim']  # one order per set
    assert tool.degradations_suffix(args.degradations) == '_only-blur-dim'
    monkeypatch.setattr('sys.argv',
                        ['run_demo.py', '--degradations', 'dim', 'dim'])
    with pytest.raises(SystemExit):
        tool.parse_args()
    assert '--degradations names a kind twice' in capsys.readouterr().err


def test_stage_is_trained_again_when_the_sources_change(
        demo, tmp_path, monkeypatch, capsys):
    tool, calls, model_dir = demo
    source = tmp_path / 'src' / 'module.py'
    source.parent.mkdir()
    source.write_text('x = 1\n')
    monkeypatch.setattr(tool, 'CODE_PATHS', (str(source.parent), ))
    first = tool.run_stage(CONFIG, model_dir, [], [], 'd', False, 0, False)
    assert 'kept' not in first
    kept = tool.run_stage(CONFIG, model_dir, [], [], 'd', False, 0, False)
    assert kept['kept'] and len(calls) == 1
    (source.parent / 'notes.txt').write_text('not a source')
    tool.run_stage(CONFIG, model_dir, [], [], 'd', False, 0, False)
    assert len(calls) == 1  # only .py files count
    source.write_text('x = 2\n')  # a bug fixed
    tool.run_stage(CONFIG, model_dir, [], [], 'd', False, 0, False)
    assert len(calls) == 2


def test_source_digest_follows_names_and_contents(tmp_path):
    tool = load_tool('tools/misc/run_demo.py')
    (tmp_path / 'a.py').write_text('a')
    (tmp_path / 'b.py').write_text('b')
    first = tool.source_digest([str(tmp_path)])
    assert tool.source_digest([str(tmp_path / 'a.py'),
                               str(tmp_path / 'b.py')]) == first
    (tmp_path / 'b.py').write_text('c')
    assert tool.source_digest([str(tmp_path)]) != first
    # the demo's own file is not part of the stages' key
    assert tool.source_digest(['tools'], ['tools/misc/run_demo.py']) != \
        tool.source_digest(['tools'])
    with pytest.raises(FileNotFoundError, match='missing'):
        tool.source_digest([str(tmp_path / 'missing')])


def test_data_made_by_other_sources_is_made_again(tmp_path, monkeypatch):
    tool = load_tool('tools/misc/run_demo.py')
    commands = []
    monkeypatch.setattr(tool, 'run',
                        lambda cmd, log_file: commands.append(cmd) or 1.0)
    source = tmp_path / 'src' / 'synthvid.py'
    source.parent.mkdir()
    source.write_text('v = 1\n')
    monkeypatch.setattr(tool, 'DATA_CODE_PATHS', (str(source.parent), ))
    root = converted_synthvid_root(tmp_path)
    every_kind = ['blur', 'noise', 'occlusion', 'dim']

    def prepare():
        tool.prepare_data(str(tmp_path), str(root), 'frame', every_kind, False)

    prepare()  # made before the record existed: generated again
    assert [cmd[1] for cmd in commands] == [
        'tools/misc/gen_synthvid.py',
        'tools/dataset_converters/imagenet2coco_vid.py'
    ]
    prepare()  # recorded with these sources: kept
    assert len(commands) == 2
    source.write_text('v = 2\n')
    prepare()
    assert len(commands) == 4


def test_half_made_data_is_not_taken_for_finished(tmp_path, monkeypatch):
    """A regeneration interrupted before the conversion leaves no record
    behind, and data without its train JSON is made again."""
    tool = load_tool('tools/misc/run_demo.py')
    root = converted_synthvid_root(tmp_path)
    record = root / tool.DATA_RECORD
    record.write_text(
        json.dumps(dict(code=tool.source_digest(tool.DATA_CODE_PATHS))))
    every_kind = ['blur', 'noise', 'occlusion', 'dim']

    def interrupted(cmd, log_file):
        raise SystemExit('stage failed')

    monkeypatch.setattr(tool, 'run', interrupted)
    with pytest.raises(SystemExit, match='stage failed'):
        tool.prepare_data(str(tmp_path), str(root), 'frame', every_kind, True)
    assert not record.exists()
    commands = []
    monkeypatch.setattr(tool, 'run',
                        lambda cmd, log_file: commands.append(cmd) or 1.0)
    record.write_text(
        json.dumps(dict(code=tool.source_digest(tool.DATA_CODE_PATHS))))
    (root / 'annotations' / 'imagenet_vid_train.json').unlink()
    tool.prepare_data(str(tmp_path), str(root), 'frame', every_kind, False)
    assert [cmd[1] for cmd in commands] == [
        'tools/misc/gen_synthvid.py',
        'tools/dataset_converters/imagenet2coco_vid.py'
    ]


def test_table_refuses_metrics_without_a_column():
    tool = load_tool('tools/misc/run_demo.py')
    full = {key: 0.5 for _, key in tool.COLUMNS}
    assert '| R-FCN | 50.0 | 50.0 |' in tool.format_table({'R-FCN': full})
    partial = dict(full)
    del partial['vid/mAP_degraded']
    with pytest.raises(
            SystemExit,
            match=r"the metrics of MemNet-3 have no \['vid/mAP_degraded'\]"):
        tool.format_table({'R-FCN': full, 'MemNet-3': partial})
