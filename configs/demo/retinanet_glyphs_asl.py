# CPU demo detector (ASL side): retinanet_glyphs_focal.py with loss_cls swapped for ASL as
# configs/_asl_loss.py defines it (asl_loss, the confirmed setting, as configs/retinanet_asl.py)
# and the classifier's initial prior raised above the margin (below), nothing else.
_base_ = ['./retinanet_glyphs_focal.py', '../_asl_loss.py']
model = dict(bbox_head=dict(
    loss_cls=dict(_base_.asl_loss, _delete_=True),
    # the classifier's initial prior above the margin (why: configs/retinanet_asl.py)
    init_cfg=dict(type='Normal', layer='Conv2d', std=0.01,
                  override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.10))))
