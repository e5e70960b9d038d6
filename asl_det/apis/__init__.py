"""mmdet's Python inference API, loading checkpoints with asl_det's safe loader.

    from asl_det.apis import DetInferencer, inference_detector, init_detector

is the one-line change to mmdet's tutorial (``from mmdet.apis import ...``) that makes it work
on checkpoints ``tools/train.py`` wrote (torch >= 2.6 refuses them by default). Same signatures
and results as ``mmdet.apis``, plus ``trust=True``, the opt-in for a trusted file that needs a
full unpickling. Importing this module changes nothing in torch, mmengine or mmdet: each call
loads its checkpoint inside :func:`safe_checkpoint_loading` and puts mmengine's loaders back.
The loss and hooks are registered (importing ``asl_det.apis`` imports ``asl_det``). Scores
are the config's: an ``AsymmetricLoss`` head scores with its ``score_activation``, as in
``tools/test.py``.
"""
from mmdet.apis import inference_detector

from .inference import DetInferencer, init_detector
from .scoped_loading import safe_checkpoint_loading

__all__ = ['DetInferencer', 'inference_detector', 'init_detector', 'safe_checkpoint_loading']
