# RTMDet-tiny 300e COCO with the Asymmetric Loss: rtmdet_tiny_baseline.py with loss_cls swapped,
# nothing else. RTMDetHead passes (labels, alignment metrics) quality targets with avg_factor=1
# and normalises afterwards; ASL takes them as QualityFocalLoss does. Settings: the paper's
# recommended ones, as in retinanet_asl.py. _delete_ drops QFL's beta.
_base_ = './rtmdet_tiny_baseline.py'
model = dict(bbox_head=dict(loss_cls=dict(
    _delete_=True, type='AsymmetricLoss', use_sigmoid=True,
    gamma_pos=0.0, gamma_neg=4.0, clip=0.05, loss_weight=1.0)))
