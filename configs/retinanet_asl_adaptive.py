# RetinaNet R-50-FPN 1x COCO with the paper's ASL and adaptive asymmetry (paper section 2.7):
# retinanet_asl.py with the paper's setting (configs/_asl_loss.py's asl_paper_loss) instead of the
# shipped one, whose gamma_neg adaptive asymmetry steers: it starts at 4 and is steered so that
# the probability gap mean(1 - p | negatives) - mean(p | positives) approaches 0.1 (the paper's
# suggested target). step_size is ours (the paper gives none): ~0.04 change per 1000 iterations at
# a gap of 0.5. The studies' variant asl_paper_prior10_adaptive.
_base_ = ['./retinanet_asl.py']
model = dict(bbox_head=dict(loss_cls=dict(_base_.asl_paper_loss, _delete_=True)))
custom_hooks = [
    dict(type='AdaptiveAsymmetryHook', target_gap=0.1, step_size=1e-4, interval=1,
         momentum=0.9, gamma_neg_bounds=(0.0, 8.0))
]
