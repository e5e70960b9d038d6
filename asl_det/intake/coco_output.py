"""What every converter to COCO shares: the annotations it writes (through the box rule), one
json per split, the summary it reports and the pre-flight of the files it wrote."""
import os.path as osp
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .box_rule import DROPPED, PARTLY_OUTSIDE, box_fate
from .json_files import write_json_atomic


class ConversionError(ValueError):
    """The input cannot be converted as asked; the message names the file or the option."""


class BadFile(ValueError):
    """One input file cannot be converted. ``path`` and ``reason`` are kept apart so that a
    report names the path once; ``str()`` is ``'<path>: <reason>'``."""

    def __init__(self, path: str, reason: str):
        super().__init__(f'{path}: {reason}')
        self.path, self.reason = path, reason


#: A split's name, which names its json file in the output folder: no folder, no hidden file.
SPLIT_NAME = re.compile(r'[^./\\\x00][^/\\\x00]*')


def check_split_name(split, option: str = 'split') -> str:
    """``split`` if it can name a json file in the output folder (:data:`SPLIT_NAME`); else
    :class:`ConversionError` naming ``option``."""
    if not isinstance(split, str) or not SPLIT_NAME.fullmatch(split):
        raise ConversionError(f"{option}: a split's name names its json file in the output "
                              f"folder: no '/' or '\\', not empty, not starting with '.'; got "
                              f'{split!r}')
    return split


def check_out_dir(out_dir: str, inputs: Dict[str, str]) -> None:
    """:class:`ConversionError` if ``out_dir`` is one of the ``inputs`` folders ({option:
    path}): the converters write no json among the images or label files they read."""
    for option, folder in inputs.items():
        if osp.realpath(out_dir) == osp.realpath(folder):
            raise ConversionError(f'out_dir (--out) {out_dir} is the input folder {option}: '
                                  'choose another')


@dataclass
class ConversionSummary:
    """What a conversion wrote and reported. Boxes are COCO ``[x, y, w, h]`` in pixels."""
    written: Dict[str, str] = field(default_factory=dict)  # split -> json path
    images: Dict[str, int] = field(default_factory=dict)  # split -> number of images
    boxes: Dict[str, Counter] = field(default_factory=dict)  # split -> class name -> boxes
    classes: List[str] = field(default_factory=list)  # category ids 1, 2, ... in this order
    root: str = ''  # the folder the json's file_names are relative to
    split_source: str = ''  # where the splits came from
    skipped_files: List[List[str]] = field(default_factory=list)  # [file, why]
    dropped_boxes: List[list] = field(default_factory=list)  # [where, class, [x,y,w,h], why]
    outside_boxes: List[list] = field(default_factory=list)  # [where, class, [x,y,w,h]]
    empty_splits: Dict[str, str] = field(default_factory=dict)  # split -> why it has no images

    def read_lines(self) -> List[str]:
        """Lines on what the converter read (its subclasses say)."""
        return []

    def problem_lists(self) -> List[Tuple[str, list]]:
        """(kind, items) of everything reported, in report order."""
        return [('skipped file', self.skipped_files), ('dropped box', self.dropped_boxes),
                ('box partly outside the image (kept)', self.outside_boxes)]

    def lines(self, limit: int = 10) -> List[str]:
        """A short report: one line per split, then the problems (``limit`` of each kind),
        then a warning per split without images."""
        out = [f'classes (category ids from 1): {self.classes}; splits from {self.split_source}']
        for split, path in self.written.items():
            boxes = self.boxes[split]
            out.append(f'{split}: {self.images[split]} images, {sum(boxes.values())} boxes '
                       f'({", ".join(f"{k} {boxes[k]}" for k in self.classes)}) -> {path}')
        out += self.read_lines()
        for kind, found in self.problem_lists():
            out += [f'{kind}: ' + (item if isinstance(item, str) else
                                   ': '.join(str(v) for v in item)) for item in found[:limit]]
            if len(found) > limit:
                out.append(f'{kind}: ... and {len(found) - limit} more')
        out += [f'warning: split {split!r} has 0 images ({why}); {self.written[split]} is '
                'written, but the pre-flight (tools/train.py, tools/preflight.py) refuses a '
                'config that trains or evaluates on it' for split, why in self.empty_splits.items()]
        return out


