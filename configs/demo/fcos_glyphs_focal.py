# CPU demo FCOS (focal-loss side), for checking whether the RetinaNet study's findings transfer to
# an anchor-free head: everything but the head as in retinanet_glyphs_focal.py (ResNet-18 at half
# width, 64-channel FPN with 3 levels, 128 px images, batch 8, AdamW lr 2e-3, no pretrained
# weights). Head: mmdet's FCOSHead (fcos_r50-caffe_fpn_gn-head_1x_coco.py) at 64 channels with 2
# stacked convs and GroupNorm like the RetinaNet demo's. Regression ranges are the standard
# ones scaled to this data (objects 16-56 px on strides 8 / 16 / 32, where COCO's are up to
# 8x the stride on the first level): a location regresses a box on the level whose range holds
# its largest distance to a side.
_base_ = './retinanet_glyphs_focal.py'

model = dict(
    type='FCOS',
    bbox_head=dict(
        _delete_=True,
        type='FCOSHead',
        num_classes={{_base_.num_classes}},
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        strides=[8, 16, 32],
        regress_ranges=((-1, 16), (16, 32), (32, 1e8)),
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=None)
