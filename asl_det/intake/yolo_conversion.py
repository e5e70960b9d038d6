"""Convert YOLO txt labels, laid out as Ultralytics reads them, to one COCO json per split, as
mmdet's ``CocoDataset`` and ``CocoMetric`` read it.

Input: an Ultralytics ``data.yaml`` (:func:`convert_yolo_to_coco`) or one image folder with its
labels (:func:`convert_yolo_folder`). The label file of an image is Ultralytics'
(``img2label_paths``): the last ``/images/`` of the image's path becomes ``/labels/`` and the
extension ``.txt`` (``images/train/a.jpg`` -> ``labels/train/a.txt``; without an ``images``
folder in the path, ``a.txt`` beside the image). ``classes.txt`` is labelImg's class list,
never a label file.

Each line ``class cx cy w h`` is normalised by the image's width ``W`` and height ``H`` (read
from its header, as :func:`~asl_det.intake.image_decoding.loaded_size` says the loader sees
it); the COCO box is ``[(cx - w/2) W, (cy - h/2) H, w W, h H]`` in pixels, rounded to 1/1000 px.

A polygon line ``class x1 y1 x2 y2 x3 y3 ...`` (Ultralytics' segment labels) is read as the
box of its points' extent, as Ultralytics' ``segments2boxes`` reads it (a 5-value line beside
it stays a box; Ultralytics would read every line of such a file as a polygon).

What is an error and what is reported follows the VOC converter: a line that is neither 5
numbers nor a polygon, a value outside [0, 1] (Ultralytics' "non-normalized or out of bounds
coordinates": labels in pixels, or negative sizes), an unreadable label file or image, and a
label file without an image are bad files: an error, or listed and left out (image and labels)
with ``skip_bad_files``. A class id without a name is an error, or the line is listed and
skipped with ``skip_unknown_classes``. Boxes go through the one rule of :mod:`.box_rule`: boxes
narrower or lower than 1 px and boxes with no overlap with the image are reported and dropped,
boxes partly outside the image (``cx - w/2 < 0`` and the like) are reported and kept
unclipped. An image without a label file is an image without boxes (as Ultralytics reads it):
kept and listed. Hidden files and folders (``.x``, macOS' ``._a.jpg``) are not read, as
Ultralytics' glob leaves them out.
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import yaml

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

YAML_SPLITS = ('train', 'val', 'test')
CLASS_LIST = 'classes.txt'  # labelImg's class list, beside the label files
BOX_DECIMALS = 3  # pixel coordinates are rounded to 1/1000 px


class YOLOConversionError(ConversionError):
    """The YOLO data cannot be converted as asked; the message names the file or option."""


@dataclass
class YOLOSplit:
    """Where one split's images and labels are."""
    images: List[str]  # image paths
    labels: List[str]  # the label file of each image (it may not exist)
    label_folders: List[str]  # folders whose .txt files are this split's label files
    source: str  # where the image list came from, for messages


@dataclass
class YOLOSummary(ConversionSummary):
    """What a YOLO conversion wrote and reported (:class:`ConversionSummary`) and read."""
    label_lines: int = 0  # box lines read from the label files of the splits
    polygon_lines: int = 0  # of them, polygons read as the box of their points
    names_source: str = ''  # where the class names came from
    notes: List[str] = field(default_factory=list)
    unknown_classes: List[list] = field(default_factory=list)  # [file:line, class id]
    unlabelled_images: List[str] = field(default_factory=list)  # file names (kept, no boxes)

    def read_lines(self) -> List[str]:
        polygons = (f' ({self.polygon_lines} of them polygons, each read as the box of its '
                    'points)') if self.polygon_lines else ''
        return [f'{self.label_lines} box lines in the label files{polygons}; class names from '
                f'{self.names_source}'] + self.notes

    def problem_lists(self):
        found = super().problem_lists()
        return found[:1] + [('line of a class id without a name (skipped)',
                             self.unknown_classes)] + found[1:] + [
            ('image without a label file (kept, no boxes)', self.unlabelled_images)]


