"""Configs and ASL: the ``--asl`` swap (:mod:`.asl_swap`), the checks a config passes before
training (:mod:`.checks`), the classifier's initial prior in a head's ``init_cfg``
(:mod:`.classifier_prior`), and which of mmdet's own detector configs take the swap
(:mod:`.coverage`, one model trial each in :mod:`.model_trial`). Import the modules directly."""
