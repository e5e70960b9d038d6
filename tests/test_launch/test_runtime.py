"""asl_det.launch.runtime: the command-line options of tools/train.py and tools/test.py."""
import socket
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as torch_dist
from mmdet.registry import HOOKS
from mmengine.config import Config
from mmengine.hooks import LoggerHook
from mmengine.model import MMDistributedDataParallel

from asl_det.launch import runtime


def small_cfg(**extra):
    return Config(dict(model=dict(type='RetinaNet'), optim_wrapper=dict(type='OptimWrapper'),
                       env_cfg=dict(dist_cfg=dict(backend='nccl')), **extra))


def test_load_config_accepts_package_paths_and_files(tmp_path):
    cfg = runtime.load_config('mmdet::retinanet/retinanet_r18_fpn_1xb8-1x_coco.py')
    assert cfg.model.type == 'RetinaNet' and cfg.model.backbone.depth == 18
    path = tmp_path / 'local.py'
    path.write_text("_base_ = 'mmdet::retinanet/retinanet_r18_fpn_1xb8-1x_coco.py'\nx = 1\n")
    local = runtime.load_config(str(path))
    assert local.x == 1 and local.model.backbone.depth == 18
    with pytest.raises(FileNotFoundError):
        runtime.load_config('mmdet::no_such/config.py')


def test_work_dir_priority():
    cfg = small_cfg()
    runtime.set_work_dir(cfg, None, 'mmdet::fsaf/fsaf_r50_fpn_1x_coco.py')
    assert cfg.work_dir == './work_dirs/fsaf_r50_fpn_1x_coco'
    cfg = small_cfg(work_dir='from_config')
    runtime.set_work_dir(cfg, None, 'configs/x.py')
    assert cfg.work_dir == 'from_config'
    runtime.set_work_dir(cfg, 'from_cli', 'configs/x.py')
    assert cfg.work_dir == 'from_cli'


def test_amp_and_auto_scale_lr():
    cfg = small_cfg(auto_scale_lr=dict(enable=False, base_batch_size=16))
    runtime.enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    runtime.enable_auto_scale_lr(cfg)
    assert cfg.auto_scale_lr.enable is True
    with pytest.raises(RuntimeError, match='auto_scale_lr'):
        runtime.enable_auto_scale_lr(small_cfg())


def test_amp_keeps_a_configured_amp_wrapper_and_refuses_another_wrapper():
    cfg = small_cfg()
    cfg.optim_wrapper = dict(type='AmpOptimWrapper', loss_scale=512.0)
    runtime.enable_amp(cfg)
    assert cfg.optim_wrapper == dict(type='AmpOptimWrapper', loss_scale=512.0)
    cfg.optim_wrapper = dict(type='DivergenceGuardOptimWrapper', on_nonfinite='skip')
    with pytest.raises(runtime.ConfigError, match="--amp: optim_wrapper.type must be "
                       "OptimWrapper .* got 'DivergenceGuardOptimWrapper'"):
        runtime.enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'DivergenceGuardOptimWrapper'
    scoped = small_cfg()
    scoped.optim_wrapper.type = 'mmengine.OptimWrapper'
    runtime.enable_amp(scoped)
    assert scoped.optim_wrapper.type == 'AmpOptimWrapper'
    untyped = small_cfg()
    del untyped.optim_wrapper['type']  # mmengine builds an OptimWrapper
    runtime.enable_amp(untyped)
    assert untyped.optim_wrapper.type == 'AmpOptimWrapper'


@pytest.mark.parametrize('resume,expected', [
    (None, (None, None)), ('auto', (True, None)), ('ckpt.pth', (True, 'ckpt.pth')),
    ('https://example.org/ckpt.pth', (True, 'https://example.org/ckpt.pth'))])
def test_resume(resume, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'ckpt.pth').write_bytes(b'PK\x03\x04')
    cfg = small_cfg()
    runtime.set_resume(cfg, resume)
    assert (cfg.get('resume'), cfg.get('load_from')) == expected


