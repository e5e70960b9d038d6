# RetinaNet R-50-FPN 1x COCO with the ASL recipe that won on the glyph benchmark in both
# annotation conditions: focal loss's gammas and alpha (2, 2, 0.25) plus ASL's probability
# margin clip=0.05, with the classifier started above the margin (retinanet_asl.py explains the
# prior). Measured on the glyph study only (README, "Does ASL help?", variant
# focal_margin_prior10: +0.018 box AP over focal with complete labels, +0.017 with half the
# boxes unlabelled, 3 seeds each); not measured on COCO.
_base_ = './retinanet_asl.py'
model = dict(bbox_head=dict(loss_cls=dict(
    _delete_=True, type='AsymmetricLoss', use_sigmoid=True,
    gamma_pos=2.0, gamma_neg=2.0, clip=0.05, alpha=0.25, loss_weight=1.0)))