def label_path(image_path: str) -> str:
    """Ultralytics' label file of an image: the last ``/images/`` of the path becomes
    ``/labels/``, the extension ``.txt``. A relative path that starts with ``images/`` counts
    (Ultralytics' paths are absolute: a data root of ``.`` must not lose its labels)."""
    images, labels = f'{os.sep}images{os.sep}', f'{os.sep}labels{os.sep}'
    relative = not image_path.startswith(os.sep)
    head, found, tail = (os.sep * relative + image_path).rpartition(images)
    path = (head + labels + tail)[relative:] if found else image_path
    return osp.splitext(path)[0] + '.txt'


def label_folder(image_folder: str) -> str:
    """The folder holding the labels of the images under ``image_folder``."""
    return osp.dirname(label_path(osp.join(image_folder, 'x.jpg')))


def visible_files(folder: str) -> List[str]:
    """The files under ``folder``, recursively, as Ultralytics' ``glob('**/*.*')`` finds them:
    hidden names (``.x``, macOS' ``._a.jpg``) and hidden folders left out; sorted."""
    found = []
    for parent, folders, files in os.walk(folder, followlinks=True):
        folders[:] = [name for name in folders if not name.startswith('.')]
        found += [osp.join(parent, f) for f in files if not f.startswith('.')]
    return sorted(found)


def images_under(folder: str) -> List[str]:
    """Image files under ``folder``, recursively (:func:`visible_files`), sorted."""
    return [path for path in visible_files(folder)
            if osp.splitext(path)[1].lower() in IMAGE_EXTENSIONS]


def list_entry(line: str, list_folder: str, root: str) -> str:
    """The image path a line of a .txt image list names: absolute as written; relative, from
    the list's folder (Ultralytics' rule for ``./`` lines), else from the data root where only
    that exists (Ultralytics reads other relative lines from where it runs, usually the root)."""
    beside = osp.normpath(osp.join(list_folder, line))
    if osp.isabs(line) or line.startswith('./') or osp.exists(beside):
        return beside
    from_root = osp.normpath(osp.join(root, line))
    return from_root if osp.exists(from_root) else beside


def split_from_yaml(root: str, key: str, value, yaml_path: str) -> YOLOSplit:
    """The split ``key`` of a data.yaml: a folder of images, a .txt list of images (relative
    lines: :func:`list_entry`), or a list of those; relative to ``root``. Like Ultralytics,
    a missing ``../x`` is also looked for as ``x``."""
    entries = value if isinstance(value, (list, tuple)) else [value]
    images, folders = [], []
    for entry in entries:
        if not isinstance(entry, str) or not entry:
            raise YOLOConversionError(f'{yaml_path}: {key}: expected a folder, a .txt list of '
                                      f'images or a list of them, got {value!r}')
        path = osp.normpath(osp.join(root, entry))
        if not osp.exists(path) and entry.startswith('../'):
            path = osp.normpath(osp.join(root, entry[3:]))
        if osp.isdir(path):
            images += images_under(path)
            folders.append(label_folder(path))
        elif osp.isfile(path):
            with open(path, encoding='utf-8-sig') as f:  # a byte-order mark is no path
                lines = [line.strip() for line in f if line.strip()]
            images += [list_entry(line, osp.dirname(path), root) for line in lines]
        else:
            raise YOLOConversionError(f'{yaml_path}: {key}: {path} does not exist (relative '
                                      f'paths are taken from the data root {root})')
    return YOLOSplit(images, [label_path(p) for p in images], folders, f'{key}: {value}')


