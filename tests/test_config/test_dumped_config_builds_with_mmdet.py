"""A config as tools/train.py --asl and tools/test.py leave it in a work dir (the swapped loss,
the atomic checkpoint backend, the main-process logger hook) builds in a process that never
imports asl_det itself: its ``custom_imports`` name the modules that register those types.
Each edit alone (importing any asl_det module registers the loss too)."""
import subprocess
import sys

import pytest

from asl_det.checkpoint.atomic_backend import use_atomic_checkpoint_writes
from asl_det.config.asl_swap import swap_in_asl
from asl_det.launch import runtime

BUILD = {
    'loss': 'type(MODELS.build(cfg.model.bbox_head.loss_cls))',
    'backend': "type(get_file_backend('x', backend_args="
               'cfg.default_hooks.checkpoint.backend_args))',
    'logger': 'type(HOOKS.build(cfg.default_hooks.logger))',
}
PROGRAM = '''
import sys
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmdet.registry import HOOKS, MODELS
from mmdet.utils import register_all_modules
register_all_modules()
cfg = Config.fromfile(sys.argv[1])  # imports cfg.custom_imports
print({built}.__name__)
'''


@pytest.mark.parametrize('edit,part,built', [
    (swap_in_asl, 'loss', 'AsymmetricLoss'),
    (use_atomic_checkpoint_writes, 'backend', 'AtomicLocalBackend'),
    (runtime.log_test_metrics_once, 'logger', 'MainProcessLoggerHook'),
])
def test_the_dumped_config_builds_without_importing_asl_det(tmp_path, edit, part, built):
    cfg = runtime.load_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')
    cfg.work_dir = str(tmp_path / 'work')
    edit(cfg)
    path = tmp_path / 'dumped.py'
    cfg.dump(str(path))
    run = subprocess.run([sys.executable, '-c', PROGRAM.format(built=BUILD[part]), str(path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == [built]


def test_a_single_module_named_as_a_string_stays_one_module():
    """mmengine takes ``custom_imports=dict(imports='my_module')``: not split into letters."""
    from mmengine.config import Config

    from asl_det.config.custom_imports import add_custom_import
    cfg = Config(dict(custom_imports=dict(imports='my_module', allow_failed_imports=False)))
    add_custom_import(cfg, 'asl_det')
    add_custom_import(cfg, 'asl_det')
    assert cfg.custom_imports == dict(imports=['my_module', 'asl_det'],
                                      allow_failed_imports=False)
