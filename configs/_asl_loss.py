# The Asymmetric Loss, written once for every config that uses it.
#
# asl_paper_loss: the paper's recommended setting (Ben-Baruch et al., ICCV 2021: gamma_pos=0 as in
# the authors' training recipe, gamma_neg=4, clip=0.05; also MMPretrain's ASL defaults), i.e.
# AsymmetricLoss's own defaults (asl_det.models.losses.asymmetric_loss.ASL_DEFAULTS), what
# tools/train.py --asl writes (tests/test_tools/test_configs.py checks that they agree); the study's
# asl_paper and asl_paper_prior10, and the loss adaptive asymmetry steers.
#
# focal_margin_loss: focal loss's gammas (2, 2) and alpha 0.25 with the paper's margin clip 0.05,
# what the *_focal_margin_prior10.py configs train (the study's focal_margin_prior10).
#
# asl_loss: the setting the ASL configs ship, the study's focal_margin_prior10_reject30, confirmed
# against focal under a plan committed before the runs (configs/PREREGISTRATION.md; BCCD and
# TXL-PBC, labels as given and half missing: README.md): focal_margin_loss with the negatives the
# detector already scores above 0.3 left alone (reject_above, docs/rejection.md: where unlabelled
# objects' anchors sit). Its configs also start the classifier at prior 0.10, above the margin.
#
# use_sigmoid=True keeps C sigmoid outputs (no background channel); loss_weight=1 as focal's. A
# config adds this file to its _base_ and sets loss_cls=dict(_base_.asl_loss, _delete_=True)
# (_delete_ drops the replaced loss's keys, e.g. FocalLoss's gamma), with any argument it changes.
asl_paper_loss = dict(type='AsymmetricLoss', use_sigmoid=True, gamma_pos=0.0, gamma_neg=4.0,
                      clip=0.05, loss_weight=1.0)
focal_margin_loss = dict(asl_paper_loss, gamma_pos=2.0, gamma_neg=2.0, alpha=0.25)
asl_loss = dict(focal_margin_loss, reject_above=0.3)
