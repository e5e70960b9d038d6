"""Convert a Pascal VOC-style folder (``Annotations/*.xml``, an image folder, optional
``ImageSets/Main/<split>.txt``) to one COCO json per split, as mmdet's ``CocoDataset`` and
``CocoMetric`` read it.

Coordinates follow mmdet's own VOC readers (``XMLDataset`` and
``tools/dataset_converters/pascal_voc.py``): 1 is subtracted from all four of xmin, ymin, xmax,
ymax, so a box is ``[xmin - 1, ymin - 1, xmax - xmin, ymax - ymin]`` (x, y, w, h in pixels).
Boxes narrower or lower than 1 px are reported and dropped (mmdet's ``CocoDataset`` would drop
them silently); boxes with no overlap with the image too. Boxes partly outside the image are
reported and kept unclipped, as mmdet's readers keep them (its ``Resize`` clips them).
``difficult`` objects: ``difficult='keep'`` (default) writes them as ordinary boxes
(``iscrowd=0``) with ``"difficult": 1``; ``'ignore'`` writes ``iscrowd=1`` as mmdet's
converter does (ignored in training, crowd regions in COCO evaluation); ``'drop'`` leaves them
out. The input folder is never written to (unless the output folder is placed inside it).
"""
import os
import os.path as osp
import random
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from PIL import Image

from .json_files import write_json_atomic

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
DIFFICULT_MODES = ('keep', 'ignore', 'drop')


class VOCConversionError(ValueError):
    """The VOC folder cannot be converted as asked; the message names the file."""


@dataclass
class VOCObject:
    name: str
    box: List[float]  # [x, y, w, h] in pixels, mmdet's convention (see the module docstring)
    difficult: bool


@dataclass
class VOCImage:
    stem: str  # the XML file's name without .xml
    file_name: str  # relative to the VOC root, e.g. 'JPEGImages/BloodImage_00000.jpg'
    width: int
    height: int
    objects: List[VOCObject]


@dataclass
class ConversionSummary:
    """What the conversion wrote and what it reported."""
    written: Dict[str, str] = field(default_factory=dict)  # split -> json path
    images: Dict[str, int] = field(default_factory=dict)  # split -> number of images
    boxes: Dict[str, Counter] = field(default_factory=dict)  # split -> class name -> boxes
    classes: List[str] = field(default_factory=list)  # category ids 1, 2, ... in this order
    xml_boxes: int = 0  # objects read from the XML files in the splits
    difficult: int = 0
    skipped_files: List[List[str]] = field(default_factory=list)  # [file, why]
    skipped_objects: List[List[str]] = field(default_factory=list)  # [file, class]
    dropped_boxes: List[list] = field(default_factory=list)  # [file, class, [x,y,w,h], why]
    outside_boxes: List[list] = field(default_factory=list)  # [file, class, [x,y,w,h]]
    split_source: str = ''  # 'ImageSets/Main' or 'random (seed ...)'

    def lines(self, limit: int = 10) -> List[str]:
        """A short report: one line per split, then the problems (``limit`` of each kind)."""
        out = [f'classes (category ids from 1): {self.classes}; splits from {self.split_source}']
        for split, path in self.written.items():
            boxes = self.boxes[split]
            out.append(f'{split}: {self.images[split]} images, {sum(boxes.values())} boxes '
                       f'({", ".join(f"{k} {boxes[k]}" for k in self.classes)}) -> {path}')
        out.append(f'{self.xml_boxes} objects in the XML files, {self.difficult} difficult')
        for kind, found in (('skipped file', self.skipped_files),
                            ('skipped object of an unlisted class', self.skipped_objects),
                            ('dropped box', self.dropped_boxes),
                            ('box partly outside the image (kept)', self.outside_boxes)):
            out += [f'{kind}: ' + ': '.join(str(v) for v in item) for item in found[:limit]]
            if len(found) > limit:
                out.append(f'{kind}: ... and {len(found) - limit} more')
        return out


