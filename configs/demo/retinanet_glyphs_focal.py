# CPU demo detector (focal-loss side): a RetinaNet small enough to learn the built-in glyph
# benchmark (asl_det.benchmark.glyphs) from scratch in minutes on 2 cores: ResNet-18 at half width,
# 64-channel FPN and head with GroupNorm, 128 px images, batch 8, no pretrained weights,
# 200 warm-up iterations, gradient clipping at 10. Optimizer measured here (focal, 600 iterations,
# box AP / AP50 on val): SGD lr 0.01 0.053 / 0.106 (after 1000), SGD lr 0.04 0.046 / 0.097,
# AdamW lr 1e-3 0.084 / 0.162, AdamW lr 2e-3 0.098 / 0.183 (kept).
# Generate the data with `python tools/make_dataset.py --out data/glyphs` (tools/demo.py does).
_base_ = ['mmdet::retinanet/retinanet_r18_fpn_1xb8-1x_coco.py', '../_plugin.py']
custom_imports = dict(imports=['asl_det', 'asl_det.datasets.glyph_dataset'],
                      allow_failed_imports=False)

data_root = 'data/glyphs/'
dataset_type = 'GlyphDetectionDataset'
num_classes = 31  # len(asl_det.benchmark.glyphs.GLYPH_CLASSES), checked by the tests
max_iters = 1600
val_interval = 800

model = dict(
    backbone=dict(depth=18, base_channels=32, frozen_stages=-1, norm_eval=False,
                  init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64, start_level=1, num_outs=3),
    bbox_head=dict(
        num_classes=num_classes, in_channels=64, feat_channels=64, stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        # objects are 16-56 px: anchors of 16-50 px on strides 8 / 16 / 32
        anchor_generator=dict(octave_base_scale=2, strides=[8, 16, 32])))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),  # sets scale_factor
    dict(type='PackDetInputs'),  # no flip: a mirrored glyph is another glyph
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=False), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json', classwise=True)
test_evaluator = val_evaluator

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=val_interval)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=200),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8), int(max_iters * 0.95)], gamma=0.1),
]
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=val_interval, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
