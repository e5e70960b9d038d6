"""Which of MMDetection's own detector families train with the Asymmetric Loss.

:func:`find_families` groups the detector configs shipped in the installed mmdet
(``mmdet/.mim/configs``) into families; :func:`check_config` applies the ``--asl`` swap to one
config (:func:`~asl_det.config.asl_swap.swap_in_asl`, as ``tools/train.py --asl`` does), runs
:func:`~asl_det.config.model_trial.run_trial` (build without pretrained weights, one training
and one inference step on two small synthetic images on CPU) and says whether ASL works, was
refused (the swap's reason) or failed (the error); :func:`coverage_markdown` renders the page of
``tools/asl_coverage.py``.
"""
import copy
import glob
import os.path as osp
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from asl_det.config.asl_swap import (
    QUALITY_TARGET_HEADS,
    is_sigmoid_loss,
    score_activation_override,
    swap_in_asl,
    type_name,
)
from asl_det.config.model_trial import first_line, mmdet_config_root, run_trial

#: What :func:`check_config` can find. 'not run': this machine cannot check the family (its model
#: needs a download, or it fails without ASL too, e.g. an op with no CPU kernel).
RESULTS = ('works', 'refused', 'failed', 'not run')
#: Detector base classes in scope: single-stage detectors and the DETR family.
DETECTOR_BASES = ('SingleStageDetector', 'DetectionTransformer')


def representative_key(path: str) -> Tuple[bool, int, str]:
    """Sort key that puts a family's representative config first: a ResNet-50 config ('r50' in
    the file name, the zoo's reference backbone), then the shortest file name (the family's plain
    config rather than a variant of it), then alphabetical order."""
    name = osp.basename(path)
    return ('r50' not in name, len(name), path)


@dataclass(frozen=True)
class Family:
    """Detector configs sharing detector type, head type and classifier loss type."""
    detector: str
    head: str
    loss: Optional[str]  # type of ``bbox_head.loss_cls``; None: the config sets none
    sigmoid: bool  # the classifier loss is a sigmoid one (in scope)
    configs: Tuple[str, ...]  # paths relative to :func:`mmdet_config_root`

    @property
    def name(self) -> str:
        return f'{self.detector} / {self.head} / {self.loss}'

    @property
    def representative(self) -> str:
        return min(self.configs, key=representative_key)


@dataclass
class CoverageRow:
    """What :func:`check_config` found for one config."""
    family: str
    config: str
    head: str
    result: str  # one of RESULTS
    detail: str  # works: the swapped losses; refused: the swap's reason; failed: the error
    target: str = '-'  # what the ASL losses were called with, e.g. '(labels, scores)'
    shifted_scores: str = '-'  # 'yes', 'no: <method that scores instead>', or '-'


def _detector_kind(detector_type: Any) -> Optional[str]:
    """The :data:`DETECTOR_BASES` entry the detector class derives from, else None."""
    from mmdet.registry import MODELS
    cls = MODELS.get(detector_type) if isinstance(detector_type, str) else detector_type
    names = [k.__name__ for k in getattr(cls, '__mro__', ())]
    return next((base for base in DETECTOR_BASES if base in names), None)


def find_families(root: Optional[str] = None
                  ) -> Tuple[List[Family], List[Tuple[str, str]]]:
    """Group the single-stage and DETR-family detector configs under ``root``.

    Loads every ``*.py`` config outside ``_base_`` (about 800 files, a minute or two). Configs
    without a ``model``, with another kind of detector (two-stage, trackers, ...) or without a
    ``bbox_head`` are left out.

    Returns:
        (families sorted by name, [(config, error)] for configs that do not load here, e.g.
        those that import mmpretrain). A family with ``sigmoid=False`` has no ``loss_cls`` in its
        config or a softmax one.
    """
    root = root or mmdet_config_root()
    groups: Dict[Tuple[str, str, Optional[str], bool], List[str]] = {}
    unloadable = []
    for path in sorted(glob.glob(osp.join(root, '**', '*.py'), recursive=True)):
        rel = osp.relpath(path, root)
        if rel.split(osp.sep)[0] == '_base_':
            continue
        try:
            cfg = Config.fromfile(path)
        except Exception as error:  # noqa: BLE001 (a config that needs another package)
            message = first_line(error).replace(root + osp.sep, '')
            unloadable.append((rel, f'{type(error).__name__}: {message}'))
            continue
        model = cfg.get('model')
        head = model.get('bbox_head') if isinstance(model, dict) else None
        if not isinstance(head, dict) or _detector_kind(model.get('type')) is None:
            continue
        loss = head.get('loss_cls')
        loss_type = type_name(loss.get('type')) if isinstance(loss, dict) else None
        sigmoid = isinstance(loss, dict) and is_sigmoid_loss(loss)
        key = (type_name(model['type']), type_name(head['type']), loss_type, sigmoid)
        groups.setdefault(key, []).append(rel)
    families = [Family(*key, configs=tuple(paths)) for key, paths in groups.items()]
    return sorted(families, key=lambda f: f.name), unloadable


