# GFL R-50-FPN 1x COCO with the Asymmetric Loss: gfl_qfl.py with loss_cls swapped for ASL as
# configs/_asl_loss.py defines it (asl_loss, the confirmed setting: retinanet_asl.py) and the
# classifier's initial prior raised above the margin (below), nothing else. GFLHead passes
# (labels, IoU scores) quality targets; ASL takes them as QualityFocalLoss does (equal to it at
# gamma_pos = gamma_neg = beta = 2, clip = 0, no alpha, no rejection). _delete_ drops QFL's beta.
# Not measured with this head: the setting was confirmed on RetinaNet.
_base_ = ['./gfl_qfl.py', './_asl_loss.py']
model = dict(bbox_head=dict(
    loss_cls=dict(_base_.asl_loss, _delete_=True),
    # the classifier's initial prior above the margin (why: configs/retinanet_asl.py)
    init_cfg=dict(type='Normal', layer='Conv2d', std=0.01,
                  override=dict(type='Normal', name='gfl_cls', std=0.01, bias_prob=0.10))))
