# GFL R-50-FPN 1x COCO with the Asymmetric Loss: gfl_qfl.py with loss_cls swapped
# and the classifier's initial prior raised above the margin (below), nothing else.
# GFLHead passes (labels, IoU scores) quality targets; ASL takes them as QualityFocalLoss does
# (equal to it at gamma_pos = gamma_neg = beta = 2, clip = 0). Settings: the paper's recommended
# ones, as in retinanet_asl.py. _delete_ drops QFL's beta; use_sigmoid=True keeps C outputs.
_base_ = './gfl_qfl.py'
model = dict(bbox_head=dict(
    loss_cls=dict(
        _delete_=True, type='AsymmetricLoss', use_sigmoid=True,
        gamma_pos=0.0, gamma_neg=4.0, clip=0.05, loss_weight=1.0),
    # the classifier's initial prior above the margin (why: configs/retinanet_asl.py)
    init_cfg=dict(type='Normal', layer='Conv2d', std=0.01,
                  override=dict(type='Normal', name='gfl_cls', std=0.01, bias_prob=0.10))))
