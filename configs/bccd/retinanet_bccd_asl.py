# BCCD RetinaNet with the Asymmetric Loss as the ASL configs ship it: retinanet_bccd_focal.py with
# loss_cls swapped (the paper's setting, as configs/retinanet_asl.py) and the classifier's
# initial prior raised above the margin (why: configs/retinanet_asl.py); nothing else.
_base_ = './retinanet_bccd_focal.py'
model = dict(bbox_head=dict(
    loss_cls=dict(
        _delete_=True, type='AsymmetricLoss', use_sigmoid=True,
        gamma_pos=0.0, gamma_neg=4.0, clip=0.05, loss_weight=1.0),
    init_cfg=dict(type='Normal', layer='Conv2d', std=0.01,
                  override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.10))))
