"""``import asl_det`` (what ``custom_imports=['asl_det']`` runs) registers ASL and nothing else:
exactly ``AsymmetricLoss`` in mmdet's MODELS and its two hooks in HOOKS, no other registration in
any mmengine / mmcv / mmdet registry or file backend, nothing patched. The other registering
modules register on their own import: by a config's ``custom_imports`` (the BCCD config builds its
``ChannelsLastHook``) or by the tools (:mod:`asl_det.launch.runtime`, the atomic backend).

Each check runs in a fresh interpreter, so that no other test's imports count; the probes run
together (2 cores)."""
import json
import os.path as osp
import subprocess
import sys

import pytest
from tiny_detection import REPO, tool_env

#: Runs ``sys.argv[1:]`` in order (``import:<module>`` or ``config:<file>``: ``Config.fromfile``,
#: which imports its ``custom_imports``, then its ``custom_hooks`` built in mmdet's HOOKS) and
#: prints, per step, what changed in: every registry reachable from mmengine's roots (mmcv's and
#: mmdet's children included) as {scope.name: {type: class}}, mmengine's file backends, its
#: CheckpointLoader schemes, ``torch.load`` / ``torch.save``, torch's safe globals, the
#: environment, and the ``asl_det`` modules loaded.
PROBE = r'''
import importlib, json, os, sys, warnings
warnings.filterwarnings('ignore')
import torch
import mmengine.dataset, mmengine.evaluator, mmengine.hooks, mmengine.model  # noqa: F401
import mmengine.optim, mmengine.runner, mmengine.visualization  # noqa: F401
import mmengine.registry as mmengine_registry
from mmengine.fileio.backends.registry_utils import backends, prefix_to_backends
from mmengine.registry import Registry
from mmengine.runner import CheckpointLoader
from mmdet.utils import register_all_modules


def name_of(obj):
    return f'{getattr(obj, "__module__", "?")}.{getattr(obj, "__qualname__", repr(obj))}'


def registries():
    todo = [r for r in vars(mmengine_registry).values() if isinstance(r, Registry)]
    seen = {}
    while todo:
        registry = todo.pop()
        key = f'{registry.scope}.{registry.name}'
        assert seen.get(key, registry) is registry, f'two registries named {key}'
        seen[key] = registry
        todo.extend(registry._children.values())
    return seen


def snapshot():
    return dict(
        registries={key: {name: name_of(cls) for name, cls in r._module_dict.items()}
                    for key, r in registries().items()},
        backends={name: name_of(cls) for name, cls in backends.items()},
        prefixes={name: name_of(cls) for name, cls in prefix_to_backends.items()},
        schemes={prefix: name_of(fn) for prefix, fn in CheckpointLoader._schemes.items()},
        torch=dict(load=name_of(torch.load), save=name_of(torch.save),
                   load_id=id(torch.load), save_id=id(torch.save),
                   safe_globals=sorted(map(repr, torch.serialization.get_safe_globals()))),
        environ=dict(os.environ),
        modules=sorted(m for m in sys.modules if m == 'asl_det' or m.startswith('asl_det.')))


def changes(before, after):
    """{part: {key: [before, after]}} of what differs (registries: per registry and type)."""
    diff = {}
    for part in before:
        if part == 'registries':
            for key in set(before[part]) | set(after[part]):
                old, new = before[part].get(key, {}), after[part].get(key, {})
                for name in set(old) | set(new):
                    if old.get(name) != new.get(name):
                        diff.setdefault(part, {})[f'{key}/{name}'] = [old.get(name),
                                                                      new.get(name)]
        elif part == 'modules':
            diff[part] = sorted(set(after[part]) - set(before[part]))
        elif before[part] != after[part]:
            old, new = before[part], after[part]
            diff[part] = {k: [old.get(k), new.get(k)] for k in set(old) | set(new)
                          if old.get(k) != new.get(k)}
    return diff


register_all_modules(init_default_scope=False)
for registry in registries().values():  # what a first get() or build() would import
    registry.import_from_location()
state = snapshot()
steps = []
for step in sys.argv[1:]:
    kind, target = step.split(':', 1)
    built = None
    if kind == 'import':
        importlib.import_module(target)
    else:
        from mmdet.registry import HOOKS
        from mmengine.config import Config
        cfg = Config.fromfile(target)
        built = [type(HOOKS.build(hook)).__name__ for hook in cfg.custom_hooks]
    new = snapshot()
    steps.append(dict(step=step, changes=changes(state, new), built=built))
    state = new
print(json.dumps(steps))
'''

ASL_MODULES = {'asl_det', 'asl_det.version', 'asl_det.validation', 'asl_det.engine',
               'asl_det.engine.hooks', 'asl_det.engine.hooks.probability_statistics_hook',
               'asl_det.engine.hooks.adaptive_asymmetry_hook',
               'asl_det.engine.hooks.resumed_state', 'asl_det.models',
               'asl_det.models.losses'}
