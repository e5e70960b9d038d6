"""One trial of a detector config on CPU: build it with no downloads, run one training step (loss
+ backward) and one inference step on two small synthetic images, and record what the
AsymmetricLoss modules were called with and whether they scored the detections.

:func:`run_trial` never raises: a failure comes back as text naming the step, the error and
where it was raised. ``asl_det.config.coverage`` runs it over mmdet's own configs.
"""
import contextlib
import copy
import logging
import os.path as osp
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict

from asl_det.models.losses import AsymmetricLoss

#: Ground-truth boxes of the two synthetic images, as fractions (x1, y1, x2, y2) of the side.
SYNTHETIC_BOXES = (((0.10, 0.15, 0.55, 0.60), (0.45, 0.35, 0.95, 0.90)),
                   ((0.25, 0.20, 0.80, 0.75),))
#: Longest error message quoted.
MAX_DETAIL = 200


def mmdet_config_root() -> str:
    """The config folder shipped in the installed mmdet wheel (``mmdet/.mim/configs``)."""
    import mmdet
    return osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')


def _is_pretrained(init_cfg: Any) -> bool:
    return isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'


def without_pretrained(node: Any, config_root: Optional[str] = None) -> Any:
    """A copy of a model config that downloads nothing.

    ``init_cfg`` entries of type 'Pretrained' are dropped, ``pretrained`` becomes None (False
    where it is a flag, as in timm backbones), ``teacher_ckpt`` None, and a ``teacher_config``
    file (LD names it relative to the mmdet repository, ``configs/...``) is loaded and becomes
    ``dict(model=<its model, without pretrained>)``.
    """
    if isinstance(node, (list, tuple)):
        return type(node)(without_pretrained(v, config_root) for v in node)
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == 'init_cfg' and _is_pretrained(value):
            value = None
        elif key == 'init_cfg' and isinstance(value, (list, tuple)):
            value = [v for v in value if not _is_pretrained(v)] or None
        elif key == 'pretrained':
            value = False if isinstance(value, bool) else None
        elif key == 'teacher_ckpt':
            value = None
        elif key == 'teacher_config' and isinstance(value, str):
            teacher = Config.fromfile(resolve_config_path(value, config_root))
            value = dict(model=without_pretrained(teacher.model.to_dict(), config_root))
        else:
            value = without_pretrained(value, config_root)
        out[key] = value
    return out


def resolve_config_path(path: str, config_root: Optional[str] = None) -> str:
    """``path`` if it is a file, else the same path under ``config_root`` (default: the installed
    mmdet's configs), a leading ``configs/`` dropped."""
    if osp.isfile(path):
        return path
    root = config_root or mmdet_config_root()
    relative = path[len('configs/'):] if path.startswith('configs/') else path
    return osp.join(root, relative)


def shrink_for_cpu(model_cfg: dict, max_queries: int) -> dict:
    """A copy of ``model_cfg`` cheap enough for one CPU step: at most ``max_queries`` DETR
    queries (and denoising queries) and no batch augmentation in the data preprocessor (YOLOX's
    random resize would change the image size)."""
    model_cfg = copy.deepcopy(model_cfg)
    if isinstance(model_cfg.get('num_queries'), int):
        model_cfg['num_queries'] = min(model_cfg['num_queries'], max_queries)
    group_cfg = (model_cfg.get('dn_cfg') or {}).get('group_cfg') or {}
    if isinstance(group_cfg.get('num_dn_queries'), int):
        group_cfg['num_dn_queries'] = min(group_cfg['num_dn_queries'], max_queries)
    preprocessor = model_cfg.get('data_preprocessor')
    if isinstance(preprocessor, dict) and preprocessor.get('batch_augments'):
        preprocessor['batch_augments'] = None
    return model_cfg


def _loads_masks(node: Any) -> bool:
    """Whether a (dataloader) config loads instance masks: RTMDet-Ins and friends train on them."""
    if isinstance(node, dict):
        if node.get('type') == 'LoadAnnotations' and node.get('with_mask'):
            return True
        return any(_loads_masks(v) for v in node.values())
    if isinstance(node, (list, tuple)):
        return any(_loads_masks(v) for v in node)
    return False


