"""A COCO json's images and boxes in a detector's class order, and its predictions on them.

Boxes are xyxy in original-image pixels throughout (COCO's xywh converted); labels are class
indices of the detector (``model.dataset_meta['classes']``), matched to the json's categories by
name, as mmdet's ``CocoDataset`` and ``CocoMetric`` match them.
"""
import contextlib
import io
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from mmdet.datasets.api_wrappers import COCO

from .image_files import run_on_files
from .inputs import InferenceSetupError


@dataclass
class Detections:
    """Boxes of one image: ``bboxes`` (N, 4) xyxy pixels, ``labels`` (N,) class indices,
    ``scores`` (N,) (None for ground truth)."""
    bboxes: np.ndarray
    labels: np.ndarray
    scores: Optional[np.ndarray] = None

    @classmethod
    def empty(cls) -> 'Detections':
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32))

    @classmethod
    def from_prediction(cls, prediction: dict) -> 'Detections':
        """From ``DetInferencer``'s prediction dict (``bboxes``, ``labels``, ``scores``)."""
        return cls(np.asarray(prediction['bboxes'], np.float32).reshape(-1, 4),
                   np.asarray(prediction['labels'], np.int64),
                   np.asarray(prediction['scores'], np.float32))

    def __len__(self) -> int:
        return len(self.labels)

    def at_least(self, threshold: Optional[float]) -> 'Detections':
        """The detections with ``score >= threshold`` (none for a None threshold)."""
        keep = (np.zeros(len(self), bool) if threshold is None
                else self.scores >= threshold)
        return Detections(self.bboxes[keep], self.labels[keep], self.scores[keep])


class LabelledImages:
    """The images and non-crowd boxes of a COCO json, labelled in ``classes`` order.

    Args:
        ann_file: the COCO json.
        img_dir: the folder its ``file_name``s are relative to.
        classes: the detector's class names; each must be one category name of the json
            (other categories are left out).
        name: how errors name ``ann_file`` (a command-line option).
    """

    def __init__(self, ann_file: str, img_dir: str, classes: Sequence[str],
                 name: str = 'ann_file'):
        if not osp.isfile(ann_file):
            raise InferenceSetupError(f'{name}: no such file {ann_file!r}')
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its timing
            self.coco = COCO(ann_file)
        self.ann_file, self.img_dir, self.classes = ann_file, img_dir, tuple(classes)
        self.cat_ids: List[int] = []
        for class_name in self.classes:
            ids = self.coco.getCatIds(catNms=[class_name])
            if len(ids) != 1:
                names = sorted(cat['name'] for cat in self.coco.dataset['categories'])
                raise InferenceSetupError(
                    f'{name}: {ann_file} has {len(ids)} categories named {class_name!r}, a '
                    f'class of the detector; its categories: {names}')
            self.cat_ids.append(ids[0])
        self.label_of = {cat_id: label for label, cat_id in enumerate(self.cat_ids)}
        self.img_ids: List[int] = sorted(self.coco.getImgIds())

    def path(self, img_id: int) -> str:
        return osp.join(self.img_dir, self.coco.imgs[img_id]['file_name'])

    def file_name(self, img_id: int) -> str:
        return self.coco.imgs[img_id]['file_name']

    def annotations(self, img_id: int) -> List[dict]:
        """The non-crowd annotations of ``img_id`` whose category is a detector class."""
        return [ann for ann in self.coco.imgToAnns.get(img_id, [])
                if not ann.get('iscrowd', 0) and ann['category_id'] in self.label_of]

    def ground_truth(self, img_id: int, ann_ids: Optional[set] = None) -> Detections:
        """The boxes of ``img_id`` (only those with an id in ``ann_ids``, if given)."""
        anns = [ann for ann in self.annotations(img_id)
                if ann_ids is None or ann['id'] in ann_ids]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)],
                         np.float32).reshape(-1, 4)
        return Detections(boxes, np.array([self.label_of[a['category_id']] for a in anns],
                                          np.int64))

    def coco_results(self, predictions: Dict[int, Detections]) -> List[dict]:
        """``predictions`` (image id -> detections) as COCO results, as ``CocoMetric`` writes
        them (``bbox`` xywh, ``category_id`` of the label's class)."""
        results = []
        for img_id, found in predictions.items():
            for (x1, y1, x2, y2), label, score in zip(found.bboxes.tolist(),
                                                      found.labels.tolist(),
                                                      found.scores.tolist()):
                results.append(dict(image_id=img_id, category_id=self.cat_ids[label],
                                    bbox=[x1, y1, x2 - x1, y2 - y1], score=score))
        return results

    def predict(self, inferencer, img_ids: Sequence[int], batch_size: int = 1,
                progress=None, log: Callable[[str], None] = print) -> Dict[int, Detections]:
        """``inferencer``'s detections on the images ``img_ids`` (each file once: image ids
        that name the same file share its detections); files that cannot be decoded are left
        out, each named on ``log``."""
        ids_of: Dict[str, List[int]] = {}
        for img_id in img_ids:
            ids_of.setdefault(self.path(img_id), []).append(img_id)
        summary = run_on_files(inferencer, list(ids_of), batch_size, keep_predictions=True,
                               progress=progress, no_save_vis=True, no_save_pred=True)
        for path, reason in summary.skipped:
            log(f'skipped {path}: {reason}')
        return {img_id: Detections.from_prediction(prediction)
                for path, prediction in summary.predictions.items() for img_id in ids_of[path]}
