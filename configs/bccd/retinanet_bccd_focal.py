# BCCD blood-cell detection (real photographs, incomplete labels; focal-loss side): a RetinaNet
# small enough to learn BCCD from scratch on CPU (ResNet-18 at half width, 64-channel FPN and
# GroupNorm head, strides 8-64, images at 320 x 240 with horizontal and vertical flips, batch 8,
# AdamW, 800 iterations = about 22 epochs of trainval), evaluated on the test split.
# Data: git clone https://github.com/Shenggan/BCCD_Dataset data/BCCD_Dataset
#       python tools/voc_to_coco.py data/BCCD_Dataset/BCCD      (-> BCCD/annotations_coco/)
# Elsewhere: --cfg-options {train,val,test}_dataloader.dataset.data_root=... and
# {val,test}_evaluator.ann_file=... (tools/study.py passes them to every run).
_base_ = ['mmdet::retinanet/retinanet_r18_fpn_1xb8-1x_coco.py', '../_plugin.py']
# asl_det (from _plugin.py) and the module that registers ChannelsLastHook (custom_hooks, below)
custom_imports = dict(imports=['asl_det', 'asl_det.engine.hooks.channels_last_hook'])

data_root = 'data/BCCD_Dataset/BCCD/'
# in the converter's order (sorted by name): mmdet numbers labels in the json's category order
metainfo = dict(classes=('Platelets', 'RBC', 'WBC'))
max_iters = 800
val_interval = 100

model = dict(
    backbone=dict(depth=18, base_channels=32, frozen_stages=-1, norm_eval=False,
                  init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64, start_level=1, num_outs=4),
    bbox_head=dict(
        num_classes=3, in_channels=64, feat_channels=64, stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        # cells are ~10-110 px at 320 x 240: anchors of 16-200 px on strides 8 / 16 / 32 / 64
        anchor_generator=dict(octave_base_scale=2, strides=[8, 16, 32, 64])))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(320, 240), keep_ratio=True),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(320, 240), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(_delete_=True, type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations_coco/trainval.json', data_prefix=dict(img=''),
                 filter_cfg=dict(filter_empty_gt=False), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(_delete_=True, type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations_coco/test.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations_coco/test.json', classwise=True)
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
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
# _plugin.py's statistics hook, and NHWC weights: faster on CPU, measured side by side with
# tools/benchmark_step.py (docs/speed.md, "Speed of a study run")
custom_hooks = _base_.custom_hooks + [dict(type='ChannelsLastHook')]
randomness = dict(seed=0)