def check_config(config: str, image_size: int = 64, max_queries: int = 30,
                 family: Optional[str] = None, config_root: Optional[str] = None,
                 max_image_size: int = 512, num_threads: int = 1) -> CoverageRow:
    """Swap ASL into ``config`` (a path, or relative to :func:`mmdet_config_root`), build it, run
    one training and one inference step on CPU and say what happened.

    'works' means: the swap accepted the config; the model built without pretrained weights;
    every swapped loss was called in training (TOOD: one step before and one after its
    ``initial_epoch``); loss and gradients are finite; inference returned finite scores for both
    images. When the swapped model fails, the unswapped config runs the same steps: if it fails
    too (a detector whose deepest feature map is too small for its deformable convolutions,
    e.g. DDOD), both run again at twice the image size, up to ``max_image_size``; if it works,
    the failure is ASL's. The ``shifted_scores`` column says whether inference went through
    ``AsymmetricLoss.get_activation`` (measured); a disagreement with
    :func:`score_activation_override` (the rule behind the build-time warning) or of the
    classifier target with :data:`QUALITY_TARGET_HEADS` is flagged in the row. The trials run
    torch on ``num_threads`` threads.
    """
    root = config_root or mmdet_config_root()
    path = config if osp.isfile(config) else osp.join(root, config)
    cfg = Config.fromfile(path)
    head_type = type_name(cfg.model.get('bbox_head', {}).get('type'))
    loss = cfg.model.get('bbox_head', {}).get('loss_cls') or {}
    row = CoverageRow(family=family or f'{type_name(cfg.model.type)} / {head_type} / '
                      f'{type_name(loss.get("type"))}',
                      config=config, head=head_type, result='failed', detail='')
    if cfg.model.get('language_model') is not None:
        row.result = 'not run'
        row.detail = (f'needs the language model {cfg.model.language_model.get("name")!r} '
                      'downloaded from the Hugging Face hub')
        return row
    original = copy.deepcopy(cfg)
    try:
        swapped = swap_in_asl(cfg)
    except ValueError as error:
        row.result, row.detail = 'refused', str(error)
        return row

    size = image_size
    while True:
        run = run_trial(cfg, swapped, size, max_queries, root, num_threads)
        if run.error is None:
            break
        if run_trial(original, [], size, max_queries, root, num_threads).error is None:
            row.detail = f'{run.error} (the unswapped config works at {size} px)'
            return row
        if size * 2 > max_image_size:
            row.result = 'not run'
            row.detail = (f'{run.error}; the unswapped config fails the same way at every image '
                          f'size up to {size} px, so this machine cannot check it'
                          + (' (the ASL training step passed)' if run.stage == 'predict'
                             else ''))
            return row
        size *= 2

    names = [p[len('model.'):] for p in swapped]
    row.result = 'works'
    row.detail = ', '.join(swapped) + (f' ({size} px images: at {size // 2} px the unswapped '
                                       'config fails too)' if size != image_size else '')
    row.target = ' then '.join('/'.join(sorted(set(run.calls[name]))) for name in names)
    head_targets = run.calls.get('bbox_head.loss_cls') or []
    if ('(labels, scores)' in head_targets) != (head_type in QUALITY_TARGET_HEADS):
        row.target += ' (disagrees with QUALITY_TARGET_HEADS)'
    if run.shifts:
        override = score_activation_override(head_type)
        row.shifted_scores = 'yes' if run.activations else f'no: {override}'
        if bool(run.activations) == (override is not None):
            row.shifted_scores += ' (disagrees with score_activation_override)'
    return row