def synthetic_batch(num_classes: int, image_size: int, with_mask: bool = False,
                    seed: int = 0) -> dict:
    """Two noise images of ``image_size`` px with the boxes of :data:`SYNTHETIC_BOXES`,
    labels 1, 2, ... (mod ``num_classes``), packed as mmdet's data loader packs them."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    label = 0
    for index, boxes in enumerate(SYNTHETIC_BOXES):
        inputs.append(torch.randint(0, 256, (3, image_size, image_size), generator=generator,
                                    dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(
            img_id=index, img_path=f'synthetic_{index}.png', img_shape=(image_size, image_size),
            ori_shape=(image_size, image_size), scale_factor=(1.0, 1.0), flip=False,
            flip_direction=None, border=[0, 0, 0, 0]))
        bboxes = torch.tensor(boxes, dtype=torch.float32) * image_size
        labels = torch.arange(label + 1, label + 1 + len(boxes)) % num_classes
        label += len(boxes)
        gt = InstanceData(bboxes=bboxes, labels=labels)
        if with_mask:
            masks = torch.zeros(len(boxes), image_size, image_size, dtype=torch.uint8)
            for i, (x1, y1, x2, y2) in enumerate(bboxes.round().long().tolist()):
                masks[i, y1:y2, x1:x2] = 1
            gt.masks = BitmapMasks(masks.numpy(), image_size, image_size)
        sample.gt_instances = gt
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@contextlib.contextmanager
def _quiet_logger():
    """mmengine's current logger at WARNING inside (init_weights logs every parameter)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:MAX_DETAIL] if text else ''


