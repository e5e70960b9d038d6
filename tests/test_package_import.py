"""``import asl_det`` (what ``custom_imports=['asl_det']`` runs) loads the plugin and nothing else:
no glyph benchmark, no intake, and the loss, hooks and optimizer wrapper registered in mmdet."""
import json
import subprocess
import sys

from tiny_detection import REPO, tool_env

PROBE = '''
import json, sys
import mmdet.models  # noqa: F401
import asl_det  # noqa: F401
from mmdet.registry import DATASETS, HOOKS, MODELS, OPTIM_WRAPPERS
print(json.dumps(dict(
    modules=sorted(name for name in sys.modules if name.startswith('asl_det')),
    registered=[MODELS.get('AsymmetricLoss') is not None,
                HOOKS.get('ProbabilityStatisticsHook') is not None,
                HOOKS.get('AdaptiveAsymmetryHook') is not None,
                OPTIM_WRAPPERS.get('DivergenceGuardOptimWrapper') is not None],
    glyph_dataset='GlyphDetectionDataset' in DATASETS.module_dict)))
'''


def test_import_loads_the_plugin_alone():
    """In a fresh interpreter, so that no other test's imports count."""
    result = subprocess.run([sys.executable, '-c', PROBE], cwd=REPO, env=tool_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    modules = found['modules']
    assert 'asl_det.models.losses.asymmetric_loss' in modules  # the probe saw the package
    unwanted = [name for name in modules
                if name.startswith(('asl_det.benchmark', 'asl_det.intake', 'asl_det.datasets'))]
    assert not unwanted, unwanted
    assert found['registered'] == [True] * 4
    assert not found['glyph_dataset']
