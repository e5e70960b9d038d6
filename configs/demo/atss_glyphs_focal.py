# CPU demo ATSS (focal-loss side), for checking whether the RetinaNet study's findings transfer to
# adaptive training-sample selection: everything but the head and its assigner as in
# retinanet_glyphs_focal.py (ResNet-18 at half width, 64-channel FPN with 3 levels, 128 px
# images, batch 8, AdamW lr 2e-3, no pretrained weights). Head: mmdet's ATSSHead
# (atss_r50_fpn_1x_coco.py) at 64 channels with 2 stacked convs and GroupNorm; one 16 px anchor
# per stride 8 / 16 / 32, as gfl_glyphs_qfl.py (objects are 16-56 px).
_base_ = './retinanet_glyphs_focal.py'

model = dict(
    type='ATSS',
    bbox_head=dict(
        _delete_=True,
        type='ATSSHead',
        num_classes={{_base_.num_classes}},
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        anchor_generator=dict(
            type='AnchorGenerator', ratios=[1.0], octave_base_scale=2, scales_per_octave=1,
            strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
                        target_stds=[0.1, 0.1, 0.2, 0.2]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=dict(_delete_=True, assigner=dict(type='ATSSAssigner', topk=9),
                   allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms=dict(type='nms', iou_threshold=0.6)))
