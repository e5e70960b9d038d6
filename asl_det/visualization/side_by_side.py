"""The same images drawn with two or more trained detectors side by side
(``tools/compare.py WORK_DIR WORK_DIR ... --side-by-side OUT_DIR``).

One row per image: its ground truth, then each model's detections. Each model is drawn at its
own score threshold, chosen by one rule for all: the best F1 on the validation set
(:mod:`asl_det.inference.score_threshold`, COCO's matching at IoU 0.5), because ASL's
``'shifted'`` scores and focal loss's sigmoid scores sit on different scales. The images come
from the validation set (default) or from another COCO json (``drawn``): for a study's
missing-label condition, the full train labels, with ``train_ann`` (the labels the runs were
trained with) marking the boxes that were dropped: those are drawn dashed on every panel and
each model's caption counts how many it found. Images are chosen the same way for every model
(:mod:`.selection`). Writes ``page_001.png``, ... (``rows_per_page`` rows each) and
``index.md`` / ``index.json`` (thresholds, images and counts).
"""
import glob
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import mmcv
import numpy as np

from asl_det.inference.image_files import pipeline_decoding
from asl_det.inference.inputs import InferenceSetupError, prepare_output_dir
from asl_det.inference.labelled_images import Detections, LabelledImages
from asl_det.inference.score_threshold import ScoreThreshold, best_f1_threshold
from asl_det.inference.trained_runs import TrainedRun
from asl_det.inference.weights_fit import CheckedDetInferencer
from asl_det.intake.json_files import write_json_atomic
from asl_det.intake.preflight import find_datasets, resolve_paths
from asl_det.launch.runtime import load_config
from asl_det.relative_paths import relative_if_inside
from asl_det.validation import check_distinct, check_int, check_number

from .panels import (
    draw_boxes,
    for_display,
    image_for_drawing,
    make_visualizer,
    page,
    with_caption,
)
from .selection import SELECTIONS, covered, most_disagreed, sample_images


@dataclass
class SideBySideSettings:
    """How the picture is made.

    ``num_images`` rows in all, ``rows_per_page`` per PNG; ``select``: 'disagree' or 'sample'
    (:mod:`.selection`, with ``seed``); ``iou``: the match IoU of thresholds, disagreement and
    found boxes; ``score_thr``: one fixed threshold for every model instead of each one's best
    F1 (not a fair comparison across losses; for reproducing a fixed-threshold view);
    ``panel_width``: every image drawn this many pixels wide (None: its own width, at least
    :data:`~asl_det.visualization.panels.MIN_PANEL_WIDTH`); ``batch_size``, ``device``,
    ``trust``: for the inferencers (``trust``: full unpickling of trusted checkpoints).
    """
    out_dir: str
    num_images: int = 12
    rows_per_page: int = 4
    select: str = 'disagree'
    seed: int = 0
    iou: float = 0.5
    score_thr: Optional[float] = None
    panel_width: Optional[int] = None
    batch_size: int = 1
    device: Optional[str] = None
    trust: bool = False

    def validate(self) -> None:
        check_int('num_images', self.num_images, 1)
        check_int('rows_per_page', self.rows_per_page, 1)
        check_int('seed', self.seed, 0)
        check_int('batch_size', self.batch_size, 1)
        if self.panel_width is not None:
            check_int('panel_width', self.panel_width, 16)
        check_number('iou', self.iou, 0.5, 0.95)
        if self.score_thr is not None:
            check_number('score_thr', self.score_thr, 0.0, 1.0)
        if self.select not in SELECTIONS:
            raise ValueError(f'select must be one of {SELECTIONS}, got {self.select!r}')


@dataclass(frozen=True)
class ImageSet:
    """A COCO json and the folder its ``file_name``s are relative to."""
    ann_file: str
    img_dir: str


