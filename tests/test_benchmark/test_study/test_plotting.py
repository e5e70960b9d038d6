"""The study report's figure helpers: one titled panel per condition, written as a PNG without
touching matplotlib's global backend."""
import os
import os.path as osp
import subprocess
import sys

from asl_det.benchmark.study.plotting import condition_panels, save_png

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def test_one_titled_panel_per_condition_sharing_the_y_axis():
    fig, axes = condition_panels(['clean', 'missing50'], width=4, height=3)
    assert [ax.get_title() for ax in axes] == ['clean', 'missing50']
    assert tuple(fig.get_size_inches()) == (8, 3)
    axes[0].set_ylim(0.2, 0.7)
    assert axes[1].get_ylim() == (0.2, 0.7)


def test_the_figure_is_written_as_a_png_in_a_new_folder(tmp_path):
    fig, axes = condition_panels(['clean'])
    axes[0].plot([0, 1], [0.1, 0.2])
    path = str(tmp_path / 'new' / 'curves.png')
    assert save_png(fig, path) == path
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert osp.getsize(path) > 1000


def test_drawing_leaves_the_users_backend_alone(tmp_path):
    """A report drawn in a session with another backend (svg here) leaves it selected: no
    ``matplotlib.use('Agg')`` (a fresh interpreter, as a user's session would be)."""
    code = ('import matplotlib\n'
            'from asl_det.benchmark.study.plotting import condition_panels, save_png\n'
            'fig, axes = condition_panels(["clean"])\n'
            'axes[0].plot([0, 1], [0, 1])\n'
            f'save_png(fig, {str(tmp_path / "a.png")!r})\n'
            'assert matplotlib.get_backend().lower() == "svg", matplotlib.get_backend()\n')
    env = dict(os.environ, MPLBACKEND='svg')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=REPO, env=env)
