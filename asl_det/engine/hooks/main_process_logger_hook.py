"""mmengine's LoggerHook with the test metrics file written by the main process only.

Registered on import of this module (not by ``import asl_det``); ``tools/test.py`` puts it in
place of the config's ``LoggerHook`` (:func:`asl_det.launch.runtime.log_test_metrics_once`).
"""
from typing import Dict, Optional

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import LoggerHook


@HOOKS.register_module()
class MainProcessLoggerHook(LoggerHook):
    """:class:`~mmengine.hooks.LoggerHook` whose ``after_test_epoch`` runs on the main process
    only.

    mmengine 0.10.7 dumps the test metrics (``<work_dir>/<timestamp>/<timestamp>.json``) from
    every rank into the same file, so a distributed test can leave it holding one rank's JSON
    overwritten in part by another's (unparseable). The metrics are gathered across ranks before
    this hook runs, so the main process's copy is complete. Everything else is LoggerHook's.
    """

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        if is_main_process():
            super().after_test_epoch(runner, metrics)