def config_image_set(config_path: str, split: str) -> ImageSet:
    """The annotation file and image folder of a config's ``<split>_dataloader`` dataset."""
    cfg = load_config(config_path)
    found = [dataset for _, dataset, _ in
             find_datasets(cfg.get(f'{split}_dataloader', {}).get('dataset'), split)]
    if len(found) != 1:
        raise InferenceSetupError(f'{config_path}: {split}_dataloader has {len(found)} COCO '
                                  'datasets with an ann_file; name the images to use '
                                  '(--val-ann/--val-img-dir or --gt-ann/--img-dir)')
    return ImageSet(*resolve_paths(found[0]))


def dropped_annotations(full: LabelledImages, train_ann: str) -> Dict[int, Set[int]]:
    """Image id -> ids of ``full``'s boxes that ``train_ann`` lacks, for the images it holds.

    ``train_ann`` must be a missing-label split of ``full`` (tools/study.py's keep the ids of
    the annotations they keep).
    """
    if not osp.isfile(train_ann):
        raise InferenceSetupError(f'--train-ann: no such file {train_ann!r}')
    with open(train_ann) as f:
        train = json.load(f)
    by_id = {ann['id']: ann for ann in full.coco.dataset['annotations']}
    foreign = [ann['id'] for ann in train['annotations']
               if ann['id'] not in by_id or by_id[ann['id']]['bbox'] != ann['bbox']
               or by_id[ann['id']]['category_id'] != ann['category_id']]
    if foreign:
        raise InferenceSetupError(
            f'--train-ann: {len(foreign)} annotations of {train_ann} are not in --gt-ann '
            f'{full.ann_file} with the same id, box and category (e.g. id {foreign[0]}): a '
            'missing-label split keeps the ids of the full file it was drawn from')
    kept = {ann['id'] for ann in train['annotations']}
    images = {image['id'] for image in train['images']}
    dropped: Dict[int, Set[int]] = {}
    for img_id in full.img_ids:
        if img_id in images:
            ids = {ann['id'] for ann in full.annotations(img_id)} - kept
            if ids:
                dropped[img_id] = ids
    return dropped


def caption_of_model(name: str, threshold: Optional[float], counts: Dict) -> str:
    """``name``, its threshold, and its counts (an entry of the index) on one image."""
    if threshold is None:
        return f'{name}: no threshold (no true positive on val)'
    text = f'{name}, score >= {threshold:.3g}: {counts["boxes"]} boxes'
    if counts['found_dropped'] is not None:
        text += f', found {counts["found_dropped"]}/{counts["dropped"]} dropped'
    return text


