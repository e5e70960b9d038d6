# CPU demo detector, the paper's ASL (configs/_asl_loss.py's asl_paper_loss) with adaptive
# asymmetry: gamma_neg starts at 4 and is steered towards a probability gap of 0.1 (paper section
# 2.7), as configs/retinanet_asl_adaptive.py. step_size is larger than the COCO config's because
# the demo schedule is ~100x shorter.
_base_ = './retinanet_glyphs_asl.py'
model = dict(bbox_head=dict(loss_cls=dict(_base_.asl_paper_loss, _delete_=True)))
custom_hooks = [
    dict(type='AdaptiveAsymmetryHook', target_gap=0.1, step_size=2e-3, interval=1,
         momentum=0.9, gamma_neg_bounds=(0.0, 8.0))
]
