"""literal_config reads what mmengine's Config.pretty_text writes, as Config.fromstring (which runs
the text) reads it, and refuses text that would run code."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from asl_det.config.literal_config import literal_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHIPPED = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '*.py'))
                 if not osp.basename(p).startswith('_'))


@pytest.mark.parametrize('path', SHIPPED[:4] + [osp.join(REPO, 'configs', 'bccd',
                                                         'retinanet_bccd_focal.py')],
                         ids=osp.basename)
def test_a_dumped_config_reads_as_mmengine_reads_it(path):
    text = Config.fromfile(path).pretty_text
    assert literal_config(text) == Config.fromstring(text, file_format='.py').to_dict()


def test_literals_of_every_kind():
    text = ("a = dict(b=[1, -2.5, +3], c=(None, True), d={'x y': {1, 2}, 3: 'z'})\n"
            "e = dict()\n")
    assert literal_config(text) == dict(a=dict(b=[1, -2.5, 3], c=(None, True),
                                               d={'x y': {1, 2}, 3: 'z'}), e={})


@pytest.mark.parametrize('text, where', [
    ("model = dict(type='RetinaNet', x=__import__('os').system('touch {flag}'))", 'line 1'),
    ("import os\nmodel = dict(type='RetinaNet')", 'line 1'),
    ("model = dict(type='RetinaNet')\nopen('{flag}', 'w')", 'line 2'),
    ("model = dict(**dict(type='RetinaNet'))", 'line 1'),
    ("model = [x for x in ()]", 'line 1'),
    ("a = b = 1", 'line 1'),
    ("model = lambda: open('{flag}', 'w')", 'line 1'),
])
def test_text_that_would_run_code_is_refused_and_not_run(tmp_path, text, where):
    flag = tmp_path / 'ran'
    with pytest.raises(ValueError, match=where):
        literal_config(text.format(flag=flag))
    assert not flag.exists()


def test_what_is_not_config_text():
    with pytest.raises(ValueError, match='not Python'):
        literal_config('model = dict(')
    with pytest.raises(TypeError, match='config text must be a string, got NoneType'):
        literal_config(None)