def draw_side_by_side(runs: Sequence[TrainedRun], settings: SideBySideSettings,
                      val: Optional[ImageSet] = None, drawn: Optional[ImageSet] = None,
                      train_ann: Optional[str] = None,
                      log: Callable[[str], None] = print) -> Dict:
    """Draw ``settings.num_images`` images with every run; see the module docstring.

    Args:
        runs: two or more trained detectors with the same classes.
        settings: see :class:`SideBySideSettings`.
        val: the labelled images the thresholds are chosen on (default: the first run's
            ``val_dataloader`` dataset).
        drawn: the labelled images to draw (default: ``val``).
        train_ann: the labels the runs were trained with, a missing-label split of
            ``drawn.ann_file`` (needs ``drawn``); only images with dropped boxes are
            candidates.
        log: one line per step.

    Returns:
        dict with ``pages`` (PNG paths), ``index`` (index.md path), ``thresholds`` (run name ->
        :class:`~asl_det.inference.score_threshold.ScoreThreshold`) and ``images`` (the drawn
        image ids, in order).
    """
    settings.validate()
    if len(runs) < 2:
        raise InferenceSetupError(f'a side-by-side picture needs two or more runs, got '
                                  f'{len(runs)}')
    check_distinct_run_names([run.name for run in runs])
    if train_ann is not None and drawn is None:
        raise InferenceSetupError('--train-ann needs --gt-ann, the full labels it was drawn '
                                  'from')
    prepare_output_dir(settings.out_dir, '--side-by-side')
    inferencers = []
    for run in runs:
        log(f'[side-by-side] {run.name}: {run.checkpoint} ({run.config})')
        inferencers.append(CheckedDetInferencer(
            model=load_config(run.config), weights=run.checkpoint, device=settings.device,
            show_progress=False, trust=settings.trust, config_name=f'{run.name}: {run.config}',
            weights_name=run.checkpoint))
    classes = tuple(inferencers[0].model.dataset_meta['classes'])
    for run, inferencer in zip(runs, inferencers):
        if tuple(inferencer.model.dataset_meta['classes']) != classes:
            raise InferenceSetupError(
                f'{run.name} detects {list(inferencer.model.dataset_meta["classes"])}, '
                f'{runs[0].name} {list(classes)}: the runs must share their classes')

    val = val or config_image_set(runs[0].config, 'val')
    val_images = LabelledImages(val.ann_file, val.img_dir, classes, '--val-ann')
    if drawn is None:
        shown, dropped = val_images, {}
    else:
        shown = LabelledImages(drawn.ann_file, drawn.img_dir, classes, '--gt-ann')
        dropped = dropped_annotations(shown, train_ann) if train_ann is not None else {}
    candidates = sorted(dropped) if train_ann is not None else shown.img_ids
    if not candidates:
        raise InferenceSetupError('--train-ann: no image of --gt-ann lost a box in it: '
                                  'nothing to show')

    val_predictions, thresholds = [], {}
    for run, inferencer in zip(runs, inferencers):
        log(f'[side-by-side] {run.name}: predicting the {len(val_images.img_ids)} images of '
            f'{val.ann_file}')
        predictions = val_images.predict(inferencer, val_images.img_ids, settings.batch_size,
                                         log=log)
        val_predictions.append(predictions)
        unread = len(val_images.img_ids) - len(predictions)
        if unread:  # their boxes would count as missed
            log(f'[side-by-side] {run.name}: the threshold leaves out the {unread} images that '
                'could not be read')
        best = best_f1_threshold(val_images.coco, val_images.coco_results(predictions),
                                 settings.iou, settings.score_thr, val_images.cat_ids,
                                 img_ids=list(predictions))
        thresholds[run.name] = best
        log(f'[side-by-side] {run.name}: ' + describe_threshold(best, settings.score_thr))

    chosen, predictions = choose(runs, inferencers, shown, val_images, val_predictions,
                                 candidates, thresholds, settings, log)
    if not chosen:
        raise InferenceSetupError(f'none of the {len(candidates)} candidate images could be '
                                  f'decoded ({shown.img_dir})')
    log(f'[side-by-side] {len(chosen)} of {len(candidates)} images ({settings.select}) -> '
        f'{settings.out_dir}')
    return write_pages(runs, shown, dropped, chosen, predictions, thresholds, settings,
                       classes, inferencers[0].model.dataset_meta.get('palette'), val,
                       train_ann, log, decoding=pipeline_decoding(inferencers[0]))


def check_distinct_run_names(names: Sequence[str]) -> None:
    """Runs are told apart by name (thresholds, panels, the index): InferenceSetupError for a
    name given twice (e.g. two work dirs both called ``focal_seed0``)."""
    try:
        check_distinct('run names (--names)', names)
    except ValueError as error:
        raise InferenceSetupError(str(error)) from None


def describe_threshold(best: ScoreThreshold, fixed: Optional[float]) -> str:
    """One line on a run's threshold and its precision, recall and F1 on the val set."""
    if best.threshold is None:
        return (f'no detection matches a labelled box at IoU {best.iou}: drawn without '
                'detections')
    kind = ('fixed threshold (not its best F1)' if fixed is not None
            else 'best-F1 threshold')
    return (f'{kind} {best.threshold:.4f} (F1 {best.f1:.3f}, precision {best.precision:.3f}, '
            f'recall {best.recall:.3f} at IoU {best.iou}; {best.ground_truth} labelled boxes)')


