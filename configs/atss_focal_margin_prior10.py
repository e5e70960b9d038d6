# ATSS R-50-FPN 1x COCO with the setting focal_margin_prior10 (retinanet_focal_margin_prior10.py):
# focal loss's gammas and alpha with ASL's probability margin (the clip of configs/_asl_loss.py),
# and the classifier started above the margin (atss_asl.py): atss_asl.py without its rejection
# of negatives above 0.3. Results: the transfer check on the glyph ATSS
# (configs/demo/study/transfer/atss/results.md); not measured on COCO.
_base_ = './atss_asl.py'
model = dict(bbox_head=dict(loss_cls=dict(_base_.focal_margin_loss, _delete_=True)))