def read_data_yaml(yaml_path: str) -> dict:
    """The data.yaml's dict; YOLOConversionError when it is not one."""
    try:
        with open(yaml_path) as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as error:
        raise YOLOConversionError(f'{yaml_path} cannot be read as YAML: {error}') from error
    if not isinstance(data, dict):
        raise YOLOConversionError(f'{yaml_path}: expected a mapping (path, train, val, test, '
                                  f'names, nc), got {type(data).__name__}')
    return data


def yaml_names(data: dict, yaml_path: str) -> Optional[List[str]]:
    """``names`` (a list, or a dict class id -> name with ids 0..n-1) checked against ``nc``;
    None when there are none."""
    names = data.get('names')
    if names is None:
        return None
    if isinstance(names, dict):
        try:
            by_id = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError) as error:
            raise YOLOConversionError(f'{yaml_path}: names: keys must be class ids 0, 1, ..., '
                                      f'got {list(names)}') from error
        if sorted(by_id) != list(range(len(by_id))):
            raise YOLOConversionError(f'{yaml_path}: names: class ids must be 0..{len(by_id) - 1}'
                                      f', got {sorted(by_id)}')
        names = [by_id[i] for i in range(len(by_id))]
    elif isinstance(names, (list, tuple)):
        names = [str(name) for name in names]
    else:
        raise YOLOConversionError(f'{yaml_path}: names: expected a list or a dict id -> name, '
                                  f'got {names!r}')
    nc = data.get('nc')
    if nc is not None and nc != len(names):
        raise YOLOConversionError(f'{yaml_path}: nc is {nc} but names has {len(names)} '
                                  f'entries: {names}')
    return names


def class_names(from_yaml: Optional[List[str]], given: Optional[Sequence[str]],
                class_lists: Sequence[str], yaml_path: Optional[str]
                ) -> Tuple[List[str], str, List[str]]:
    """(names in class-id order, where from, notes): data.yaml's ``names``, else ``given``
    (``--classes``), else the first ``classes.txt`` of ``class_lists`` that exists."""
    notes = []
    existing = [path for path in dict.fromkeys(class_lists) if osp.isfile(path)]
    if from_yaml is not None:
        if given is not None and list(given) != from_yaml:
            raise YOLOConversionError(
                f'classes (--classes) {list(given)} differ from the names of {yaml_path}: '
                f'{from_yaml}; give them in the yaml, or leave out --classes')
        names, source = from_yaml, f'{yaml_path} (names)'
    elif given is not None:
        names, source = list(given), 'classes (--classes)'
    elif existing:
        names = read_class_list(existing[0])
        source, existing = existing[0], existing[1:]
    else:
        raise YOLOConversionError(
            'no class names: no names in the data.yaml, no classes (--classes) and no '
            f'{CLASS_LIST} beside the labels; give classes (--classes A B ...) in class-id order')
    if len(set(names)) != len(names):
        raise YOLOConversionError(f'class names from {source} repeat a name: {names}')
    for path in existing:
        listed = read_class_list(path)
        if listed != names:
            notes.append(f'{path} lists {listed}: not used (a labelImg class list)')
    return names, source, notes


def read_class_list(path: str) -> List[str]:
    """The names of a labelImg ``classes.txt``, one per line (a UTF-8 byte-order mark, which
    Windows Notepad writes, is not part of the first name)."""
    with open(path, encoding='utf-8-sig') as f:
        return [line.strip() for line in f if line.strip()]


