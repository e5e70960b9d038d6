"""MainProcessLoggerHook: the test metrics JSON is written by the main process only."""
import json
from types import SimpleNamespace

import pytest
from mmdet.registry import HOOKS

from asl_det.engine.hooks import main_process_logger_hook
from asl_det.engine.hooks.main_process_logger_hook import MainProcessLoggerHook


def fake_test_runner(log_dir):
    processor = SimpleNamespace(get_log_after_epoch=lambda runner, n, mode, with_non_scalar:
                                ({'coco/bbox_mAP': 0.5}, 'bbox_mAP: 0.5'))
    return SimpleNamespace(log_processor=processor, test_dataloader=[0, 1], log_dir=str(log_dir),
                           logger=SimpleNamespace(info=lambda message: None))


@pytest.mark.parametrize('main', [True, False])
def test_only_the_main_process_writes_the_test_metrics(tmp_path, monkeypatch, main):
    monkeypatch.setattr(main_process_logger_hook, 'is_main_process', lambda: main)
    hook = HOOKS.build(dict(type='MainProcessLoggerHook'))
    assert isinstance(hook, MainProcessLoggerHook)
    hook.json_log_path = 'metrics.json'  # LoggerHook.before_run names it after the timestamp
    hook.after_test_epoch(fake_test_runner(tmp_path))
    written = tmp_path / 'metrics.json'
    assert written.exists() is main
    if main:
        assert json.loads(written.read_text()) == {'coco/bbox_mAP': 0.5}