def empty_coco(classes: Sequence[str]) -> dict:
    """A COCO dict without images, its categories ``classes`` with ids from 1."""
    return dict(images=[], annotations=[],
                categories=[dict(id=i, name=name, supercategory='none')
                            for i, name in enumerate(classes, 1)])


def add_image(coco: dict, file_name: str, width: int, height: int) -> dict:
    """Append an image entry (ids from 1 in order) and return it."""
    image = dict(id=len(coco['images']) + 1, file_name=file_name, width=width, height=height)
    coco['images'].append(image)
    return image


def add_box(coco: dict, image: dict, category_id: int, box: List[float],
            summary: ConversionSummary, where: str, name: str, report: bool = True,
            **extra) -> bool:
    """Append the annotation of ``box`` on ``image`` unless the box rule
    (:mod:`.box_rule`) drops it; dropped boxes and boxes partly outside (kept) go into
    ``summary`` as ``where`` (file, line) and class ``name`` when ``report``. ``extra``:
    more annotation keys (e.g. ``iscrowd``). Returns whether the box was written."""
    fate = box_fate(box, image['width'], image['height'])
    if fate in DROPPED:
        if report:
            summary.dropped_boxes.append([where, name, box, fate])
        return False
    if fate == PARTLY_OUTSIDE and report:
        summary.outside_boxes.append([where, name, box])
    ann = dict(id=len(coco['annotations']) + 1, image_id=image['id'], category_id=category_id,
               bbox=box, area=box[2] * box[3], iscrowd=0)
    ann.update(extra)
    coco['annotations'].append(ann)
    return True


def write_split(coco: dict, out_dir: str, split: str, summary: ConversionSummary,
                why_empty: str) -> str:
    """Write ``<out_dir>/<split>.json`` atomically and count it into ``summary``; a split
    without images is recorded in ``summary.empty_splits`` with ``why_empty``. Returns the
    path."""
    path = osp.join(out_dir, f'{check_split_name(split)}.json')
    try:
        write_json_atomic(coco, path)
    except OSError as error:
        raise ConversionError(f'cannot write {path} ({error}); a read-only input folder takes '
                              'an output folder elsewhere: out_dir (--out)') from error
    summary.written[split] = path
    summary.images[split] = len(coco['images'])
    names = {category['id']: category['name'] for category in coco['categories']}
    summary.boxes[split] = Counter({name: 0 for name in summary.classes})
    summary.boxes[split].update(names[ann['category_id']] for ann in coco['annotations'])
    if not coco['images']:
        summary.empty_splits[split] = why_empty
    return path


def preflight_converted(summary: ConversionSummary, root: str, workers: int = 0,
                        cache_dir: Optional[str] = None, log=print) -> list:
    """Run the pre-flight (:func:`~asl_det.intake.preflight.preflight_coco`) on every json the
    conversion wrote, ``file_name``s relative to ``root``; log its summaries. Splits without
    images are left out: the summary warns about them. Returns the reports.

    Raises:
        PreflightError: bad images or annotation errors, naming the files.
    """
    from .preflight import preflight_coco, raise_for
    reports = [preflight_coco(path, root, f'{split}.json', classes=summary.classes,
                              workers=workers, cache_dir=cache_dir)
               for split, path in summary.written.items() if split not in summary.empty_splits]
    for report in reports:
        log(f'preflight: {report.summary()}')
        for line in report.details():
            log(line)
    raise_for(reports, skip_bad_images=False)
    return reports


def run_conversion(convert: Callable[[], ConversionSummary], root: Optional[str] = None,
                   preflight: bool = True, workers: int = 0, log=print) -> ConversionSummary:
    """What the converter tools do: ``convert()``, log its summary, then (unless ``preflight``
    is False) :func:`preflight_converted` with ``file_name``s relative to ``root`` (default: the
    summary's own root). Exits the process with ``error: <message>`` on a
    :class:`ConversionError` or a pre-flight failure."""
    from .preflight import PreflightError
    try:
        summary = convert()
        for line in summary.lines():
            log(line)
        if preflight:
            preflight_converted(summary, summary.root if root is None else root, workers,
                                log=log)
    except (ConversionError, PreflightError) as error:
        sys.exit(f'error: {error}')
    return summary