def check_families(families: Sequence[Family], image_size: int = 64, max_queries: int = 30,
                   progress: Optional[Callable[[CoverageRow], None]] = None
                   ) -> List[CoverageRow]:
    """:func:`check_config` on the representative of each family, in order."""
    rows = []
    for family in families:
        row = check_config(family.representative, image_size, max_queries, family=family.name)
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


# ---------------------------------------------------------------------------------- the report

def count_line(rows: Sequence[CoverageRow]) -> str:
    """'N of M families train with ASL' over the rows that ran (not 'not run')."""
    ran = [row for row in rows if row.result != 'not run']
    works = sum(row.result == 'works' for row in ran)
    return f'{works} of {len(ran)} families train with ASL'


def coverage_table(rows: Sequence[CoverageRow]) -> str:
    """The markdown table (left-aligned text): family, config, result, classifier target,
    shifted scores, detail."""
    def cell(text: str) -> str:
        return text.replace('|', '\\|').replace('\n', ' ')
    header = ['family (detector / head / loss_cls)', 'config', 'result', 'classifier target',
              "score_activation='shifted' honoured", 'detail']
    body = [[cell(row.family), f'`{row.config}`', row.result, row.target,
             cell(row.shifted_scores), cell(row.detail)] for row in rows]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(cells) + ' |' for cells in body])


def coverage_markdown(rows: Sequence[CoverageRow], families: Sequence[Family],
                      unloadable: Sequence[Tuple[str, str]], command: str,
                      image_size: int = 64) -> str:
    """The whole coverage page (``configs/README.md``): how it was made, the count, the table,
    the families left out and the configs that do not load."""
    import mmdet
    checked = {row.family for row in rows}
    left_out = [f for f in families if not f.sigmoid and f.name not in checked]
    lines = [
        "# ASL coverage of MMDetection's own detector configs",
        '',
        f'Generated by `{command}` (mmdet {mmdet.__version__}, torch {torch.__version__}, CPU); '
        'do not edit by hand.',
        '',
        'For every detector family in the installed mmdet (`mmdet/.mim/configs`): a single-stage '
        'or DETR-family detector type, its `bbox_head` type and the type of its `loss_cls`. '
        'Families whose `loss_cls` is a sigmoid loss are checked. The representative config of '
        'a family is a ResNet-50 one (`r50` in the file name) if there is one, then the '
        'shortest file name, then the first in alphabetical order. Each representative gets the '
        '`--asl` swap (`tools/train.py CONFIG --asl`, default ASL settings); then the model is '
        'built without pretrained weights (DETR queries capped), and one training step (loss + '
        'backward; TOOD: one before and one after its `initial_epoch`) and one inference step run '
        f'on two synthetic {image_size} px images with 2 and 1 boxes. If the swapped model '
        'fails, the '
        'unswapped config runs the same steps; if it fails too, both run again at twice the '
        'image size, up to 512 px.',
        '',
        '- **works**: every swapped loss was called in training, loss and gradients are finite, '
        'and inference returned finite scores. **refused**: the swap said no (its reason is '
        'quoted). **failed**: the error and where it was raised. **not run**: this machine '
        'cannot check the family: its model needs a download, or it fails the same way without '
        'ASL (not counted).',
        '- **classifier target**: what the ASL losses were called with, in training order.',
        "- **score_activation='shifted' honoured**: measured. *yes*: the head scored detections "
        'with `AsymmetricLoss.get_activation` (`max(sigmoid(x) - clip, 0)`). *no*: the head '
        'scores in the method named, with its own activation (a plain sigmoid; TOOD: its '
        'probabilities), and the training tools warn about it at build time.',
        '',
        f'**{count_line(rows)}.**',
        '',
        coverage_table(rows),
        '',
        '## Families not checked',
        '',
        'Single-stage or DETR-family detectors whose head config has no `loss_cls` (the head '
        'computes its classification loss itself) or a softmax one:',
        '',
    ]
    lines += [f'- {f.name}: `{f.representative}`' for f in left_out]
    if unloadable:
        lines += ['', '## Configs that do not load here', '',
                  f'{len(unloadable)} configs (not counted above):', '']
        lines += [f'- `{path}`: {error}' for path, error in unloadable]
    return '\n'.join(lines) + '\n'
