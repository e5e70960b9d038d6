"""The pre-flight's checks of one COCO-format annotation dict against mmdet's ``CocoDataset``.

What mmdet does with each finding decides whether it is an error or a report:
``CocoDataset.parse_data_info`` silently drops boxes with ``w < 1``, ``h < 1`` or ``area <= 0``,
boxes with no overlap with the image, and boxes of categories not in the config's classes; it
keeps boxes that leave the image partly (``Resize`` clips them later). Those are reported (the
box rule of :mod:`.box_rule`, shared with the converters and the config check). Unknown image
or category ids, duplicate ids, missing keys, malformed bboxes and a file without images make
mmdet fail or lose data silently: errors.
"""
import numbers
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .box_rule import DROPPED, PARTLY_OUTSIDE, box_fate, malformed_bbox
from .image_decoding import Decoded

NEAR_DUPLICATE_IOU = 0.9  # two boxes of one class in one image above this IoU: near duplicates
MAX_LISTED = 10  # examples named in a message
#: Fields mmdet's CocoDataset compares as numbers (``ann['area'] <= 0``, the image size), per
#: json section: a string or null there is an error, not a crash while loading.
NUMBER_FIELDS = {'images': {'width': numbers.Real, 'height': numbers.Real},
                 'annotations': {'area': numbers.Real}}


@dataclass
class DatasetReport:
    """What the pre-flight found in one data set. Boxes are COCO ``[x, y, w, h]`` in pixels."""
    name: str  # where the config uses it, e.g. 'train_dataloader'
    ann_file: str
    img_prefix: str
    num_images: int = 0
    num_boxes: int = 0
    num_classes: int = 0
    errors: List[str] = field(default_factory=list)  # fatal, one line each
    bad_images: List[list] = field(default_factory=list)  # [file_name, problem]
    size_mismatches: List[list] = field(default_factory=list)  # [file_name, json wh, decoded wh]
    dropped_boxes: List[list] = field(default_factory=list)  # [file_name, ann id, bbox, why]
    outside_boxes: List[list] = field(default_factory=list)  # [file_name, ann id, bbox]
    near_duplicates: List[list] = field(default_factory=list)  # [file_name, id, id, class, iou]
    warnings: List[str] = field(default_factory=list)  # class order, unused categories
    cached: bool = False

    def summary(self) -> str:
        """One line: counts and the number of each kind of problem."""
        found = [f'{len(self.bad_images)} bad images' if self.bad_images else '',
                 f'{len(self.size_mismatches)} size mismatches' if self.size_mismatches else '',
                 f'{len(self.dropped_boxes)} boxes mmdet drops' if self.dropped_boxes else '',
                 f'{len(self.outside_boxes)} boxes partly outside the image (kept; clipped '
                 'by Resize)' if self.outside_boxes else '',
                 f'{len(self.near_duplicates)} near-duplicate box pairs (IoU > '
                 f'{NEAR_DUPLICATE_IOU})' if self.near_duplicates else '',
                 f'{len(self.warnings)} warnings' if self.warnings else '',
                 f'{len(self.errors)} errors' if self.errors else '']
        found = [text for text in found if text]
        return (f'{self.name}: {self.ann_file}: {self.num_images} images, {self.num_boxes} '
                f'boxes, {self.num_classes} classes; '
                f'{"problems: " + "; ".join(found) if found else "no problems"}'
                f'{" (cached)" if self.cached else ""}')

    def details(self, limit: int = MAX_LISTED) -> List[str]:
        """Lines naming the problems, at most ``limit`` of each kind."""
        lines = [f'  error: {text}' for text in self.errors]
        lines += [f'  warning: {text}' for text in self.warnings]
        kinds = [('bad image', self.bad_images, lambda f, why: f'{f}: {why}'),
                 ('size mismatch', self.size_mismatches,
                  lambda f, json_wh, wh: f'{f}: json {json_wh[0]}x{json_wh[1]}, '
                  f'decoded {wh[0]}x{wh[1]} (width x height)'),
                 ('dropped by mmdet', self.dropped_boxes,
                  lambda f, ann_id, box, why: f'{f}: annotation {ann_id} {box}: {why}'),
                 ('partly outside', self.outside_boxes,
                  lambda f, ann_id, box: f'{f}: annotation {ann_id} {box}'),
                 ('near duplicates', self.near_duplicates,
                  lambda f, a, b, name, iou: f'{f}: annotations {a} and {b} ({name}), '
                  f'IoU {iou:.3f}')]
        for kind, found, describe in kinds:
            lines += [f'  {kind}: {describe(*item)}' for item in found[:limit]]
            if len(found) > limit:
                lines.append(f'  {kind}: ... and {len(found) - limit} more')
        return lines


