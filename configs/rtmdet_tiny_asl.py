# RTMDet-tiny 300e COCO with the Asymmetric Loss: rtmdet_tiny_baseline.py with loss_cls swapped
# for ASL as configs/_asl_loss.py defines it (asl_loss, the confirmed setting: retinanet_asl.py;
# not measured with this head) and the classifier's initial prior raised above the margin
# (below), nothing else.
# RTMDetHead passes (labels, alignment metrics) quality targets with avg_factor=1 and normalises
# afterwards; ASL takes them as QualityFocalLoss does. _delete_ drops QFL's beta.
_base_ = ['./rtmdet_tiny_baseline.py', './_asl_loss.py']
model = dict(bbox_head=dict(loss_cls=dict(_base_.asl_loss, _delete_=True)))
# The classifier's initial prior, above the margin: RTMDetHead sets its classifier bias to
# p = 0.01 in init_weights, over any init_cfg, below clip = 0.05 (every negative would start at
# zero loss and gradient). ClassifierPriorHook sets it to 0.10 before training from scratch, as
# retinanet_asl.py's init_cfg does for RetinaHead.
custom_imports = dict(imports=['asl_det', 'asl_det.engine.hooks.classifier_prior_hook'],
                      allow_failed_imports=False)
custom_hooks = _base_.custom_hooks + [dict(type='ClassifierPriorHook', prior=0.10)]