def convert_yolo_to_coco(data_yaml: str, out_dir: Optional[str] = None,
                         splits: Optional[Sequence[str]] = None,
                         classes: Optional[Sequence[str]] = None, root: Optional[str] = None,
                         skip_unknown_classes: bool = False,
                         skip_bad_files: bool = False) -> YOLOSummary:
    """Write ``<out_dir>/<split>.json`` (default ``<root>/annotations_coco/``) for each split
    of an Ultralytics ``data_yaml``, with ``file_name``s relative to the data root ``root``
    (default: the yaml's ``path``, relative to the yaml's folder, else the yaml's folder).

    ``splits``: which of train, val, test (default: those the yaml names). Class names: the
    yaml's ``names``, else ``classes``, else ``classes.txt`` beside the labels (or one folder
    up). ``skip_unknown_classes``, ``skip_bad_files``: the module docstring.
    """
    data = read_data_yaml(data_yaml)
    folder = osp.dirname(osp.abspath(data_yaml))
    if root is None:
        path = data.get('path')
        root = osp.normpath(osp.join(folder, str(path))) if path else folder
        if not osp.isdir(root):
            raise YOLOConversionError(f'{data_yaml}: path: {root} is not a folder; give the '
                                      'data root (root, --root)')
    elif not osp.isdir(root):
        raise YOLOConversionError(f'root (--root) {root} is not a folder')
    present = [key for key in YAML_SPLITS if data.get(key)]
    if splits is None:
        splits = present
    missing = [split for split in splits if split not in present]
    if missing or not splits:
        raise YOLOConversionError(f'{data_yaml} names no split {missing or list(YAML_SPLITS)}; '
                                  f'it has {present}')
    split_sources = {key: split_from_yaml(root, key, data[key], data_yaml) for key in splits}
    class_lists = [osp.join(where, CLASS_LIST) for source in split_sources.values()
                   for label_dir in source.label_folders
                   for where in (label_dir, osp.dirname(label_dir))]
    names, names_source, notes = class_names(yaml_names(data, data_yaml), classes, class_lists,
                                             data_yaml)
    summary = YOLOSummary(classes=names, names_source=names_source, notes=notes,
                          split_source=data_yaml)
    return convert_splits(split_sources, root, out_dir, summary, skip_unknown_classes,
                          skip_bad_files)


def convert_yolo_folder(images: str, labels: Optional[str] = None, split: Optional[str] = None,
                        out_dir: Optional[str] = None, classes: Optional[Sequence[str]] = None,
                        root: Optional[str] = None, skip_unknown_classes: bool = False,
                        skip_bad_files: bool = False) -> YOLOSummary:
    """Convert the images under ``images`` (recursively) with their label files in ``labels``
    (same relative paths, ``.txt``; default: Ultralytics' rule for each image, the last
    ``images/`` of its path -> ``labels/``, which may lie below ``images``)
    into ``<out_dir>/<split>.json`` (default ``<root>/annotations_coco/``).

    ``split``: the json's name (default: the images folder's name, ``train`` if that is
    ``images``). ``root``: what ``file_name``s are relative to (default: the folder holding
    both ``images`` and ``labels``). Class names: ``classes``, else ``classes.txt`` in
    ``labels`` or one folder up. The rest as :func:`convert_yolo_to_coco`.
    """
    images = osp.normpath(osp.abspath(images))
    given_labels = labels
    labels = osp.normpath(osp.abspath(labels)) if labels else label_folder(images)
    for key, path in (('images (--images)', images), ('labels (--labels)', labels)):
        if not osp.isdir(path):
            raise YOLOConversionError(f'{key}: {path} is not a folder')
    if root is None:
        root = osp.commonpath([images, labels])
        if root == osp.dirname(root):  # the file system's root: nothing in common
            root = osp.dirname(images)
    if split is None:
        split = osp.basename(images) if osp.basename(images) != 'images' else 'train'
    check_split_name(split, 'split (--split)')
    check_out_dir(out_dir or osp.join(root, 'annotations_coco'),
                  {'images (--images)': images, 'labels (--labels)': labels})
    found = images_under(images)
    if given_labels:  # the same relative path under the labels folder
        label_files = [osp.join(labels, osp.splitext(osp.relpath(p, images))[0] + '.txt')
                       for p in found]
    else:  # Ultralytics' rule, image by image (images/ may lie below the folder given)
        label_files = [label_path(p) for p in found]
    source = YOLOSplit(found, label_files, [labels], f'the images under {images}')
    names, names_source, notes = class_names(
        None, classes, [osp.join(labels, CLASS_LIST), osp.join(osp.dirname(labels), CLASS_LIST)],
        None)
    summary = YOLOSummary(classes=names, names_source=names_source, notes=notes,
                          split_source=f'{images} (labels: {labels})')
    return convert_splits({split: source}, root, out_dir, summary, skip_unknown_classes,
                          skip_bad_files)


