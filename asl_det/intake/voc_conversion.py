"""Convert a Pascal VOC-style folder (``Annotations/*.xml``, an image folder, optional
``ImageSets/Main/<split>.txt``) to one COCO json per split, as mmdet's ``CocoDataset`` and
``CocoMetric`` read it.

Coordinates follow mmdet's own VOC readers (``XMLDataset`` and
``tools/dataset_converters/pascal_voc.py``): 1 is subtracted from all four of xmin, ymin, xmax,
ymax, so a box is ``[xmin - 1, ymin - 1, xmax - xmin, ymax - ymin]`` (x, y, w, h in pixels).
Boxes narrower or lower than 1 px are reported and dropped (mmdet's ``CocoDataset`` would drop
them silently); boxes with no overlap with the image too. Boxes partly outside the image are
reported and kept unclipped, as mmdet's readers keep them (its ``Resize`` clips them).
An image's width and height are those it has as loaded for training
(:func:`~.image_decoding.loaded_size`, EXIF orientation applied), read from its header; an XML
``<size>`` that differs is reported (its boxes may be in another frame: check them), and only an
image that cannot be read keeps the XML's size (the pre-flight reports the image).
``difficult`` objects: ``difficult='keep'`` (default) writes them as ordinary boxes
(``iscrowd=0``) with ``"difficult": 1``; ``'ignore'`` writes ``iscrowd=1`` as mmdet's
converter does (ignored in training, crowd regions in COCO evaluation); ``'drop'`` leaves them
out. The input folder is never written to (unless the output folder is placed inside it).

Layouts: ``Annotations/`` and ``JPEGImages/`` (VOC's), any other annotation and image folders
(``ann_dir``, ``img_dir``: sets published with ``annots/`` or ``annotations/``), or one flat
folder where each image has its XML beside it (labelImg's default; ``ann_dir=img_dir='.'``).
Boxes follow the one rule of :mod:`.box_rule`; a bndbox that is not 4 finite numbers with
``xmax >= xmin`` and ``ymax >= ymin`` makes its XML a bad file (swapped corners are a broken
export, not a small box). Hidden files (``.x``, macOS' ``._a.xml``) are not read.
"""
import math
import os
import os.path as osp
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .coco_output import (
    BadFile,
    ConversionError,
    ConversionSummary,
    add_box,
    add_image,
    check_out_dir,
    check_split_name,
    empty_coco,
    write_split,
)
from .image_decoding import IMAGE_EXTENSIONS, loaded_size

DIFFICULT_MODES = ('keep', 'ignore', 'drop')


class VOCConversionError(ConversionError):
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
    width: int  # as loaded for training, or the XML's <size> for an image that cannot be read
    height: int
    objects: List[VOCObject]
    xml_size: Optional[List[int]] = None  # the XML's [width, height] where it differs


@dataclass
class VOCSummary(ConversionSummary):
    """What a VOC conversion wrote and reported (:class:`ConversionSummary`) and read."""
    xml_boxes: int = 0  # objects read from the XML files in the splits
    difficult: int = 0
    skipped_objects: List[List[str]] = field(default_factory=list)  # [file, class]
    images_without_xml: List[str] = field(default_factory=list)  # image files no XML pairs with
    size_mismatches: List[list] = field(default_factory=list)  # [file, xml wh, image wh]

    def read_lines(self) -> List[str]:
        return [f'{self.xml_boxes} objects in the XML files, {self.difficult} difficult']

    def problem_lists(self):
        found = super().problem_lists()
        mismatches = [f'{xml}: <size> {xml_wh[0]}x{xml_wh[1]}, image {wh[0]}x{wh[1]} (width x '
                      'height; the json has the image\'s: check the boxes)'
                      for xml, xml_wh, wh in self.size_mismatches]
        return found[:1] + [('skipped object of an unlisted class', self.skipped_objects),
                            ('size mismatch', mismatches),
                            ('image without an XML (not converted)',
                             self.images_without_xml)] + found[1:]


def parse_ratios(ratios: Dict[str, float]) -> Dict[str, float]:
    """Validated split ratios: each in (0, 1], summing to 1 (within 1e-6)."""
    if not ratios:
        raise VOCConversionError('split_ratios is empty: give e.g. {"trainval": 0.8, "test": 0.2}')
    for split in ratios:
        check_split_name(split, 'split_ratios (--split-ratios)')
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


def is_per_class_list(path: str) -> bool:
    """Whether ``path`` reads as VOC's per-class ``<class>_<split>.txt``: every line an image
    name and a flag -1, 0 or 1."""
    with open(path, encoding='utf-8-sig') as f:  # a byte-order mark is no image name
        lines = [line.split() for line in f if line.strip()]
    return bool(lines) and all(len(t) == 2 and t[1] in ('-1', '0', '1') for t in lines)


