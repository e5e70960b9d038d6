# BCCD RetinaNet with the recipe (configs/retinanet_asl_recipe.py): focal loss's gammas and
# alpha plus ASL's probability margin, the classifier started above the margin.
_base_ = './retinanet_bccd_asl.py'
model = dict(bbox_head=dict(loss_cls=dict(
    _delete_=True, type='AsymmetricLoss', use_sigmoid=True,
    gamma_pos=2.0, gamma_neg=2.0, clip=0.05, alpha=0.25, loss_weight=1.0)))
