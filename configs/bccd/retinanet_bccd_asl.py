# BCCD RetinaNet with the Asymmetric Loss as the ASL configs ship it: retinanet_bccd_focal.py with
# loss_cls swapped for ASL as configs/_asl_loss.py defines it (asl_loss, the confirmed setting)
# and the classifier's initial prior raised above the margin (why: configs/retinanet_asl.py);
# nothing else. The studies' variant focal_margin_prior10_reject30; results:
# configs/bccd/confirmation/results.md.
_base_ = ['./retinanet_bccd_focal.py', '../_asl_loss.py']
model = dict(bbox_head=dict(
    loss_cls=dict(_base_.asl_loss, _delete_=True),
    init_cfg=dict(type='Normal', layer='Conv2d', std=0.01,
                  override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.10))))