def read_split_files(voc_root: str, splits: Optional[Sequence[str]]) -> Dict[str, list]:
    """``ImageSets/Main/<split>.txt`` (first token per line) for the asked splits, or for every
    split file there: not VOC's per-class ``<class>_<split>.txt`` (named after another split
    file and written as :func:`is_per_class_list`). {} when there are none."""
    folder = osp.join(voc_root, 'ImageSets', 'Main')
    present = sorted(f[:-4] for f in visible_names(folder) if f.endswith('.txt')) \
        if osp.isdir(folder) else []
    if splits is None:
        splits = [s for s in present
                  if not (any(s.endswith('_' + t) for t in present)
                          and is_per_class_list(osp.join(folder, s + '.txt')))]
    missing = [s for s in splits if s not in present]
    if missing:
        raise VOCConversionError(
            f'split files {[osp.join(folder, s + ".txt") for s in missing]} do not exist; '
            f'present: {present}. Use split_ratios (--split-ratios) for a random split')
    result = {}
    for split in splits:
        with open(osp.join(folder, f'{split}.txt'), encoding='utf-8-sig') as f:
            result[split] = [line.split()[0] for line in f if line.strip()]
    return result


def visible_names(folder: str) -> List[str]:
    """The names in ``folder`` that are not hidden (``.x``; macOS' ``._a.xml`` beside
    ``a.xml`` is no annotation)."""
    return [name for name in os.listdir(folder) if not name.startswith('.')]


def find_image(xml_path: str, img_dir: str, tagged: Optional[str],
               listing: Dict[str, List[str]]) -> Optional[str]:
    """The image's path relative to the VOC root: the one image named as the XML file (with an
    image extension), as mmdet's VOC readers pair them; among several of that name (``a.jpg``,
    ``a.png``) the one ``<filename>`` names; with none of that name, the image ``<filename>``
    names (an XML named otherwise than its image). None if there is none. ``listing``: the
    image files of ``img_dir`` by name without extension. BadFile when several images share
    the XML's name and ``<filename>`` is none of them."""
    stem = osp.splitext(osp.basename(xml_path))[0]
    tagged = osp.basename(tagged or '')
    candidates = listing.get(stem, [])
    if len(candidates) == 1:
        return osp.join(img_dir, candidates[0])
    if candidates and tagged not in candidates:
        raise BadFile(xml_path, f'<filename> {tagged!r} is none of the images, and several '
                      f'are named {stem}.*: {candidates}; which one it annotates is not known')
    if tagged and tagged in listing.get(osp.splitext(tagged)[0], ()):
        return osp.join(img_dir, tagged)
    return None


def parse_voc_xml(xml_path: str, voc_root: str, img_dir: str,
                  listing: Dict[str, List[str]]) -> VOCImage:
    """One annotation file. Raises :class:`BadFile` naming the file when it is unparseable,
    lacks a coordinate or names no existing image."""
    stem = osp.splitext(osp.basename(xml_path))[0]
    with open(xml_path, 'rb') as f:
        content = f.read()
    if b'<!ENTITY' in content:  # VOC annotations declare none; expansion is how XML bombs work
        raise BadFile(xml_path, 'declares XML entities (<!ENTITY): refused, a VOC annotation '
                      'has none')
    try:
        root = ET.fromstring(content)
    except ET.ParseError as error:
        raise BadFile(xml_path, f'not well-formed XML ({error})') from error
    file_name = find_image(xml_path, img_dir, root.findtext('filename'), listing)
    if file_name is None:
        raise BadFile(xml_path, f'no image {stem}.* (or <filename>) in '
                      f'{osp.join(voc_root, img_dir)}')
    try:
        xml_size = [int(float(root.findtext(f'size/{k}') or 0)) for k in ('width', 'height')]
    except ValueError:
        xml_size = [0, 0]
    try:
        width, height = loaded_size(osp.join(voc_root, file_name))
    except OSError as error:
        if min(xml_size) <= 0:
            raise BadFile(xml_path, f'no <size>, and its image {file_name} cannot be read '
                          f'({error})') from error
        width, height = xml_size  # the pre-flight reports the image
    if min(xml_size) <= 0 or xml_size == [width, height]:
        xml_size = None
    objects = []
    for i, obj in enumerate(root.findall('object')):
        name = (obj.findtext('name') or '').strip()
        try:
            xmin, ymin, xmax, ymax = (float(obj.findtext(f'bndbox/{k}'))
                                      for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        except (TypeError, ValueError) as error:
            raise BadFile(xml_path, f'object #{i} ({name or "no name"}) lacks a numeric '
                          'bndbox xmin/ymin/xmax/ymax') from error
        if not name:
            raise BadFile(xml_path, f'object #{i} has no <name>')
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)) \
                or xmax < xmin or ymax < ymin:
            raise BadFile(xml_path, f'object #{i} ({name}): bndbox xmin {xmin:g} ymin {ymin:g} '
                          f'xmax {xmax:g} ymax {ymax:g}: coordinates must be finite with '
                          'xmax >= xmin and ymax >= ymin')
        box = [xmin - 1, ymin - 1, xmax - xmin, ymax - ymin]
        box = [int(v) if float(v).is_integer() else v for v in box]
        objects.append(VOCObject(name, box, (obj.findtext('difficult') or '0').strip() == '1'))
    return VOCImage(stem, file_name, width, height, objects, xml_size)


