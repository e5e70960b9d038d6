# RetinaNet R-50-FPN 1x COCO with the setting focal_margin_prior10 (the studies' variant of that
# name): focal loss's gammas and alpha with ASL's probability margin (the clip of
# configs/_asl_loss.py), and the classifier started above the margin (retinanet_asl.py explains
# the prior): retinanet_asl.py without its rejection of negatives above 0.3. Results:
# configs/demo/study/results.md (glyph benchmark; also study_long/, 4x the schedule) and
# configs/bccd/study/results.md (BCCD); not measured on COCO.
_base_ = './retinanet_asl.py'
model = dict(bbox_head=dict(loss_cls=dict(_base_.focal_margin_loss, _delete_=True)))
