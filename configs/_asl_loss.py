# The Asymmetric Loss as the ASL configs ship it, written once: the paper's recommended setting
# (Ben-Baruch et al., ICCV 2021: gamma_pos=0 as in the authors' training recipe, gamma_neg=4,
# clip=0.05; also MMPretrain's ASL defaults), i.e. AsymmetricLoss's own defaults
# (asl_det.models.losses.asymmetric_loss.ASL_DEFAULTS; tests/test_tools/test_configs.py checks
# that they agree), and loss_weight=1 as measured on the CPU demo. use_sigmoid=True keeps C
# sigmoid outputs (no background channel). A config adds this file to its _base_ and sets
# loss_cls=dict(_base_.asl_loss, _delete_=True) (_delete_ drops the replaced loss's keys, e.g.
# FocalLoss's alpha/gamma), with any argument it changes.
asl_loss = dict(type='AsymmetricLoss', use_sigmoid=True, gamma_pos=0.0, gamma_neg=4.0, clip=0.05,
                loss_weight=1.0)
