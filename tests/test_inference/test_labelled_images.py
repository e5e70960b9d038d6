"""A COCO json in a detector's class order: categories matched by name (not id or order), crowd
boxes and foreign categories left out, xywh <-> xyxy both ways."""
import json

import numpy as np
import pytest

from asl_det.inference.labelled_images import Detections, InferenceSetupError, LabelledImages


@pytest.fixture
def ann_file(tmp_path):
    coco = dict(
        images=[dict(id=7, file_name='x.png', width=50, height=40),
                dict(id=3, file_name='sub/y.png', width=50, height=40)],
        categories=[dict(id=5, name='bar'), dict(id=9, name='square'), dict(id=2, name='other')],
        annotations=[
            dict(id=1, image_id=7, category_id=9, bbox=[1, 2, 10, 20], area=200, iscrowd=0),
            dict(id=2, image_id=7, category_id=5, bbox=[5, 5, 4, 4], area=16, iscrowd=0),
            dict(id=3, image_id=7, category_id=5, bbox=[0, 0, 50, 40], area=2000, iscrowd=1),
            dict(id=4, image_id=7, category_id=2, bbox=[0, 0, 3, 3], area=9, iscrowd=0)])
    path = tmp_path / 'labels.json'
    path.write_text(json.dumps(coco))
    return str(path)


def test_boxes_in_the_detectors_class_order(ann_file):
    images = LabelledImages(ann_file, 'root', ('square', 'bar'))
    assert images.img_ids == [3, 7] and images.cat_ids == [9, 5]
    assert images.path(3) == 'root/sub/y.png'
    truth = images.ground_truth(7)
    assert truth.bboxes.tolist() == [[1, 2, 11, 22], [5, 5, 9, 9]]
    assert truth.labels.tolist() == [0, 1] and truth.scores is None
    assert images.ground_truth(7, {2}).labels.tolist() == [1]
    assert len(images.ground_truth(3)) == 0


def test_coco_results_round_trip(ann_file):
    images = LabelledImages(ann_file, 'root', ('square', 'bar'))
    found = Detections.from_prediction(dict(bboxes=[[1.0, 2.0, 11.0, 22.0]], labels=[1],
                                            scores=[0.25]))
    assert images.coco_results({7: found}) == [
        dict(image_id=7, category_id=5, bbox=[1.0, 2.0, 10.0, 20.0], score=0.25)]


def test_thresholding():
    found = Detections(np.zeros((3, 4), np.float32), np.array([0, 1, 0]),
                       np.array([0.2, 0.5, 0.7], np.float32))
    assert found.at_least(0.5).scores.tolist() == pytest.approx([0.5, 0.7])
    assert len(found.at_least(None)) == 0 and len(Detections.empty()) == 0


def test_a_class_missing_from_the_json(ann_file):
    with pytest.raises(InferenceSetupError, match=r"--gt-ann: .* has 0 categories named "
                                                  r"'circle'.*\['bar', 'other', 'square'\]"):
        LabelledImages(ann_file, 'root', ('square', 'circle'), '--gt-ann')
    with pytest.raises(InferenceSetupError, match="--val-ann: no such file 'nope.json'"):
        LabelledImages('nope.json', 'root', ('square',), '--val-ann')


def test_image_ids_of_one_file_share_its_detections(tmp_path, monkeypatch):
    from asl_det.inference import labelled_images
    from asl_det.inference.image_files import InferenceSummary
    coco = dict(images=[dict(id=1, file_name='a.png', width=8, height=8),
                        dict(id=2, file_name='a.png', width=8, height=8),
                        dict(id=3, file_name='b.png', width=8, height=8)],
                categories=[dict(id=1, name='square')], annotations=[])
    (tmp_path / 'labels.json').write_text(json.dumps(coco))
    predicted = []

    def fake_run_on_files(inferencer, paths, batch_size, keep_predictions, **kwargs):
        predicted.extend(paths)
        summary = InferenceSummary()
        summary.done = list(paths)
        summary.predictions = {path: dict(bboxes=[[0, 0, 4, 4]], labels=[0], scores=[0.5])
                               for path in paths}
        return summary

    monkeypatch.setattr(labelled_images, 'run_on_files', fake_run_on_files)
    images = LabelledImages(str(tmp_path / 'labels.json'), 'root', ('square',))
    found = images.predict(None, images.img_ids)
    assert predicted == ['root/a.png', 'root/b.png']  # each file once
    assert sorted(found) == [1, 2, 3]
