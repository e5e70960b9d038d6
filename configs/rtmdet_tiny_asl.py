# RTMDet-tiny 300e COCO with the Asymmetric Loss: rtmdet_tiny_baseline.py with loss_cls swapped
# for ASL as configs/_asl_loss.py defines it (the paper's recommended setting), nothing else.
# RTMDetHead passes (labels, alignment metrics) quality targets with avg_factor=1 and normalises
# afterwards; ASL takes them as QualityFocalLoss does. _delete_ drops QFL's beta.
_base_ = ['./rtmdet_tiny_baseline.py', './_asl_loss.py']
model = dict(bbox_head=dict(loss_cls=dict(_base_.asl_loss, _delete_=True)))