def parse_ratios(ratios: Dict[str, float]) -> Dict[str, float]:
    """Validated split ratios: each in (0, 1], summing to 1 (within 1e-6)."""
    if not ratios:
        raise VOCConversionError('split_ratios is empty: give e.g. {"trainval": 0.8, "test": 0.2}')
    bad = {k: v for k, v in ratios.items() if not 0 < float(v) <= 1}
    if bad:
        raise VOCConversionError(f'split_ratios must each be in (0, 1], got {bad}')
    if abs(sum(ratios.values()) - 1) > 1e-6:
        raise VOCConversionError(f'split_ratios must sum to 1, got {dict(ratios)} '
                                 f'(sum {sum(ratios.values()):g})')
    return {k: float(v) for k, v in ratios.items()}


def random_split(stems: Sequence[str], ratios: Dict[str, float], seed: int) -> Dict[str, list]:
    """Shuffle the sorted ``stems`` with ``random.Random(seed)`` and cut them by ``ratios``
    (the last split takes the rounding remainder): the same seed gives the same split."""
    order = sorted(stems)
    random.Random(seed).shuffle(order)
    splits, start, total = {}, 0, 0.0
    for i, (split, ratio) in enumerate(ratios.items()):
        total += ratio
        end = len(order) if i == len(ratios) - 1 else int(round(total * len(order)))
        splits[split] = sorted(order[start:end])
        start = end
    return splits


def read_split_files(voc_root: str, splits: Optional[Sequence[str]]) -> Dict[str, list]:
    """``ImageSets/Main/<split>.txt`` (first token per line) for the asked splits, or for every
    split file there (not VOC's per-class ``<class>_<split>.txt``). {} when there are none."""
    folder = osp.join(voc_root, 'ImageSets', 'Main')
    present = sorted(f[:-4] for f in os.listdir(folder) if f.endswith('.txt')) \
        if osp.isdir(folder) else []
    if splits is None:
        splits = [s for s in present if not any(s.endswith('_' + t) for t in present)]
    missing = [s for s in splits if s not in present]
    if missing:
        raise VOCConversionError(
            f'split files {[osp.join(folder, s + ".txt") for s in missing]} do not exist; '
            f'present: {present}. Use split_ratios (--split-ratios) for a random split')
    result = {}
    for split in splits:
        with open(osp.join(folder, f'{split}.txt')) as f:
            result[split] = [line.split()[0] for line in f if line.strip()]
    return result


def find_image(img_dir: str, stem: str, tagged: Optional[str], listing: Dict[str, str]
               ) -> Optional[str]:
    """The image's path relative to the VOC root: the XML's ``<filename>`` if that file is in
    ``img_dir``, else ``<stem>`` with an image extension; None if neither exists.
    ``listing``: the image files of ``img_dir`` by name without extension."""
    tagged = osp.basename(tagged or '')
    if tagged and listing.get(osp.splitext(tagged)[0]) == tagged:
        return osp.join(img_dir, tagged)
    return listing.get(stem) and osp.join(img_dir, listing[stem])