def test_resume_from_a_missing_file_is_a_user_error_naming_it(tmp_path):
    with pytest.raises(runtime.MissingFileError, match=r"--resume: no such checkpoint file "
                                                       r"'missing\.pth'"):
        runtime.set_resume(small_cfg(), 'missing.pth')


def test_an_unknown_package_scope_is_a_config_error():
    with pytest.raises(runtime.ConfigError, match='mmdt::retinanet/x.py: .*mmdt'):
        runtime.load_user_config('mmdt::retinanet/x.py')


def test_tta_wraps_model_and_pipeline():
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackDetInputs')]
    cfg = small_cfg(test_dataloader=dict(dataset=dict(type='CocoDataset', pipeline=pipeline)))
    with pytest.warns(UserWarning, match='tta'):
        runtime.enable_tta(cfg)
    assert cfg.model.type == 'DetTTAModel' and cfg.model.module.type == 'RetinaNet'
    assert cfg.test_dataloader.dataset.pipeline[0].type == 'LoadImageFromFile'
    assert cfg.test_dataloader.dataset.pipeline[-1].type == 'TestTimeAug'


def test_cpu_distributed_noop_without_launcher():
    cfg = small_cfg(launcher='none')
    assert runtime.setup_cpu_distributed(cfg) is False
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    with pytest.raises(ValueError, match='launcher'):
        runtime.setup_cpu_distributed(small_cfg(launcher='torchrun'))


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_cpu_distributed_uses_gloo(monkeypatch):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(port)).items():
        monkeypatch.setenv(key, value)
    cfg = small_cfg(launcher='pytorch')
    try:
        assert runtime.setup_cpu_distributed(cfg) is True
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.device_ids is None
        assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
        assert torch_dist.is_initialized() and torch_dist.get_backend() == 'gloo'
        module = torch.nn.Linear(2, 1)
        runner = SimpleNamespace(model=MMDistributedDataParallel(module, device_ids=None))
        assert runtime.close_process_group(runner) is True  # what train.py and test.py end with
        assert runner.model is module  # the wrapper (its DDP reducer) freed before the group
        assert not torch_dist.is_initialized()
        assert runtime.close_process_group(runner) is False
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


@pytest.mark.parametrize('hook_type', ['LoggerHook', 'mmengine.LoggerHook', LoggerHook])
def test_test_metrics_are_logged_by_the_main_process(hook_type):
    cfg = small_cfg(default_hooks=dict(logger=dict(type=hook_type, interval=7)))
    assert runtime.log_test_metrics_once(cfg) is True
    assert cfg.default_hooks.logger == dict(type='MainProcessLoggerHook', interval=7)
    assert 'asl_det.engine.hooks.main_process_logger_hook' in cfg.custom_imports.imports
    assert runtime.log_test_metrics_once(cfg) is False  # already the main-process hook


def test_a_custom_logger_hook_or_none_is_left_alone():
    @HOOKS.register_module(force=True)
    class MyLoggerHook(LoggerHook):
        pass

    cfg = small_cfg(default_hooks=dict(logger=dict(type='MyLoggerHook')))
    assert runtime.log_test_metrics_once(cfg) is False
    assert cfg.default_hooks.logger.type == 'MyLoggerHook'
    assert runtime.log_test_metrics_once(small_cfg()) is False
    assert runtime.log_test_metrics_once(small_cfg(default_hooks=dict(logger=None))) is False


@pytest.mark.parametrize('pairs, message', [
    (['model.x'], "argument --cfg-options: 'model.x' is not KEY=VALUE"),
    (['a=1', 'a=2'], 'argument --cfg-options: a is given twice'),
    (['a=[1,2'], "argument --cfg-options: cannot parse 'a=[1,2'")])
def test_key_value_options_are_usage_errors(pairs, message, capsys):
    import argparse
    parser = argparse.ArgumentParser(prog='tool.py')
    runtime.add_common_arguments(parser)
    assert parser.parse_args(['--cfg-options', 'a=1', 'b=x']).cfg_options == dict(a=1, b='x')
    with pytest.raises(SystemExit) as exit_status:
        parser.parse_args(['--cfg-options', *pairs])
    assert exit_status.value.code == 2
    assert f'tool.py: error: {message}' in capsys.readouterr().err
