# RetinaNet R-50-FPN 1x COCO with the Asymmetric Loss: retinanet_focal.py with loss_cls swapped
# for ASL as configs/_asl_loss.py defines it (asl_loss: focal's gammas and alpha, the paper's
# margin, negatives above 0.3 rejected) and the classifier's initial prior raised above the margin
# (below), nothing else: the studies' variant focal_margin_prior10_reject30, confirmed on BCCD and
# TXL-PBC (configs/bccd/confirmation/results.md, configs/txl_pbc/confirmation/results.md); not
# measured on COCO.
_base_ = ['./retinanet_focal.py', './_asl_loss.py']
model = dict(bbox_head=dict(
    loss_cls=dict(_base_.asl_loss, _delete_=True),
    # The classifier's initial prior, above the margin. mmdet initialises the bias to p = 0.01,
    # below clip = 0.05, where every negative costs exactly zero loss and gradient, so the head
    # starts training on its positives alone (the studies compare it with the default prior:
    # variant asl_paper). This is the head's own init_cfg with bias_prob 0.10 instead of 0.01.
    init_cfg=dict(type='Normal', layer='Conv2d', std=0.01,
                  override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.10))))