def parse_label_line(line: str) -> Tuple[int, List[float], bool]:
    """(class id, [cx, cy, w, h], whether the line is a polygon) of one label line: a box
    ``class cx cy w h``, or a polygon ``class x1 y1 x2 y2 x3 y3 ...`` (three points or more),
    which becomes the box of its points' extent (Ultralytics' ``segments2boxes``). The box's
    values are normalised: each in [0, 1] as float32, as Ultralytics checks them (a polygon's
    after it became a box). ValueError saying what is wrong."""
    parts = line.split()
    if len(parts) != 5 and (len(parts) < 7 or len(parts) % 2 == 0):
        raise ValueError(f'{len(parts)} values, expected 5 (class cx cy w h) or an odd number '
                         '>= 7 (class x1 y1 x2 y2 x3 y3 ..., a polygon)')
    try:
        values = [float(v) for v in parts]
    except ValueError:
        raise ValueError(f'not numbers: {line.strip()!r}') from None
    if not all(abs(v) < float('inf') for v in values):
        raise ValueError(f'not finite: {line.strip()!r}')
    if values[0] < 0 or not values[0].is_integer():
        raise ValueError(f'class id {parts[0]} is not an integer >= 0')
    polygon = len(parts) > 5
    if polygon:
        xs, ys = values[1::2], values[2::2]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        box, shown = [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], None
    else:
        box, shown = values[1:], parts[1:]
    outside = [shown[i] if shown else f'{v:g} (of the box of its points)'
               for i, v in enumerate(box) if not 0 <= np.float32(v) <= 1]
    if outside:
        raise ValueError(f'{", ".join(outside)}: normalised values must be in [0, 1] '
                         '(pixel coordinates? YOLO labels divide by the image size)')
    return int(values[0]), box, polygon


def pixel_box(normalised: Sequence[float], width: int, height: int) -> List[float]:
    """COCO ``[x, y, w, h]`` in pixels of a normalised ``[cx, cy, w, h]``, rounded to
    ``BOX_DECIMALS`` (integers as ints)."""
    cx, cy, w, h = normalised
    box = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]
    box = [round(v, BOX_DECIMALS) + 0.0 for v in box]  # + 0.0: no -0.0
    return [int(v) if v.is_integer() else v for v in box]


def read_labels(label_file: str) -> List[Tuple[int, int, List[float], bool]]:
    """[(line number, class id, [cx, cy, w, h], polygon)] of a label file
    (:func:`parse_label_line`); :class:`BadFile` naming its bad lines (at most 3, and how
    many)."""
    try:
        with open(label_file) as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as error:
        raise BadFile(label_file, f'cannot be read ({error})') from error
    boxes, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            class_id, values, polygon = parse_label_line(line)
        except ValueError as error:
            problems.append(f'line {number}: {error}')
        else:
            boxes.append((number, class_id, values, polygon))
    if problems:
        more = f'; ... ({len(problems)} bad lines in all)' if len(problems) > 3 else ''
        raise BadFile(label_file, '; '.join(problems[:3]) + more)
    return boxes


def read_image(image_path: str, label_file: str, root: str) -> tuple:
    """(file_name, width, height, label file or None, boxes as :func:`read_labels`) of one
    image, paths relative to ``root``; :class:`BadFile` when the image or its label file
    cannot be read."""
    try:
        width, height = loaded_size(image_path)
    except OSError as error:
        raise BadFile(image_path, f'cannot be read as an image ({error})') from error
    if osp.basename(label_file) == CLASS_LIST or not osp.isfile(label_file):
        return osp.relpath(image_path, root), width, height, None, []
    return (osp.relpath(image_path, root), width, height, osp.relpath(label_file, root),
            read_labels(label_file))


