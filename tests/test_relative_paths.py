import os.path as osp

from asl_det.relative_paths import relative_if_inside


def test_a_path_inside_the_folder_is_named_relative_to_it(tmp_path):
    base = tmp_path / 'repo'
    assert relative_if_inside(str(base / 'data' / 'a.json'), str(base)) == osp.join('data',
                                                                                   'a.json')
    assert relative_if_inside(str(base), str(base)) == '.'


def test_a_path_outside_the_folder_stays_absolute(tmp_path, monkeypatch):
    base = tmp_path / 'repo'
    assert relative_if_inside(str(tmp_path / 'other' / 'a.json'), str(base)) == \
        str(tmp_path / 'other' / 'a.json')
    # a sibling whose name starts like the folder's is not inside it
    assert relative_if_inside(str(tmp_path / 'repo2' / 'a.json'), str(base)) == \
        str(tmp_path / 'repo2' / 'a.json')
    # a relative path is read from the working directory, and named absolute when outside
    monkeypatch.chdir(tmp_path)
    assert relative_if_inside('other/a.json', str(base)) == str(tmp_path / 'other' / 'a.json')
    assert relative_if_inside('repo/a.json', str(base)) == 'a.json'