def name_some(items: Sequence, limit: int = MAX_LISTED) -> str:
    """``a, b, c`` for up to ``limit`` items, then ``... (N in all)``."""
    shown = ', '.join(str(item) for item in items[:limit])
    return shown + (f', ... ({len(items)} in all)' if len(items) > limit else '')


def check_coco(coco: dict, report: DatasetReport, decoded: Optional[Dict[str, Decoded]] = None,
               classes: Optional[Sequence[str]] = None) -> None:
    """Fill ``report`` from ``coco`` (a loaded COCO json) and ``decoded`` (file_name ->
    :func:`~asl_det.intake.image_decoding.decode_image` result; None: images not checked).
    ``classes``: the config's class names (None: not checked)."""
    images = coco.get('images')
    if not isinstance(images, list):
        report.errors.append(f"{report.ann_file}: no 'images' list")
        return
    categories = coco.get('categories', [])
    annotations = coco.get('annotations', [])
    report.num_images, report.num_boxes = len(images), len(annotations)
    report.num_classes = len(categories)
    if not images:
        report.errors.append(f'{report.ann_file} has 0 images: a data set built from it is '
                             'empty, nothing to train or evaluate on (convert with more files, '
                             'or point the config to another split)')
        return
    for key, entries, needed in (('images', images, ('id', 'file_name', 'width', 'height')),
                                 ('categories', categories, ('id', 'name')),
                                 ('annotations', annotations,
                                  ('id', 'image_id', 'category_id', 'bbox', 'area'))):
        broken = [i for i, entry in enumerate(entries)
                  if not isinstance(entry, dict) or any(k not in entry for k in needed)]
        if broken:
            report.errors.append(f'{report.ann_file}: {len(broken)} {key} entries lack one of '
                                 f'{needed} (mmdet reads them), e.g. entry #{broken[0]}')
            return
        for field_name, kind in NUMBER_FIELDS.get(key, {}).items():
            mistyped = [i for i, entry in enumerate(entries)
                        if isinstance(entry[field_name], bool)
                        or not isinstance(entry[field_name], kind)]
            if mistyped:
                report.errors.append(
                    f'{report.ann_file}: {len(mistyped)} {key} entries have a {field_name} '
                    f'that is not a number (mmdet compares it), e.g. entry #{mistyped[0]}: '
                    f'{entries[mistyped[0]][field_name]!r}')
                return
        ids = [entry['id'] for entry in entries]
        if len(set(ids)) != len(ids):
            seen, repeated = set(), []
            for entry_id in ids:
                if entry_id in seen:
                    repeated.append(entry_id)
                seen.add(entry_id)
            report.errors.append(f'{report.ann_file}: {key} ids are not unique: repeated '
                                 f'{name_some(repeated)}')
    if report.errors:
        return
    image_by_id = {image['id']: image for image in images}
    category_by_id = {category['id']: category['name'] for category in categories}
    check_ids(annotations, image_by_id, category_by_id, report)
    if report.errors:
        return
    check_classes(categories, annotations, classes, report)
    check_boxes(annotations, image_by_id, category_by_id, report)
    if decoded is not None:
        check_images(images, decoded, report)


def check_ids(annotations: List[dict], image_by_id: dict, category_by_id: dict,
              report: DatasetReport) -> None:
    """Errors for annotations pointing to unknown image or category ids, or bad bboxes."""
    for key, known in (('image_id', image_by_id), ('category_id', category_by_id)):
        unknown = [f'annotation {ann["id"]} -> {key} {ann[key]}' for ann in annotations
                   if ann[key] not in known]
        if unknown:
            report.errors.append(f'{report.ann_file}: {len(unknown)} annotations name an '
                                 f'unknown {key}: {name_some(unknown)}')
    malformed = [ann['id'] for ann in annotations if malformed_bbox(ann['bbox'])]
    if malformed:
        report.errors.append(f'{report.ann_file}: bbox is not 4 finite numbers [x, y, w, h] '
                             f'with w, h >= 0 in annotations {name_some(malformed)}')


