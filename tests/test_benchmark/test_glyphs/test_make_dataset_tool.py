"""tools/make_dataset.py: the clean benchmark, and with --missing-labels its derived train split."""
import json
import os.path as osp
import runpy
import subprocess
import sys

import pytest

SCRIPT = osp.join(osp.dirname(__file__), '..', '..', '..', 'tools', 'make_dataset.py')


def load_json(path):
    with open(path) as f:
        return json.load(f)


def test_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', ['make_dataset.py', '--out', str(tmp_path), '--num-train',
                                      '3', '--num-val', '2', '--workers', '1'])
    runpy.run_path(SCRIPT, run_name='__main__')
    assert 'generated' in capsys.readouterr().out
    assert load_json(tmp_path / 'manifest.json')['splits']['val']['images'] == 2
    assert not (tmp_path / 'annotations' / 'instances_train_missing30.json').exists()


def test_missing_labels_writes_the_derived_split(tmp_path):
    out = subprocess.run(
        [sys.executable, SCRIPT, '--out', str(tmp_path), '--num-train', '4', '--num-val', '2',
         '--workers', '1', '--missing-labels', '0.3'],
        capture_output=True, text=True, check=True, timeout=120).stdout
    split_file = tmp_path / 'annotations' / 'instances_train_missing30.json'
    assert str(split_file) in out
    total = len(load_json(tmp_path / 'annotations' / 'instances_train.json')['annotations'])
    kept = len(load_json(split_file)['annotations'])
    assert f'dropped {total - kept} of {total} boxes' in out
    assert f'realised fraction {(total - kept) / total:.4f}' in out
    assert load_json(tmp_path / 'manifest.json')['splits']['val']['images'] == 2


@pytest.mark.parametrize('argv, option', [
    (['--num-train', '0'], '--num-train'), (['--workers', '0'], '--workers'),
    (['--seed', '-1'], '--seed'), (['--min-size', '40', '--max-size', '20'], 'min_size')])
def test_bad_counts_are_one_line_errors_naming_the_option(tmp_path, capsys, argv, option):
    main = runpy.run_path(SCRIPT)['main']
    with pytest.raises(SystemExit) as exit_status:
        main(['--out', str(tmp_path / 'out'), *argv])
    assert exit_status.value.code == 2
    err = capsys.readouterr().err
    assert option in err and 'Traceback' not in err
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('value', ['1.0', '-0.1', 'nan', 'x'])
def test_bad_missing_labels_is_refused_before_generating(tmp_path, capsys, value):
    parse_args = runpy.run_path(SCRIPT)['parse_args']
    with pytest.raises(SystemExit):
        parse_args(['--out', str(tmp_path), '--missing-labels', value])
    assert '--missing-labels' in capsys.readouterr().err