def _where(error: BaseException) -> str:
    """``file:line`` (from ``mmdet/`` or ``asl_det/`` on) of the innermost frame of ``error``."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        for package in ('mmdet', 'asl_det', 'mmengine', 'mmcv', 'torch'):
            marker = f'{osp.sep}{package}{osp.sep}'
            if marker in frame.filename:
                start = frame.filename.rindex(marker) + 1
                return f'{frame.filename[start:]}:{frame.lineno}'
    return ''


def _target_kind(target: Any) -> str:
    if isinstance(target, (tuple, list)):
        return '(labels, scores)'
    if isinstance(target, torch.Tensor) and target.dim() == 2:
        return 'soft (N, C)'
    return 'labels'


class _CallRecorder:
    """Records, per AsymmetricLoss module, the target form of each call (forward hooks)."""

    def __init__(self, modules: Dict[str, AsymmetricLoss]):
        self.calls: Dict[str, List[str]] = {name: [] for name in modules}
        self._handles = [module.register_forward_hook(self._hook(name), with_kwargs=True)
                         for name, module in modules.items()]

    def _hook(self, name: str) -> Callable:
        def record(module, args, kwargs, output):
            target = args[1] if len(args) > 1 else kwargs.get('target')
            self.calls[name].append(_target_kind(target))
        return record

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def _train_step(model, batch: dict, epoch: int) -> torch.Tensor:
    """One loss + backward at ``epoch`` (TOOD reads it from the message hub). Raises
    FloatingPointError on a non-finite loss or gradient."""
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('epoch', epoch)
    model.train()
    model.zero_grad()
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, _ = model.parse_losses(losses)
    if not torch.isfinite(total):
        raise FloatingPointError(f'non-finite total loss {total.item()} at epoch {epoch}')
    total.backward()
    for name, param in model.named_parameters():
        if param.grad is not None and not torch.isfinite(param.grad).all():
            raise FloatingPointError(f'non-finite gradient of {name} at epoch {epoch}')
    return total


def _predict(model, batch: dict, head_loss: Optional[AsymmetricLoss]) -> int:
    """Inference on each image alone (batch 1, as mmdet's test loaders; GA-RetinaNet's masked
    convolution takes no more); returns how often ``head_loss.get_activation`` scored."""
    calls = [0]
    if head_loss is not None:
        original = head_loss.get_activation

        def counting(cls_score):
            calls[0] += 1
            return original(cls_score)
        head_loss.get_activation = counting  # instance attribute on our own loss, removed below
    model.eval()
    try:
        for image, sample in zip(batch['inputs'], batch['data_samples']):
            with torch.no_grad():
                data = model.data_preprocessor(
                    dict(inputs=[image], data_samples=[copy.deepcopy(sample)]), False)
                results = model.predict(data['inputs'], data['data_samples'])
            scores = results[0].pred_instances.scores
            if not torch.isfinite(scores).all() or (scores < 0).any():
                raise FloatingPointError('predicted scores are not finite and >= 0')
    finally:
        if head_loss is not None:
            del head_loss.get_activation
    return calls[0]


@dataclass
class TrialResult:
    """What :func:`run_trial` found."""
    error: Optional[str] = None  # 'stage: Error: message (at file:line)'; None: it worked
    stage: str = 'build'  # the step that failed (or the last one): build, train or predict
    calls: Optional[Dict[str, List[str]]] = None  # target forms per swapped loss module
    shifts: bool = False  # the head's loss_cls is an AsymmetricLoss with the shifted activation
    activations: int = 0  # get_activation calls in inference


@contextlib.contextmanager
def _torch_threads(num_threads: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_trial(cfg: Config, swapped: Sequence[str], image_size: int, max_queries: int,
              config_root: Optional[str] = None, num_threads: int = 1) -> TrialResult:
    """Build ``cfg.model`` (:func:`without_pretrained`, :func:`shrink_for_cpu`), train one step
    per epoch phase (TOOD: before and after its ``initial_epoch``) and predict each image.

    Args:
        cfg: a loaded config, swapped or not.
        swapped: dotted paths of its AsymmetricLoss configs (``swap_in_asl``'s return value);
            each must be called in training.
        image_size: side of the synthetic images (px).
        max_queries: cap on DETR queries.
        config_root: where a ``teacher_config`` named ``configs/...`` lives.
        num_threads: torch threads meanwhile (restored after). One is plenty for 64 px images,
            and several are many times slower on a shared machine.
    """
    with _torch_threads(num_threads):
        return _run_trial(cfg, swapped, image_size, max_queries, config_root)


def _run_trial(cfg: Config, swapped: Sequence[str], image_size: int, max_queries: int,
               config_root: Optional[str]) -> TrialResult:
    from mmdet.registry import MODELS
    run = TrialResult()
    try:
        model_cfg = shrink_for_cpu(without_pretrained(cfg.model.to_dict(), config_root),
                                   max_queries)
        torch.manual_seed(0)
        model = MODELS.build(ConfigDict(model_cfg))  # heads read test_cfg.<key>
        with _quiet_logger():
            model.init_weights()
        batch = synthetic_batch(model.bbox_head.num_classes, image_size,
                                with_mask=_loads_masks(cfg.get('train_dataloader')))
        modules = dict(model.named_modules())
        recorder = _CallRecorder({p[len('model.'):]: modules[p[len('model.'):]]
                                  for p in swapped})
        run.stage = 'train'
        try:
            epochs = sorted({0, int(getattr(model.bbox_head, 'initial_epoch', 0) or 0)})
            for epoch in epochs:
                _train_step(model, batch, epoch)
        finally:
            recorder.remove()
        run.calls = recorder.calls
        uncalled = [name for name, calls in run.calls.items() if not calls]
        if uncalled:
            raise RuntimeError(f'AsymmetricLoss at {", ".join(uncalled)} was never called in '
                               f'training (epochs {epochs}): the head does not use it')
        run.stage = 'predict'
        head_loss = getattr(model.bbox_head, 'loss_cls', None)
        run.shifts = isinstance(head_loss, AsymmetricLoss) and head_loss.custom_cls_channels
        run.activations = _predict(model, batch, head_loss if run.shifts else None)
    except Exception as error:  # noqa: BLE001 (the table reports every failure)
        where = _where(error)
        run.error = (f'{run.stage}: {type(error).__name__}: {first_line(error)}'
                     + (f' (at {where})' if where else ''))
    return run