def label_files_under(folder: str) -> List[str]:
    """The .txt files under ``folder`` (recursively, :func:`visible_files`), ``classes.txt``
    left out."""
    return [path for path in visible_files(folder)
            if path.endswith('.txt') and osp.basename(path) != CLASS_LIST]


def convert_splits(split_sources: Dict[str, YOLOSplit], root: str, out_dir: Optional[str],
                   summary: YOLOSummary, skip_unknown_classes: bool, skip_bad_files: bool
                   ) -> YOLOSummary:
    """Read every split's images and labels, then write one json per split (the module
    docstring says what is an error and what is reported)."""
    root = summary.root = osp.abspath(root)
    out_dir = out_dir or osp.join(root, 'annotations_coco')
    bad: List[BadFile] = []
    parsed: Dict[str, list] = {}  # split -> read_image results
    for split, source in split_sources.items():
        parsed[split] = []
        for image_path, label_file in zip(source.images, source.labels):
            try:
                parsed[split].append(read_image(image_path, label_file, root))
            except BadFile as error:
                bad.append(error)
        expected = {osp.abspath(label_file) for label_file in source.labels}
        bad += [BadFile(path, f'no image of split {split!r} ({source.source}) has this '
                              'label file')
                for folder in source.label_folders for path in label_files_under(folder)
                if osp.abspath(path) not in expected]
        if parsed[split] and all(label is None for _, _, _, label, _ in parsed[split]):
            summary.notes.append(f'warning: no image of split {split!r} has a label file '
                                 f'(looked for {source.labels[0]} and the like): '
                                 'is this the layout Ultralytics reads?')
    if bad and not skip_bad_files:
        shown = ''.join(f'\n  {error}' for error in bad[:10])
        raise YOLOConversionError(
            f'{len(bad)} label files or images cannot be converted:{shown}'
            f'{chr(10) + "  ..." if len(bad) > 10 else ""}\nskip_bad_files '
            '(--skip-bad-files) leaves them out (image and labels) and lists them')
    summary.skipped_files = [[osp.relpath(error.path, root), error.reason] for error in bad]
    unknown = [[f'{label}:{number}', class_id] for images in parsed.values()
               for _, _, _, label, boxes in images for number, class_id, _, _ in boxes
               if class_id >= len(summary.classes)]
    if unknown and not skip_unknown_classes:
        raise YOLOConversionError(
            f'class ids without a name (names {dict(enumerate(summary.classes))} from '
            f'{summary.names_source}): '
            + ', '.join(f'{where}: class {class_id}' for where, class_id in unknown[:10])
            + f'{" ..." if len(unknown) > 10 else ""} ({len(unknown)} in all); '
            'skip_unknown_classes (--skip-unknown-classes) lists and skips these lines')
    summary.unknown_classes = unknown
    for split, images in parsed.items():
        coco = empty_coco(summary.classes)
        for file_name, width, height, label, boxes in images:
            image = add_image(coco, file_name, width, height)
            if label is None:
                summary.unlabelled_images.append(file_name)
            summary.label_lines += len(boxes)
            summary.polygon_lines += sum(polygon for _, _, _, polygon in boxes)
            for number, class_id, values, _ in boxes:
                if class_id < len(summary.classes):
                    add_box(coco, image, class_id + 1, pixel_box(values, width, height),
                            summary, f'{label}:{number}', summary.classes[class_id])
        listed = len(split_sources[split].images)
        why_empty = (f'all {listed} of its images were skipped' if listed else
                     f'{split_sources[split].source} holds no images')
        write_split(coco, out_dir, split, summary, why_empty)
    return summary