def parse_voc_xml(xml_path: str, voc_root: str, img_dir: str, listing: Dict[str, str]
                  ) -> VOCImage:
    """One annotation file. Raises VOCConversionError naming the file when it is unparseable,
    lacks a coordinate or names no existing image."""
    stem = osp.splitext(osp.basename(xml_path))[0]
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as error:
        raise VOCConversionError(f'{xml_path}: not well-formed XML ({error})') from error
    file_name = find_image(img_dir, stem, root.findtext('filename'), listing)
    if file_name is None:
        raise VOCConversionError(f'{xml_path}: no image {stem}.* (or <filename>) in '
                                 f'{osp.join(voc_root, img_dir)}')
    try:
        width = int(float(root.findtext('size/width') or 0))
        height = int(float(root.findtext('size/height') or 0))
    except ValueError:
        width = height = 0
    if width <= 0 or height <= 0:  # no usable <size>: read the image's header
        with Image.open(osp.join(voc_root, file_name)) as image:
            width, height = image.size
    objects = []
    for i, obj in enumerate(root.findall('object')):
        name = (obj.findtext('name') or '').strip()
        try:
            xmin, ymin, xmax, ymax = (float(obj.findtext(f'bndbox/{k}'))
                                      for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        except (TypeError, ValueError) as error:
            raise VOCConversionError(f'{xml_path}: object #{i} ({name or "no name"}) lacks a '
                                     f'numeric bndbox xmin/ymin/xmax/ymax') from error
        if not name:
            raise VOCConversionError(f'{xml_path}: object #{i} has no <name>')
        box = [xmin - 1, ymin - 1, xmax - xmin, ymax - ymin]
        box = [int(v) if float(v).is_integer() else v for v in box]
        objects.append(VOCObject(name, box, (obj.findtext('difficult') or '0').strip() == '1'))
    return VOCImage(stem, file_name, width, height, objects)


def convert_voc_to_coco(voc_root: str, out_dir: Optional[str] = None, img_dir: str = 'JPEGImages',
                        splits: Optional[Sequence[str]] = None,
                        split_ratios: Optional[Dict[str, float]] = None, seed: int = 0,
                        classes: Optional[Sequence[str]] = None,
                        skip_unknown_classes: bool = False, skip_bad_files: bool = False,
                        difficult: str = 'keep') -> ConversionSummary:
    """Write ``<out_dir>/<split>.json`` (default ``<voc_root>/annotations_coco/``) per split,
    with ``file_name``s relative to ``voc_root``.

    Splits: the ``ImageSets/Main`` files (``splits``: which; default all), or, when there are
    none or ``split_ratios`` is given, a random split of all XML files by ``split_ratios``
    (default trainval 0.8, test 0.2) with ``seed``. ``classes``: category order (ids from 1);
    default: every class in the XML files, sorted by name. An object of a class not in
    ``classes`` raises VOCConversionError, or is listed and skipped with
    ``skip_unknown_classes``. Unreadable XML files raise, or are listed and skipped with
    ``skip_bad_files``. ``difficult``: 'keep', 'ignore' or 'drop' (module docstring).
    """
    if difficult not in DIFFICULT_MODES:
        raise VOCConversionError(f'difficult must be one of {DIFFICULT_MODES}, got {difficult!r}')
    ann_folder, image_folder = osp.join(voc_root, 'Annotations'), osp.join(voc_root, img_dir)
    for folder in (ann_folder, image_folder):
        if not osp.isdir(folder):
            raise VOCConversionError(f'{folder} is not a folder (voc_root={voc_root!r}, '
                                     f'img_dir={img_dir!r})')
    out_dir = out_dir or osp.join(voc_root, 'annotations_coco')
    if osp.abspath(out_dir) in (osp.abspath(ann_folder), osp.abspath(image_folder)):
        raise VOCConversionError(f'out_dir {out_dir} is an input folder: choose another')
    stems = sorted(f[:-4] for f in os.listdir(ann_folder) if f.endswith('.xml'))
    summary = ConversionSummary()
    if split_ratios is None:
        members = read_split_files(voc_root, splits)
    elif splits is not None:
        raise VOCConversionError('give splits (split files) or split_ratios, not both')
    else:
        members = {}
    if members:
        summary.split_source = osp.join(voc_root, 'ImageSets', 'Main')
    else:
        split_ratios = parse_ratios(split_ratios or {'trainval': 0.8, 'test': 0.2})
        members = random_split(stems, split_ratios, seed)
        summary.split_source = f'a random split {split_ratios} of {len(stems)} XML files ' \
                               f'(seed {seed})'
    listing = {osp.splitext(f)[0]: f for f in sorted(os.listdir(image_folder))
               if osp.splitext(f)[1].lower() in IMAGE_EXTENSIONS}
    parsed: Dict[str, VOCImage] = {}
    known_stems = set(stems)
    for stem in sorted({s for names in members.values() for s in names}):
        xml_path = osp.join(ann_folder, f'{stem}.xml')
        try:
            if stem not in known_stems:
                raise VOCConversionError(f'{xml_path} is listed in a split file but missing')
            parsed[stem] = parse_voc_xml(xml_path, voc_root, img_dir, listing)
        except VOCConversionError as error:
            if not skip_bad_files:
                raise VOCConversionError(f'{error} (skip_bad_files / --skip-bad-files skips '
                                         'and lists such files)') from error
            summary.skipped_files.append([xml_path, str(error)])
    names = sorted({obj.name for image in parsed.values() for obj in image.objects})
    summary.classes = list(classes) if classes is not None else names
    if len(set(summary.classes)) != len(summary.classes):
        raise VOCConversionError(f'classes has repeated names: {summary.classes}')
    summary.xml_boxes = sum(len(image.objects) for image in parsed.values())
    unknown = [[image.stem + '.xml', obj.name] for image in parsed.values()
               for obj in image.objects if obj.name not in summary.classes]
    if unknown and not skip_unknown_classes:
        raise VOCConversionError(
            f'objects of classes not in classes={summary.classes}: '
            + ', '.join(f'{f}: {c}' for f, c in unknown[:10])
            + f'{" ..." if len(unknown) > 10 else ""} ({len(unknown)} in all); '
            'skip_unknown_classes (--skip-unknown-classes) lists and skips them')
    summary.skipped_objects = unknown
    summary.difficult = sum(obj.difficult for image in parsed.values() for obj in image.objects)
    category_ids = {name: i + 1 for i, name in enumerate(summary.classes)}
    reported = set()
    for split, split_stems in members.items():
        coco = to_coco([parsed[s] for s in split_stems if s in parsed], category_ids,
                       difficult, summary, reported)
        path = osp.join(out_dir, f'{split}.json')
        write_json_atomic(coco, path)
        summary.written[split] = path
        summary.images[split] = len(coco['images'])
        summary.boxes[split] = Counter({name: 0 for name in summary.classes})
        summary.boxes[split].update(summary.classes[ann['category_id'] - 1]
                                    for ann in coco['annotations'])
    return summary


def to_coco(images: List[VOCImage], category_ids: Dict[str, int], difficult: str,
            summary: ConversionSummary, reported: set) -> dict:
    """The COCO dict of ``images`` (ids from 1 in this order); problems go into ``summary``
    once per image (``reported``: stems already reported by an earlier split)."""
    coco = dict(images=[], annotations=[],
                categories=[dict(id=i, name=name, supercategory='none')
                            for name, i in category_ids.items()])
    for image_id, image in enumerate(images, 1):
        report = image.stem not in reported
        reported.add(image.stem)
        coco['images'].append(dict(id=image_id, file_name=image.file_name, width=image.width,
                                   height=image.height))
        for obj in image.objects:
            if obj.name not in category_ids or (obj.difficult and difficult == 'drop'):
                continue
            x, y, w, h = obj.box
            where = f'{image.stem}.xml'
            overlap = (min(x + w, image.width) - max(x, 0) > 0
                       and min(y + h, image.height) - max(y, 0) > 0)
            if w < 1 or h < 1 or not overlap:
                if report:
                    summary.dropped_boxes.append(
                        [where, obj.name, obj.box, 'width or height < 1 px' if w < 1 or h < 1
                         else 'no overlap with the image'])
                continue
            if report and (x < 0 or y < 0 or x + w > image.width or y + h > image.height):
                summary.outside_boxes.append([where, obj.name, obj.box])
            ann = dict(id=len(coco['annotations']) + 1, image_id=image_id,
                       category_id=category_ids[obj.name], bbox=obj.box, area=w * h,
                       iscrowd=int(obj.difficult and difficult == 'ignore'))
            if obj.difficult:
                ann['difficult'] = 1
            coco['annotations'].append(ann)
    return coco


def preflight_converted(summary: ConversionSummary, voc_root: str, workers: int = 0,
                        cache_dir: Optional[str] = None, log=print) -> list:
    """Run the pre-flight (:func:`~asl_det.intake.preflight.preflight_coco`) on every json the
    conversion wrote; log its summaries. Returns the reports.

    Raises:
        PreflightError: bad images or annotation errors, naming the files.
    """
    from .preflight import preflight_coco, raise_for
    reports = [preflight_coco(path, voc_root, f'{split}.json', classes=summary.classes,
                              workers=workers, cache_dir=cache_dir)
               for split, path in summary.written.items()]
    for report in reports:
        log(f'preflight: {report.summary()}')
        for line in report.details():
            log(line)
    raise_for(reports, skip_bad_images=False)
    return reports
