# RetinaNet R-50-FPN 1x COCO with the Asymmetric Loss: retinanet_focal.py with loss_cls swapped
# for ASL as configs/_asl_loss.py defines it (the paper's recommended setting) and the
# classifier's initial prior raised above the margin (below), nothing else: the studies' variant
# asl_paper_prior10. Results: configs/demo/study/results.md (glyph benchmark) and
# configs/bccd/study/results.md (BCCD); not measured on COCO.
_base_ = ['./retinanet_focal.py', './_asl_loss.py']
model = dict(bbox_head=dict(
    loss_cls=dict(_base_.asl_loss, _delete_=True),
    # The classifier's initial prior, above the margin. mmdet initialises the bias to p = 0.01,
    # below clip = 0.05, where every negative costs exactly zero loss and gradient, so the head
    # starts training on its positives alone (the studies compare it with the default prior:
    # variant asl_paper). This is the head's own init_cfg with bias_prob 0.10 instead of 0.01.
    init_cfg=dict(type='Normal', layer='Conv2d', std=0.01,
                  override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.10))))
