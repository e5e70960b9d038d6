# CPU demo detector (ASL side): retinanet_glyphs_focal.py with loss_cls swapped
# and the classifier's initial prior raised above the margin (below), nothing else.
# ASL settings as in configs/retinanet_asl.py (the paper's recommended setting).
_base_ = './retinanet_glyphs_focal.py'
model = dict(bbox_head=dict(
    loss_cls=dict(
        _delete_=True, type='AsymmetricLoss', use_sigmoid=True,
        gamma_pos=0.0, gamma_neg=4.0, clip=0.05, loss_weight=1.0),
    # the classifier's initial prior above the margin (why: configs/retinanet_asl.py)
    init_cfg=dict(type='Normal', layer='Conv2d', std=0.01,
                  override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.10))))