def choose(runs, inferencers, shown: LabelledImages, val_images: LabelledImages,
           val_predictions: List[Dict[int, Detections]], candidates: List[int],
           thresholds: Dict[str, ScoreThreshold], settings: SideBySideSettings, log):
    """(chosen image ids, per-model predictions on them): predicts what the rule needs.
    Images that could not be decoded (no prediction) are not chosen."""
    if settings.select == 'sample':
        needed = sample_images(candidates, settings.num_images, settings.seed)
    else:
        needed = candidates
    if shown is val_images:
        predictions = val_predictions
    else:
        predictions = [shown.predict(inferencer, needed, settings.batch_size, log=log)
                       for inferencer in inferencers]
    readable = [img_id for img_id in needed if all(img_id in model for model in predictions)]
    if settings.select == 'sample':
        return readable, predictions
    thresholded = [{img_id: found.at_least(thresholds[run.name].threshold)
                    for img_id, found in model.items()}
                   for run, model in zip(runs, predictions)]
    return most_disagreed(thresholded, readable, settings.num_images, settings.iou), predictions


def image_entry(img_id: int, page_number: int, shown: LabelledImages, truth: Detections,
                lost: Optional[Detections], found: Dict[str, Detections], iou: float) -> Dict:
    """What the index says of one drawn image: labelled and dropped boxes, and per run its
    boxes, those on a label and the dropped boxes it found."""
    dropped = 0 if lost is None else len(lost)
    return dict(page=page_number, image=shown.file_name(img_id), image_id=img_id,
                labelled=len(truth), dropped=dropped, models={
                    name: dict(boxes=len(boxes), dropped=dropped,
                               on_labels=int(covered(boxes, truth, iou).sum()),
                               found_dropped=None if lost is None
                               else int(covered(lost, boxes, iou).sum()))
                    for name, boxes in found.items()})


def draw_row(visualizer, image: np.ndarray, entry: Dict, truth: Detections,
             lost: Optional[Detections], found: Dict[str, Detections],
             thresholds: Dict[str, ScoreThreshold],
             panel_width: Optional[int] = None) -> List[np.ndarray]:
    """The captioned panels of one image: ground truth, then each run."""
    image, (truth, lost, *boxes) = for_display(image, [truth, lost, *found.values()],
                                               panel_width)
    text = f'{entry["image"]}: {len(truth)} boxes'
    if lost is not None:
        text += f', {len(lost)} of them dropped in training (dashed)'
    panels = [with_caption(draw_boxes(visualizer, image, truth, lost), text)]
    for name, detections in zip(found, boxes):
        panels.append(with_caption(
            draw_boxes(visualizer, image, detections, lost),
            caption_of_model(name, thresholds[name].threshold, entry['models'][name])))
    return panels


def write_pages(runs, shown: LabelledImages, dropped: Dict[int, Set[int]], chosen: List[int],
                predictions, thresholds: Dict[str, ScoreThreshold],
                settings: SideBySideSettings, classes, palette, val: ImageSet,
                train_ann: Optional[str], log, decoding: Tuple[str, str]) -> Dict:
    """Draw the rows, write the pages and the index; returns what :func:`draw_side_by_side`
    returns. Images are decoded as ``decoding`` (imdecode_backend, color_type) says, the test
    pipeline's (:func:`~asl_det.inference.image_files.pipeline_decoding`). Pages an earlier
    picture left in ``settings.out_dir`` are removed first (the index links this picture's
    only)."""
    stale = glob.glob(osp.join(settings.out_dir, 'page_[0-9][0-9][0-9].png'))
    for path in stale:
        os.remove(path)
    if stale:
        log(f'[side-by-side] removed the {len(stale)} pages of an earlier picture in '
            f'{settings.out_dir}')
    visualizer = make_visualizer(classes, palette)
    rows, entries, pages = [], [], []
    for number, img_id in enumerate(chosen):
        truth = shown.ground_truth(img_id)
        lost = shown.ground_truth(img_id, dropped[img_id]) if img_id in dropped else None
        found = {run.name: model.get(img_id, Detections.empty()).at_least(
            thresholds[run.name].threshold) for run, model in zip(runs, predictions)}
        entry = image_entry(img_id, len(pages) + 1, shown, truth, lost, found, settings.iou)
        entries.append(entry)
        rows.append(draw_row(visualizer, image_for_drawing(shown.path(img_id), *decoding),
                             entry, truth, lost, found, thresholds, settings.panel_width))
        if len(rows) == settings.rows_per_page or number == len(chosen) - 1:
            path = osp.join(settings.out_dir, f'page_{len(pages) + 1:03d}.png')
            mmcv.imwrite(page(rows)[..., ::-1], path)
            pages.append(path)
            rows = []
    here = os.getcwd()
    index = dict(
        runs=[dict(name=run.name, work_dir=relative_if_inside(run.work_dir, here),
                   config=relative_if_inside(run.config, here),
                   checkpoint=relative_if_inside(run.checkpoint, here),
                   threshold=asdict(thresholds[run.name]))
              for run in runs],
        thresholds_on=dict(ann_file=val.ann_file, img_dir=val.img_dir),
        drawn=dict(ann_file=shown.ann_file, img_dir=shown.img_dir, train_ann=train_ann),
        select=settings.select, seed=settings.seed, iou=settings.iou,
        fixed_score_thr=settings.score_thr, pages=[osp.basename(p) for p in pages],
        images=entries)
    write_json_atomic(index, osp.join(settings.out_dir, 'index.json'))
    index_md = osp.join(settings.out_dir, 'index.md')
    with open(index_md, 'w') as f:
        f.write(index_markdown(index, runs))
    for path in pages:
        log(f'[side-by-side] {path}')
    log(f'[side-by-side] index: {index_md}')
    return dict(pages=pages, index=index_md, thresholds=thresholds, images=chosen)