def check_classes(categories: List[dict], annotations: List[dict],
                  classes: Optional[Sequence[str]], report: DatasetReport) -> None:
    """The config's classes against the json's categories (mmdet matches them by name)."""
    if classes is None:
        return
    names = [category['name'] for category in categories]
    missing = [name for name in classes if name not in names]
    if missing:
        report.errors.append(
            f'{report.ann_file}: the config\'s classes {name_some(missing)} are not among the '
            f'json\'s categories {name_some(names)}: mmdet would give the other classes wrong '
            'label indices. Fix metainfo.classes or the json')
        return
    matched = [name for name in names if name in classes]
    if matched != list(classes):
        report.warnings.append(
            f'class order: mmdet numbers labels in the json\'s category order {matched}, the '
            f'config lists {list(classes)}; label i is named classes[i] in visualisations '
            'and logs (COCO metrics use the json\'s names). Pass the config\'s order when '
            'converting (tools/voc_to_coco.py --classes ...) to make them agree')
    unused = {category['id']: category['name'] for category in categories
              if category['name'] not in classes}
    if unused:
        count = sum(ann['category_id'] in unused for ann in annotations)
        report.warnings.append(f'categories not in the config\'s classes: '
                               f'{name_some(sorted(unused.values()))}; mmdet drops their '
                               f'{count} boxes')


def check_boxes(annotations: List[dict], image_by_id: dict, category_by_id: dict,
                report: DatasetReport) -> None:
    """Boxes mmdet drops (w < 1, h < 1, area <= 0, no overlap with the image), boxes partly
    outside the image (kept), by :func:`~.box_rule.box_fate`, and near-duplicate pairs (one
    class, one image, IoU > 0.9)."""
    groups = defaultdict(list)  # (image id, category id) -> [(ann id, bbox)]
    for ann in annotations:
        if ann.get('ignore', False):
            continue
        image = image_by_id[ann['image_id']]
        file_name = image['file_name']
        fate = box_fate(ann['bbox'], image['width'], image['height'], ann['area'])
        box = [round(v, 2) for v in ann['bbox']]
        if fate in DROPPED:
            report.dropped_boxes.append([file_name, ann['id'], box, fate])
        else:
            if fate == PARTLY_OUTSIDE:
                report.outside_boxes.append([file_name, ann['id'], box])
            if not ann.get('iscrowd', 0):
                groups[ann['image_id'], ann['category_id']].append((ann['id'], ann['bbox']))
    for (image_id, category_id), members in groups.items():
        if len(members) < 2:
            continue
        ids = [ann_id for ann_id, _ in members]
        iou = box_iou(np.array([bbox for _, bbox in members], dtype=np.float64))
        for i, j in zip(*np.nonzero(np.triu(iou > NEAR_DUPLICATE_IOU, k=1))):
            report.near_duplicates.append([image_by_id[image_id]['file_name'], ids[i], ids[j],
                                           category_by_id[category_id], float(iou[i, j])])


def box_iou(boxes: np.ndarray) -> np.ndarray:
    """(N, N) IoU of (N, 4) ``[x, y, w, h]`` boxes."""
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    inter_w = np.clip(np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1), 0, None)
    inter_h = np.clip(np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1), 0, None)
    inter = inter_w * inter_h
    area = boxes[:, 2] * boxes[:, 3]
    union = area[:, None] + area - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def check_images(images: List[dict], decoded: Dict[str, Decoded], report: DatasetReport) -> None:
    """Bad images and json sizes that differ from the decoded ones."""
    for image in images:
        height, width, problem = decoded[image['file_name']]
        if problem is not None:
            report.bad_images.append([image['file_name'], problem])
        elif (width, height) != (image['width'], image['height']):
            report.size_mismatches.append(
                [image['file_name'], [image['width'], image['height']], [width, height]])
