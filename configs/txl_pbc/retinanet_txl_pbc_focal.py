# TXL-PBC peripheral blood cells (real photographs of mixed sizes, YOLO labels; focal-loss side):
# the BCCD detector of configs/bccd/retinanet_bccd_focal.py (ResNet-18 at half width, 64-channel
# FPN and GroupNorm head, strides 8-64, flips, batch 8, AdamW, 800 iterations; BCCD's schedule,
# not tuned here: about 6 epochs of TXL-PBC's 1,008 training images) with images resized to fit
# 320 x 320 (575x575, 360x363, 640x480 and 416x416 originals), trained on train, evaluated on
# test. Classes in data.yaml's order, as the converter numbers the categories.
# Data: git clone https://github.com/lugan113/TXL-PBC_Dataset data/TXL-PBC_Dataset
#       python tools/yolo_to_coco.py data/TXL-PBC_Dataset/TXL_PBC/data.yaml
#                                           (-> TXL_PBC/annotations_coco/{train,val,test}.json)
# Read-only data: add --out DIR, then --cfg-options {train,val,test}_dataloader.dataset.ann_file=
# DIR/....json and {val,test}_evaluator.ann_file=DIR/test.json (and ...data_root=... if the
# images are elsewhere).
_base_ = ['../bccd/retinanet_bccd_focal.py']

data_root = 'data/TXL-PBC_Dataset/TXL_PBC/'
metainfo = dict(classes=('WBC', 'RBC', 'Platelets'))

# BCCD's pipelines, each image resized to fit 320 x 320
train_pipeline = _base_.train_pipeline
test_pipeline = _base_.test_pipeline
for _pipeline in (train_pipeline, test_pipeline):
    for _step in _pipeline:
        if _step['type'] == 'Resize':
            _step['scale'] = (320, 320)
del _pipeline, _step
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations_coco/train.json',
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations_coco/test.json',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations_coco/test.json')
test_evaluator = val_evaluator