def index_markdown(index: Dict, runs) -> str:
    """``index.json`` as a Markdown page: thresholds, how images were chosen, one row per
    image."""
    names = [run.name for run in runs]
    lines = ['# Side by side: ' + ', '.join(names), '']
    if index['fixed_score_thr'] is None:
        lines += [f'Each model is drawn at its own best-F1 score threshold on '
                  f'`{index["thresholds_on"]["ann_file"]}` (COCO matching at IoU '
                  f'{index["iou"]}): scores of different losses sit on different scales, so '
                  'one fixed threshold would compare them unfairly (docs/inference.md).', '']
    else:
        lines += [f'Every model is drawn at the fixed threshold {index["fixed_score_thr"]} '
                  '(not each model\'s best F1).', '']
    lines += ['| model | threshold | F1 | precision | recall | checkpoint |',
              '|---|---:|---:|---:|---:|---|']
    for run in index['runs']:
        best = run['threshold']
        value = '-' if best['threshold'] is None else f'{best["threshold"]:.4f}'
        lines.append(f'| {run["name"]} | {value} | {best["f1"]:.3f} | {best["precision"]:.3f} '
                     f'| {best["recall"]:.3f} | `{run["checkpoint"]}` |')
    drawn = index['drawn']
    how = ('where the models disagree most (detections of one model that another has no '
           'same-class box for at IoU ' f'{index["iou"]})' if index['select'] == 'disagree'
           else f'a fixed random sample (seed {index["seed"]})')
    lines += ['', f'Images: `{drawn["ann_file"]}`, chosen {how}.']
    if drawn['train_ann']:
        lines += [f'Dashed black boxes: labelled in `{drawn["ann_file"]}` but dropped from the '
                  f'training labels `{drawn["train_ann"]}`; only images that lost a box are '
                  'shown. "found": a detection of the same class covers the box at IoU '
                  f'{index["iou"]}.']
    lines += ['"on a label": detections that a labelled box of the same class covers at IoU '
              f'{index["iou"]}.']
    header = ['page', 'image', 'labelled', 'dropped'] + [
        f'{name}: boxes / on a label' + (' / found dropped' if drawn['train_ann'] else '')
        for name in names]
    lines += ['', '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for entry in index['images']:
        cells = [str(entry['page']), entry['image'], str(entry['labelled']),
                 str(entry['dropped'])]
        for name in names:
            model = entry['models'][name]
            cell = f'{model["boxes"]} / {model["on_labels"]}'
            if model['found_dropped'] is not None:
                cell += f' / {model["found_dropped"]}'
            cells.append(cell)
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', *[f'![page {i + 1}]({name})' for i, name in enumerate(index['pages'])], '']
    return '\n'.join(lines)
