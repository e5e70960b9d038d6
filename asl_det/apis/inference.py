"""mmdet's ``init_detector`` and ``DetInferencer`` with the weights loaded by asl_det's safe loader.

Each loads its checkpoint inside :func:`~asl_det.apis.scoped_loading.safe_checkpoint_loading`,
so mmengine's loaders are back as they were when the call returns. Everything else (building
the model, class names and palette from the checkpoint's ``meta``, the test pipeline,
prediction, visualisation, output files) is mmdet's own code.
"""
from typing import Optional, Union

import torch.nn as nn
from mmdet import apis as mmdet_apis
from mmengine.config import Config

from .scoped_loading import safe_checkpoint_loading


def init_detector(config: Union[str, 'Config'],
                  checkpoint: Optional[str] = None,
                  palette: str = 'none',
                  device: str = 'cuda:0',
                  cfg_options: Optional[dict] = None,
                  *,
                  trust: bool = False) -> nn.Module:
    """``mmdet.apis.init_detector`` (same arguments, same model), loading ``checkpoint`` safely.

    Args:
        config, checkpoint, palette, device, cfg_options: as for ``mmdet.apis.init_detector``.
        trust: False (default): weights only plus the globals mmengine checkpoints hold; a file
            needing more raises :class:`~asl_det.checkpoint.UntrustedCheckpointError` and
            nothing in it runs. True: full unpickling, for files you trust.
    """
    with safe_checkpoint_loading(trust):
        return mmdet_apis.init_detector(config, checkpoint, palette=palette, device=device,
                                        cfg_options=cfg_options)


class DetInferencer(mmdet_apis.DetInferencer):
    """``mmdet.apis.DetInferencer`` whose ``weights`` load through asl_det's safe loader.

    Same arguments and results as mmdet's, plus ``trust`` (see :func:`init_detector`). Weights
    load once, in the constructor; calling the inferencer is mmdet's unchanged.

    One refusal mmdet does not make: without a config (``model`` None or empty: ``{}``,
    ``Config()``) and with ``weights``, mmengine reads the config stored in the checkpoint and
    runs it as Python, so code written into an untrusted checkpoint would run. It needs
    ``trust=True``; otherwise pass the config (a ``tools/train.py`` work dir keeps a copy).
    """

    def __init__(self,
                 model: Optional[Union[str, dict, 'Config']] = None,
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 scope: Optional[str] = 'mmdet',
                 palette: str = 'none',
                 show_progress: bool = True,
                 *,
                 trust: bool = False) -> None:
        if not model and weights is not None and trust is not True:
            raise ValueError(
                f'model={model!r} reads the config stored in the checkpoint, and mmengine runs '
                'a config as Python: code in an untrusted checkpoint would run. Pass model= the '
                'config it was trained with (a tools/train.py work dir keeps a copy), or '
                'trust=True for a checkpoint you trust')
        with safe_checkpoint_loading(trust):
            super().__init__(model=model, weights=weights, device=device, scope=scope,
                             palette=palette, show_progress=show_progress)
