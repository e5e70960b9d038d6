"""Fixed seed + ``randomness=dict(seed=0, deterministic=True)``: two CPU runs of the demo config
(configs/demo/retinanet_glyphs_asl.py on a tiny glyph set, 5 iterations, num_workers=0) log
identical losses; a third run with another seed does not (so the comparison can fail)."""
import pytest
from reliability_helpers import train, train_scalars
from tiny_detection import REPO

from asl_det.benchmark.glyphs import generate_glyph_detection

ITERS = 5
COMPARED = ('loss', 'loss_cls', 'loss_bbox', 'grad_norm', 'asl_pos_prob', 'asl_neg_prob',
            'asl_prob_gap')

DEMO_OVERRIDES = """\
_base_ = [{base!r}]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={data_root!r}))
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(max_iters={iters})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={iters}, save_last=False))
randomness = dict(seed={seed}, deterministic=True)
"""


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('determinism')
    glyphs = generate_glyph_detection(str(root / 'glyphs'), num_train=8, num_val=2, seed=0)
    started = {}
    for name, seed in (('first', 0), ('second', 0), ('other_seed', 1)):
        config = root / f'{name}.py'
        config.write_text(DEMO_OVERRIDES.format(
            base=f'{REPO}/configs/demo/retinanet_glyphs_asl.py', data_root=glyphs['root'] + '/',
            iters=ITERS, seed=seed))
        started[name] = train(str(config), str(root / name), str(root))
    outputs = {name: run.wait() for name, run in started.items()}
    return {name: train_scalars(str(root / name)) for name in started}, outputs


def logged(lines):
    return [{key: line[key] for key in COMPARED} for line in lines]


def test_same_seed_gives_identical_losses(runs):
    scalars, outputs = runs
    assert 'deterministic: True' in outputs['first']
    assert [line['iter'] for line in scalars['first']] == list(range(1, ITERS + 1))
    assert logged(scalars['first']) == logged(scalars['second'])  # exactly, not approximately


def test_another_seed_gives_other_losses(runs):
    scalars, _ = runs
    first, other = logged(scalars['first']), logged(scalars['other_seed'])
    assert all(a['loss'] != b['loss'] for a, b in zip(first, other))
