# Candidate settings tuned on BCCD train -> val (tools/study.py --variant-file), each
# focal_margin_prior10 (focal loss's gammas and alpha with ASL's margin 0.05, prior 0.10) plus a
# rejection of confident negatives (AsymmetricLoss reject_above / mirror_weight, docs/rejection.md).
# The candidate chosen, focal_margin_prior10_reject30 (negatives above p 0.3 ignored), is now a
# named variant of asl_det/benchmark/study/variants.py (configs/PREREGISTRATION.md).
_margin = dict(type='AsymmetricLoss', use_sigmoid=True, gamma_pos=2.0, gamma_neg=2.0, clip=0.05,
               alpha=0.25, loss_weight=1.0)
variants = dict(
    # negatives above p 0.5 ignored (zero loss and gradient)
    focal_margin_prior10_reject50=dict(loss_cls=dict(_margin, reject_above=0.5), prior=0.1),
    # negatives above p 0.5 pushed up as positives (BRL's mirror, beta 1)
    focal_margin_prior10_mirror50=dict(loss_cls=dict(_margin, reject_above=0.5, mirror_weight=1.0),
                                       prior=0.1),
)