def _named_as_image(image: VOCImage) -> bool:
    """Whether the XML file is named as its image (not paired through ``<filename>``)."""
    return osp.splitext(osp.basename(image.file_name))[0] == image.stem


def folders_holding(root: str, extensions: Sequence[str]) -> List[str]:
    """``'.'`` and the sub-folders of ``root`` (one level) holding files with one of
    ``extensions`` (lower case, with the dot): where a user's annotations or images are."""
    found = []
    for folder in ['.'] + sorted(os.listdir(root)):
        path = osp.join(root, folder)
        if osp.isdir(path) and any(osp.splitext(f)[1].lower() in extensions
                                   for f in os.listdir(path)):
            found.append(folder)
    return found


def input_folder(voc_root: str, folder: str, key: str, extensions: Sequence[str]) -> str:
    """``folder`` relative to ``voc_root`` ('' for the root itself); VOCConversionError naming
    ``key`` and the folders that hold such files when it is not a folder."""
    folder = osp.normpath(folder or '.')
    path = osp.join(voc_root, folder)
    if not osp.isdir(path):
        if not osp.isdir(voc_root):
            raise VOCConversionError(f'voc_root {voc_root} is not a folder')
        where = folders_holding(voc_root, extensions)
        hint = (f'{"/".join(extensions)} files are in {", ".join(f + "/" for f in where)} '
                f'under {voc_root} ("." = beside the other files: a flat folder)'
                if where else f'no {"/".join(extensions)} files in {voc_root} or its folders')
        raise VOCConversionError(f'{key}: {path} is not a folder; {hint}')
    return '' if folder == '.' else folder


