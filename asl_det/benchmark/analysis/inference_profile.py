"""What a trained dense detector sends into NMS: candidates, detections, time and COCO mAP."""
import copy
import itertools
import time
from typing import Dict, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from asl_det.checkpoint import use_safe_checkpoint_loader

_PROFILE_IDS = itertools.count()


@torch.no_grad()
def profile_inference(cfg: Config, checkpoint: str, score_activation: Optional[str] = None,
                      max_batches: Optional[int] = None,
                      trust_checkpoint: bool = False) -> Dict[str, float]:
    """Evaluate ``checkpoint`` on the config's test set and count what enters NMS.

    Args:
        cfg: a detector config (single-stage head with ``loss_cls``); its ``test_dataloader`` and
            ``test_evaluator`` are used.
        checkpoint: weights to load.
        score_activation: for an ``AsymmetricLoss`` head, 'sigmoid' or 'shifted' overrides how
            logits become scores at inference; None keeps the config's.
        max_batches: stop after this many batches (None: the whole test set).
        trust_checkpoint: load ``checkpoint`` with a full unpickling (``weights_only=False``);
            only for trusted files. Default: asl_det's safe loader, which this function installs
            (:func:`~asl_det.checkpoint.use_safe_checkpoint_loader`, for the whole process).

    Returns:
        dict with ``candidates_per_image`` (scores above ``score_thr``, capped at ``nms_pre`` per
        FPN level, as mmdet's ``filter_scores_and_topk`` keeps them), ``detections_per_image``,
        ``seconds_per_image`` (model time, data loading and the first, warm-up batch excluded)
        and the evaluator's metrics.
    """
    use_safe_checkpoint_loader(trust=trust_checkpoint)
    cfg = copy.deepcopy(cfg)
    if score_activation is not None:
        cfg.model.bbox_head.loss_cls.score_activation = score_activation
    cfg.load_from = checkpoint
    cfg.work_dir = cfg.get('work_dir') or 'work_dirs/profile_inference'
    # the visualizer and the logger are named singletons: a name of its own for each profile
    suffix = f'profile{next(_PROFILE_IDS)}'
    cfg.visualizer = dict(cfg.get('visualizer') or dict(type='Visualizer'))
    cfg.visualizer['name'] = f"{cfg.visualizer.get('name', 'visualizer')}_{suffix}"
    cfg.experiment_name = f"{cfg.get('experiment_name') or 'inference'}_{suffix}"
    runner = Runner.from_cfg(cfg)
    runner.load_checkpoint(checkpoint, map_location='cpu')
    model = runner.model.eval()
    head = model.bbox_head
    test_cfg = head.test_cfg
    score_thr, nms_pre = test_cfg.get('score_thr', 0.0), test_cfg.get('nms_pre', -1)
    activation = (head.loss_cls.get_activation
                  if getattr(head.loss_cls, 'custom_cls_channels', False) else torch.sigmoid)

    counts = dict(candidates=0, detections=0, images=0, seconds=0.0, timed_images=0)

    def count_candidates(module, args, outputs):
        for level_scores in outputs[0]:  # (B, A*C, H, W) per level
            scores = activation(level_scores.permute(0, 2, 3, 1).reshape(
                level_scores.size(0), -1, head.cls_out_channels))
            above = (scores > score_thr).flatten(1).sum(1)
            if nms_pre > 0:
                above = above.clamp(max=nms_pre)
            counts['candidates'] += int(above.sum())

    handle = head.register_forward_hook(count_candidates)
    evaluator = runner.build_evaluator(cfg.test_evaluator)
    dataloader = runner.build_dataloader(cfg.test_dataloader)
    evaluator.dataset_meta = dataloader.dataset.metainfo
    try:
        for index, batch in enumerate(dataloader):
            if max_batches is not None and index >= max_batches:
                break
            start = time.perf_counter()
            outputs = model.test_step(batch)
            if index > 0:  # the first batch warms up allocators and caches
                counts['seconds'] += time.perf_counter() - start
                counts['timed_images'] += len(outputs)
            counts['images'] += len(outputs)
            counts['detections'] += sum(len(o.pred_instances) for o in outputs)
            evaluator.process(data_samples=outputs, data_batch=batch)
    finally:
        handle.remove()
    images = max(counts['images'], 1)
    metrics = evaluator.evaluate(counts['images'])
    return dict(candidates_per_image=counts['candidates'] / images,
                detections_per_image=counts['detections'] / images,
                seconds_per_image=counts['seconds'] / max(counts['timed_images'], 1),
                **metrics)
