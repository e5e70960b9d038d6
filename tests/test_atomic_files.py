"""asl_det.atomic_files: the one atomic writer, and every writer of the package that uses it.

Two writers of one path must never share a temporary file: with a fixed ``<path>.tmp`` the
second writer truncates the first one's file, the first rename moves it away and the second
rename fails (or publishes the other's half-written data).
"""
import json
import multiprocessing
import os
import os.path as osp

import pytest

from asl_det import atomic_files
from asl_det.atomic_files import FILE_MODE, write_atomic, write_json_atomic


def write_record_file(path, value):
    from asl_det.benchmark.study.records import write_record
    records_dir = osp.dirname(osp.dirname(path))
    write_record(records_dir, dict(variant='focal', condition='clean', seed=0, metrics={},
                                   loss_cls={}, iterations=value, wall_time_s=1.0,
                                   versions={}))


def write_split_file(path, value):
    from asl_det.benchmark.study.missing_annotations import write_missing_annotation_split
    source = osp.join(osp.dirname(path), f'source{value}.json')
    with open(source, 'w') as f:
        json.dump(dict(images=[dict(id=1)], annotations=[
            dict(id=i, image_id=1) for i in range(value)], categories=[]), f)
    write_missing_annotation_split(source, 0.5, out_file=path)


def write_intake_json(path, value):
    from asl_det.intake.json_files import write_json_atomic as intake_writer
    intake_writer(dict(value=value), path)


def write_checkpoint_bytes(path, value):
    from asl_det.checkpoint.atomic_backend import AtomicLocalBackend
    AtomicLocalBackend().put(json.dumps(dict(value=value)).encode(), path)


WRITERS = {  # name: (write(path, value), path inside tmp_path)
    'write_json_atomic': (lambda path, value: write_json_atomic(dict(value=value), path),
                          'out.json'),
    'study record': (write_record_file, osp.join('clean', 'focal_seed0.json')),
    'missing-annotation split': (write_split_file, 'split.json'),
    'intake json_files': (write_intake_json, 'intake.json'),
    'checkpoint backend': (write_checkpoint_bytes, 'iter_1.pth'),
}


@pytest.mark.parametrize('name', WRITERS)
def test_a_writer_interleaved_with_another_leaves_one_complete_file(tmp_path, monkeypatch,
                                                                    name):
    """Writer B runs entirely while writer A is between writing and renaming its file."""
    write, relative = WRITERS[name]
    path = str(tmp_path / relative)
    os.makedirs(osp.dirname(path), exist_ok=True)
    real_replace = os.replace
    sources = []

    def replace(src, dst):
        sources.append(src)
        if len(sources) == 1:  # A is about to rename: B writes the same path now
            write(path, 2)
        real_replace(src, dst)
    monkeypatch.setattr(atomic_files.os, 'replace', replace)
    write(path, 3)
    assert len(sources) == 2 and sources[0] != sources[1]  # one temporary file each
    assert all(osp.dirname(src) == osp.dirname(path) for src in sources)
    leftovers = [f for f in os.listdir(osp.dirname(path)) if f.endswith('.tmp')]
    assert leftovers == []
    with open(path, 'rb') as f:
        data = f.read()
    assert b'3' in data  # A renamed last: its complete file is the result
    json.loads(data)


def _hammer(path, value, rounds):
    for _ in range(rounds):
        write_json_atomic(dict(value=value, pad='x' * 20000), path)


def test_concurrent_processes_writing_one_path(tmp_path):
    path = str(tmp_path / 'shared.json')
    context = multiprocessing.get_context('fork')
    workers = [context.Process(target=_hammer, args=(path, value, 150)) for value in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with open(path) as f:
        assert json.load(f)['value'] in (1, 2)
    assert os.listdir(tmp_path) == ['shared.json']


def test_files_get_the_mode_open_would_give_and_text_is_encoded(tmp_path):
    path = write_atomic('ä\n', tmp_path / 'sub' / 'x.txt')
    assert path == str(tmp_path / 'sub' / 'x.txt')
    assert os.stat(path).st_mode & 0o777 == FILE_MODE
    with open(tmp_path / 'plain', 'w'):
        pass
    assert os.stat(tmp_path / 'plain').st_mode & 0o777 == FILE_MODE
    with open(path, 'rb') as f:
        assert f.read() == 'ä\n'.encode()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = str(tmp_path / 'x.json')
    write_json_atomic([1], path)
    with pytest.raises(TypeError):
        write_atomic(object(), path)
    with pytest.raises(TypeError):
        write_json_atomic({'a': object()}, path)
    assert os.listdir(tmp_path) == ['x.json'] and json.load(open(path)) == [1]