def convert_voc_to_coco(voc_root: str, out_dir: Optional[str] = None, img_dir: str = 'JPEGImages',
                        splits: Optional[Sequence[str]] = None,
                        split_ratios: Optional[Dict[str, float]] = None, seed: int = 0,
                        classes: Optional[Sequence[str]] = None,
                        skip_unknown_classes: bool = False, skip_bad_files: bool = False,
                        difficult: str = 'keep', ann_dir: str = 'Annotations') -> VOCSummary:
    """Write ``<out_dir>/<split>.json`` (default ``<voc_root>/annotations_coco/``) per split,
    with ``file_name``s relative to ``voc_root``.

    ``ann_dir`` and ``img_dir``: the XML and image folders under ``voc_root`` (``'.'`` for
    ``voc_root`` itself: both ``'.'`` is a flat folder, each image beside its XML). Splits: the
    ``ImageSets/Main`` files (``splits``: which; default all), or, when there are none or
    ``split_ratios`` is given, a random split of all XML files by ``split_ratios`` (default
    trainval 0.8, test 0.2) with ``seed``. ``classes``: category order (ids from 1); default:
    every class in the XML files of the split files (all of them, also where ``splits`` picks
    some: splits converted one at a time get the same categories), sorted by name. An object
    of a class not in ``classes`` raises VOCConversionError, or is listed and skipped with
    ``skip_unknown_classes``.
    Unreadable XML files raise, or are listed and skipped with ``skip_bad_files``.
    ``difficult``: 'keep', 'ignore' or 'drop' (module docstring). A split left without images
    is written and warned about (``summary.empty_splits``, ``summary.lines()``).
    """
    if difficult not in DIFFICULT_MODES:
        raise VOCConversionError(f'difficult must be one of {DIFFICULT_MODES}, got {difficult!r}')
    ann_dir = input_folder(voc_root, ann_dir, 'ann_dir (--ann-dir)', ('.xml', ))
    img_dir = input_folder(voc_root, img_dir, 'img_dir (--img-dir)', IMAGE_EXTENSIONS)
    ann_folder, image_folder = osp.join(voc_root, ann_dir), osp.join(voc_root, img_dir)
    out_dir = out_dir or osp.join(voc_root, 'annotations_coco')
    check_out_dir(out_dir, {'ann_dir (--ann-dir)': ann_folder, 'img_dir (--img-dir)': image_folder})
    stems = sorted(f[:-4] for f in visible_names(ann_folder) if f.lower().endswith('.xml'))
    summary = VOCSummary(root=voc_root)
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
    listing: Dict[str, List[str]] = {}
    for name in sorted(visible_names(image_folder)):
        if osp.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
            listing.setdefault(osp.splitext(name)[0], []).append(name)
    parsed: Dict[str, VOCImage] = {}
    xml_names = {osp.splitext(f)[0]: f for f in visible_names(ann_folder)
                 if f.lower().endswith('.xml')}
    def bad(error: BadFile) -> None:
        if not skip_bad_files:
            raise VOCConversionError(f'{error} (skip_bad_files / --skip-bad-files skips '
                                     'and lists such files)') from error
        summary.skipped_files.append([error.path, error.reason])

    converted = {s for names in members.values() for s in names}
    read = set(converted)
    if classes is None and splits is not None:
        # the other split files are read too, for the default class list: splits converted
        # one at a time get the categories of converting them all (their bad files: unsaid)
        read.update(s for names in read_split_files(voc_root, None).values() for s in names)
    for stem in sorted(read):
        xml_path = osp.join(ann_folder, xml_names.get(stem, f'{stem}.xml'))
        try:
            if stem not in xml_names:
                raise BadFile(xml_path, 'listed in a split file but missing')
            parsed[stem] = parse_voc_xml(xml_path, voc_root, img_dir, listing)
        except BadFile as error:
            if stem in converted:
                bad(error)
    # an image annotated twice: the XML of its own name keeps it, one pairing through
    # <filename> (an XML copied as a template?) is a bad file
    owners: Dict[str, str] = {}
    for stem in sorted(parsed, key=lambda s: (not _named_as_image(parsed[s]), s)):
        owner = owners.setdefault(parsed[stem].file_name, stem)
        if owner != stem:
            if stem in converted:
                bad(BadFile(osp.join(ann_folder, xml_names[stem]),
                            f'its <filename> names {parsed[stem].file_name}, which '
                            f'{xml_names[owner]} annotates'))
            del parsed[stem]
    paired = {image.file_name for image in parsed.values()}
    summary.images_without_xml = [
        osp.join(img_dir, name) for names in listing.values() for name in names
        if osp.splitext(name)[0] not in xml_names and osp.join(img_dir, name) not in paired]
    summary.classes = list(classes) if classes is not None else sorted(
        {obj.name for image in parsed.values() for obj in image.objects})
    if len(set(summary.classes)) != len(summary.classes):
        raise VOCConversionError(f'classes has repeated names: {summary.classes}')
    parsed = {stem: image for stem, image in parsed.items() if stem in converted}
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
    reported = set()
    for split, split_stems in members.items():
        coco = to_coco([parsed[s] for s in split_stems if s in parsed], summary.classes,
                       difficult, summary, reported)
        if split_stems:
            why_empty = f'all {len(split_stems)} XML files listed for it were skipped'
        elif summary.split_source.startswith('a random split'):
            why_empty = f'{summary.split_source} gives it none: use more files or other ratios'
        else:
            why_empty = f'{osp.join(summary.split_source, split + ".txt")} lists no files'
        write_split(coco, out_dir, split, summary, why_empty)
    return summary


def to_coco(images: List[VOCImage], classes: Sequence[str], difficult: str,
            summary: VOCSummary, reported: set) -> dict:
    """The COCO dict of ``images`` (ids from 1 in this order), categories ``classes``;
    problems go into ``summary`` once per image (``reported``: stems already reported by an
    earlier split)."""
    coco = empty_coco(classes)
    category_ids = {name: i for i, name in enumerate(classes, 1)}
    for image in images:
        report = image.stem not in reported
        reported.add(image.stem)
        if report and image.xml_size is not None:
            summary.size_mismatches.append([f'{image.stem}.xml', image.xml_size,
                                            [image.width, image.height]])
        entry = add_image(coco, image.file_name, image.width, image.height)
        for obj in image.objects:
            if obj.name not in category_ids or (obj.difficult and difficult == 'drop'):
                continue
            extra = dict(iscrowd=int(obj.difficult and difficult == 'ignore'))
            if obj.difficult:
                extra['difficult'] = 1
            add_box(coco, entry, category_ids[obj.name], obj.box, summary, f'{image.stem}.xml',
                    obj.name, report, **extra)
    return coco
