"""The BCCD configs: one detector, only loss_cls and the classifier prior differ; the focal one
trains two iterations on the real data where it is present (../shared or $BCCD_ROOT)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from tiny_detection import tool_env

from asl_det.benchmark.study import VARIANTS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', 'bccd')
BCCD = os.environ.get('BCCD_ROOT') or osp.join(REPO, '..', 'shared', 'data', 'BCCD_Dataset')
VOC_ROOT = osp.join(BCCD, 'BCCD')


def flat(cfg, prefix=''):
    items = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            items.update(flat(value, f'{prefix}{key}.'))
        else:
            items[f'{prefix}{key}'] = value
    return items


@pytest.mark.parametrize('name,variant', [
    ('retinanet_bccd_asl.py', 'focal_margin_prior10_reject30'),
    ('retinanet_bccd_focal_margin_prior10.py', 'focal_margin_prior10')])
def test_asl_configs_differ_from_focal_in_the_loss_and_prior_alone(name, variant):
    focal = flat(Config.fromfile(osp.join(CONFIGS, 'retinanet_bccd_focal.py')).to_dict())
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    asl = flat(cfg.to_dict())
    differing = {k for k in set(focal) | set(asl) if focal.get(k) != asl.get(k)}
    # besides the model: the definitions of configs/_asl_loss.py the ASL configs inherit
    definitions = tuple(f'{key}.' for key in Config.fromfile(
        osp.join(REPO, 'configs', '_asl_loss.py')).keys())
    assert differing and all(k.startswith(('model.bbox_head.loss_cls.',
                                           'model.bbox_head.init_cfg.') + definitions)
                             for k in differing)
    assert dict(cfg.model.bbox_head.loss_cls) == VARIANTS[variant]['loss_cls']
    assert cfg.model.bbox_head.init_cfg.override.bias_prob == VARIANTS[variant]['prior']


@pytest.mark.skipif(not osp.isdir(osp.join(VOC_ROOT, 'Annotations')),
                    reason=f'BCCD not found at {VOC_ROOT} (git clone '
                    'https://github.com/Shenggan/BCCD_Dataset, or set BCCD_ROOT)')
def test_the_focal_config_trains_two_iterations_on_bccd(tmp_path):
    from asl_det.intake.voc_conversion import convert_voc_to_coco
    root = tmp_path / 'BCCD'
    root.mkdir()
    for folder in ('Annotations', 'JPEGImages', 'ImageSets'):
        os.symlink(osp.join(VOC_ROOT, folder), root / folder)
    convert_voc_to_coco(str(root), splits=['trainval', 'test'])  # the config's default layout
    data_root = f'{root}/'
    options = [f'{loader}.dataset.data_root={data_root}' for loader in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += [f'{e}.ann_file={data_root}annotations_coco/test.json'
                for e in ('val_evaluator', 'test_evaluator')]
    options += ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
                'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
                'val_dataloader.persistent_workers=False']
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'),
         osp.join(CONFIGS, 'retinanet_bccd_focal.py'), '--work-dir', str(work_dir),
         '--cfg-options', *options], capture_output=True, text=True, cwd=str(tmp_path),
        env=tool_env(), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'Iter(val) [9/9]' in result.stdout + result.stderr  # the whole test split
    assert (work_dir / 'last_checkpoint').read_text().endswith('iter_2.pth')
