# BCCD RetinaNet with the setting focal_margin_prior10 (configs/retinanet_focal_margin_prior10.py):
# focal loss's gammas and alpha with ASL's probability margin, the classifier started above the
# margin: retinanet_bccd_asl.py without its rejection of negatives above 0.3. Results:
# configs/bccd/study/results.md.
_base_ = './retinanet_bccd_asl.py'
model = dict(bbox_head=dict(loss_cls=dict(_base_.focal_margin_loss, _delete_=True)))
