# BCCD's tuning split: the focal-loss detector of retinanet_bccd_focal.py trained on `train`
# (205 images) and evaluated on `val` (87). Settings are chosen here; `test` is kept for the
# confirmation (configs/PREREGISTRATION.md). Same model, schedule and data pipeline.
_base_ = ['./retinanet_bccd_focal.py']

train_dataloader = dict(dataset=dict(ann_file='annotations_coco/train.json'))
val_dataloader = dict(dataset=dict(ann_file='annotations_coco/val.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=_base_.data_root + 'annotations_coco/val.json')
test_evaluator = val_evaluator
