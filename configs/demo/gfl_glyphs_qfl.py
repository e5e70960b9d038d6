# CPU demo detector with a quality-target head (QualityFocalLoss side): GFL on the built-in glyph
# benchmark, everything but the head and its assigner as in retinanet_glyphs_focal.py (ResNet-18
# at half width, 64-channel FPN with 3 levels, 128 px images, batch 8, AdamW lr 2e-3, no
# pretrained weights). Head: mmdet's GFLHead (gfl_r50_fpn_1x_coco.py) at 64 channels with 2
# stacked convs and GroupNorm like the RetinaNet demo's; one 16 px anchor per stride 8 / 16 / 32
# (16 / 32 / 64 px for ATSS's assignment; objects are 16-56 px).
_base_ = './retinanet_glyphs_focal.py'

model = dict(
    type='GFL',
    bbox_head=dict(
        _delete_=True,
        type='GFLHead',
        num_classes={{_base_.num_classes}},
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        anchor_generator=dict(
            type='AnchorGenerator', ratios=[1.0], octave_base_scale=2, scales_per_octave=1,
            strides=[8, 16, 32]),
        loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
        reg_max=16,
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(_delete_=True, assigner=dict(type='ATSSAssigner', topk=9),
                   allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms=dict(type='nms', iou_threshold=0.6)))