BCCD_CONFIG = osp.join(REPO, 'configs', 'bccd', 'retinanet_bccd_focal.py')
#: Each module that registers on its own import, and what it registers (registry key/type).
OWN_IMPORT = {
    'asl_det.engine.hooks.channels_last_hook': ['mmdet.hook/ChannelsLastHook'],
    'asl_det.engine.hooks.classifier_prior_hook': ['mmdet.hook/ClassifierPriorHook'],
    'asl_det.engine.hooks.main_process_logger_hook': ['mmdet.hook/MainProcessLoggerHook'],
    'asl_det.engine.hooks.unlabelled_anchor_probability_hook':
        ['mmdet.hook/UnlabelledAnchorProbabilityHook'],
    'asl_det.engine.optimizers.divergence_guard_optim_wrapper':
        ['mmdet.optim_wrapper/DivergenceGuardOptimWrapper'],
    'asl_det.engine.optimizers.cpu_autocast_optim_wrapper':
        ['mmdet.optim_wrapper/CPUAutocastOptimWrapper'],
    'asl_det.datasets.glyph_dataset': ['mmdet.dataset/GlyphDetectionDataset'],
}


def start(*steps):
    return subprocess.Popen([sys.executable, '-c', PROBE, *steps], cwd=REPO, env=tool_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
    """{step: (changes, built)} of a started probe."""
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return {s['step']: (s['changes'], s['built'])
            for s in json.loads(out.strip().splitlines()[-1])}


@pytest.fixture(scope='module')
def probes():
    """The three probes, started together; each test waits for its own."""
    started = dict(
        package=start('import:asl_det'),
        own=start('import:asl_det', f'config:{BCCD_CONFIG}',
                  *(f'import:{module}' for module in OWN_IMPORT)),
        tools=start('import:asl_det', 'import:asl_det.apis', 'import:asl_det.launch.runtime',
                    'import:asl_det.checkpoint.atomic_backend'))
    finished = {}

    def result(name):
        if name not in finished:
            finished[name] = finish(started[name])
        return finished[name]

    yield result
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


def added(changes):
    """The registry entries a step added: {'scope.registry/type': class}; fails on any other
    change (an entry replaced or removed)."""
    entries = changes.get('registries', {})
    assert all(old is None for old, _ in entries.values()), entries
    return {key: new for key, (_, new) in entries.items()}


def test_import_registers_the_loss_and_its_two_hooks_alone(probes):
    changes, _ = probes('package')['import:asl_det']
    modules = changes.pop('modules')
    assert set(modules) - ASL_MODULES <= {m for m in modules
                                          if m.startswith('asl_det.models.losses.')}, modules
    assert added(changes) == {
        'mmdet.model/AsymmetricLoss': 'asl_det.models.losses.asymmetric_loss.AsymmetricLoss',
        'mmdet.hook/ProbabilityStatisticsHook':
            'asl_det.engine.hooks.probability_statistics_hook.ProbabilityStatisticsHook',
        'mmdet.hook/AdaptiveAsymmetryHook':
            'asl_det.engine.hooks.adaptive_asymmetry_hook.AdaptiveAsymmetryHook'}
    # no file backend, checkpoint scheme, torch.load / save, safe global or variable changed
    assert set(changes) == {'registries'}, changes


def test_each_other_module_registers_on_its_own_import_and_the_bccd_config_imports_its_hook(
        probes):
    steps = probes('own')
    changes, built = steps[f'config:{BCCD_CONFIG}']
    assert set(added(changes)) == {'mmdet.hook/ChannelsLastHook'}  # through custom_imports
    assert built == ['ProbabilityStatisticsHook', 'ChannelsLastHook']
    for module, expected in OWN_IMPORT.items():
        changes, _ = steps[f'import:{module}']
        if module.endswith('channels_last_hook'):
            expected = []  # the config imported it
        assert sorted(added(changes)) == expected, module
        assert set(changes) <= {'registries', 'modules'}, (module, changes)


def test_the_tools_register_what_they_opt_into(probes):
    steps = probes('tools')
    changes, _ = steps['import:asl_det.apis']  # loads checkpoints safely, changes nothing
    assert set(changes) == {'modules'}, changes
    changes, _ = steps['import:asl_det.launch.runtime']  # what tools/train.py, test.py build
    assert sorted(added(changes)) == ['mmdet.hook/ChannelsLastHook',
                                      'mmdet.hook/MainProcessLoggerHook',
                                      'mmdet.optim_wrapper/DivergenceGuardOptimWrapper']
    assert set(changes) == {'registries', 'modules'}, changes
    changes, _ = steps['import:asl_det.checkpoint.atomic_backend']  # tools/train.py's opt-in
    assert changes['backends'] == {'atomic_local': [
        None, 'asl_det.checkpoint.atomic_backend.AtomicLocalBackend']}
    assert set(changes) == {'backends', 'modules'}, changes
