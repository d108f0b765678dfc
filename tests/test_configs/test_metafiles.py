# Copyright (c) memvid_mm contributors. All rights reserved.
"""The model index: every config is listed once, in its folder's metafile,
and every number a metafile gives is the one the docs report."""
import glob
import os.path as osp
import re

import pytest
import yaml

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT) for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)
METAFILES = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '*', 'metafile.yml')))
# The metrics a metafile's SynthVID results give, in the column order of
# the docs' tables (after the row's name, and its seed where there is one).
METRICS = ('mAP', 'mAP_fast', 'mAP_medium', 'mAP_slow', 'mAP_degraded',
           'mAP_clean')
# Where each model's SynthVID numbers are reported: the document and the
# leading cells of its table row.
RESULT_SOURCES = {
    'faster-rcnn_r18-tiny-d8_1xb4-ft3e_synthvid':
    ('README.md', ['Faster R-CNN (per-frame)']),
    'rfcn_r18-tiny-d8_1xb4-ft3e_synthvid':
    ('README.md', ['R-FCN (per-frame)']),
    'memnet-3_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid': ('README.md', ['MemNet-3'
                                                                   ]),
    'clocknet_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid': ('README.md', ['ClockNet'
                                                                   ]),
    'causal-fgfa_rfcn_r18-tiny-d8_1xb4-ft3e_synthvid':
    ('docs/synthvid_results.md', ['Causal FGFA', '0']),
    'rfcn_r18-w8-d8_1xb4-ft3e_synthvid': ('docs/synthvid_results.md',
                                          ['fast R-FCN (control)', '0']),
    'strong-feature_rfcn_r18-w8-d8_clocknet-featprop_1xb4-ft3e_synthvid':
    ('docs/synthvid_results.md', ['fast + ClockNet-FeatProp, delay 3', '0']),
}


def _load_yaml(relpath):
    with open(osp.join(REPO_ROOT, relpath)) as f:
        return yaml.safe_load(f)


def _models():
    """Every model entry of every metafile, with the metafile's path."""
    return [(metafile, model) for metafile in METAFILES
            for model in _load_yaml(metafile)['Models']]


def _reported_row(relpath, leading_cells):
    """The numbers of the first table row of ``relpath`` that starts with
    ``leading_cells`` and goes on with numbers (bold marks dropped)."""
    with open(osp.join(REPO_ROOT, relpath)) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            if cells[:len(leading_cells)] != leading_cells:
                continue
            values = [c.replace('**', '') for c in cells[len(leading_cells):]]
            try:
                return [float(v) for v in values[:len(METRICS)]]
            except ValueError:
                continue
    raise AssertionError(f'no row {leading_cells} in {relpath}')


def test_model_index_imports_every_metafile():
    assert len(METAFILES) == 6
    assert sorted(_load_yaml('model-index.yml')['Import']) == METAFILES


def test_every_config_is_listed_once_under_its_own_name():
    listed = [model['Config'] for _, model in _models()]
    assert sorted(listed) == CONFIGS
    for _, model in _models():
        assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]


@pytest.mark.parametrize('metafile', METAFILES)
def test_metafile_collections_have_a_readme_linking_their_configs(metafile):
    meta = _load_yaml(metafile)
    collections = {c['Name']: c for c in meta['Collections']}
    for model in meta['Models']:
        readme_path = collections[model['In Collection']]['README']
        assert osp.dirname(readme_path) == osp.dirname(metafile)
        with open(osp.join(REPO_ROOT, readme_path)) as f:
            links = re.findall(r'\]\(([^)#]+\.py)\)', f.read())
        linked = {
            osp.normpath(osp.join(osp.dirname(readme_path), link))
            for link in links
        }
        assert model['Config'] in linked, \
            f'{readme_path} does not link {model["Config"]}'
        for config in linked:
            assert osp.isfile(osp.join(REPO_ROOT, config)), config


def test_metafile_results_are_the_reported_ones():
    with_results = {
        model['Name']: model
        for _, model in _models() if 'Results' in model
    }
    # no number without a source in the docs
    assert sorted(with_results) == sorted(RESULT_SOURCES)
    for name, model in with_results.items():
        (result, ) = model['Results']
        assert result['Task'] == 'Video Object Detection'
        assert result['Dataset'] == 'SynthVID'
        assert 'Weights' not in model  # none are published
        reported = dict(zip(METRICS, _reported_row(*RESULT_SOURCES[name])))
        assert result['Metrics'] == reported, name


def test_imagenet_vid_models_give_no_results_or_weights():
    # not trained in this project: nothing to report
    for _, model in _models():
        if model['Name'].endswith('imagenetvid') or \
                model['Name'] == 'clocknet_r101_vid':
            assert 'Results' not in model and 'Weights' not in model


def test_metafiles_give_no_speed_and_synthvid_resources():
    """The README says so: the R-101 heads have not been timed on a GPU
    since their FGFA wiring (ClockNet's entry kept the old head's H200
    time), and the SynthVID models train in one CPU process (they took
    their collection's GPUs)."""
    for metafile, model in _models():
        metadata = model.get('Metadata', {})
        assert 'inference time (ms/im)' not in metadata, model['Name']
        if metadata.get('Training Data') == 'SynthVID':
            assert metadata['Training Resources'] == '1x CPU (2 cores)', (
                metafile, model['Name'])
