# TXL-PBC's tuning split: retinanet_txl_pbc_focal.py trained on `train` and evaluated on `val`,
# where its schedule is chosen (a focal run long enough that the learning curve plateaus);
# `test` is kept for the confirmation.
_base_ = ['./retinanet_txl_pbc_focal.py']

val_dataloader = dict(dataset=dict(ann_file='annotations_coco/val.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=_base_.data_root + 'annotations_coco/val.json')
test_evaluator = val_evaluator
