"""INPUTS of tools/infer.py (a file, a folder's images, a glob) and its output folder: every
problem is an InferenceSetupError that names the argument."""
import pytest

from asl_det.inference.inputs import InferenceSetupError, list_images, prepare_output_dir


@pytest.fixture
def folder(tmp_path):
    for name in ('b.png', 'a.JPG', 'notes.txt', 'c.jpeg'):
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'd.png').write_bytes(b'x')
    return tmp_path


def test_file_folder_and_glob(folder):
    assert list_images(str(folder / 'notes.txt')) == [str(folder / 'notes.txt')]  # as given
    assert list_images(str(folder)) == [str(folder / n) for n in ('a.JPG', 'b.png', 'c.jpeg')]
    assert list_images(str(folder / '*.png')) == [str(folder / 'b.png')]
    assert list_images(str(folder / '**' / '*.png')) == [str(folder / 'b.png'),
                                                         str(folder / 'sub' / 'd.png')]


@pytest.mark.parametrize('inputs,message', [
    ('empty', "INPUTS: the folder '{root}/empty' holds no image files"),
    ('*.gif', "INPUTS: the pattern '{root}/*.gif' matches no image files"),
    ('missing.png', "INPUTS: no file, folder or glob match at '{root}/missing.png'"),
])
def test_nothing_to_read(tmp_path, inputs, message):
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'readme.md').write_text('')
    with pytest.raises(InferenceSetupError) as error:
        list_images(str(tmp_path / inputs))
    assert str(error.value).startswith(message.format(root=tmp_path))


def test_outputs_with_the_same_name_are_refused(tmp_path):
    (tmp_path / 'one').mkdir()
    for name in ('one/x.png', 'x.jpg', 'one/y.png', 'y.png'):
        (tmp_path / name).write_bytes(b'x')
    with pytest.raises(InferenceSetupError, match=r'INPUTS: .* would both be written as '
                                                  r'preds/x\.json'):
        list_images(str(tmp_path / '**' / 'x.*'))
    # the pictures alone (--no-save-pred): named with their extension
    assert len(list_images(str(tmp_path / '**' / 'x.*'), outputs=['vis'])) == 2
    with pytest.raises(InferenceSetupError, match=r'would both be written as vis/y\.png'):
        list_images(str(tmp_path / '**' / 'y.*'), outputs=['vis'])
    assert len(list_images(str(tmp_path / '**' / 'y.*'), outputs=[])) == 2  # nothing saved


def test_output_folder(tmp_path):
    made = tmp_path / 'new' / 'outputs'
    assert prepare_output_dir(str(made)) == str(made) and made.is_dir()
    assert list(made.iterdir()) == []  # the probe file is gone
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(InferenceSetupError, match=r"--out-dir: cannot write to '.*file/out'"):
        prepare_output_dir(str(blocker / 'out'))
    with pytest.raises(InferenceSetupError, match='--side-by-side: an output folder is needed'):
        prepare_output_dir('', '--side-by-side')
