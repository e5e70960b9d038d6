# ATSS R-50-FPN 1x COCO with the glyph study's ASL recipe (retinanet_asl_recipe.py): focal loss's
# gammas and alpha (2, 2, 0.25) plus ASL's probability margin clip=0.05, with the classifier
# started above the margin (atss_asl.py). Evidence: the transfer check on the glyph ATSS
# (configs/demo/study/transfer/atss/results.md); not measured on COCO.
_base_ = './atss_asl.py'
model = dict(bbox_head=dict(loss_cls=dict(
    _delete_=True, type='AsymmetricLoss', use_sigmoid=True,
    gamma_pos=2.0, gamma_neg=2.0, clip=0.05, alpha=0.25, loss_weight=1.0)))
