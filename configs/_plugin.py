# Shared by every asl_det config (ASL and focal baselines alike, so each pair differs in the
# loss alone): register ASL (import asl_det: the loss and its two hooks) and log the paper's
# probability statistics (train/asl_pos_prob, train/asl_neg_prob, train/asl_prob_gap) for any
# sigmoid loss_cls.
# Atomic checkpoint writes are not set here: mmengine refuses a key that two _base_ files both
# define ("Duplicate key is not allowed among bases"), and mmdet's bases define default_hooks.
# tools/train.py opts in instead (asl_det.checkpoint.atomic_backend.use_atomic_checkpoint_writes).
custom_imports = dict(imports=['asl_det'], allow_failed_imports=False)
custom_hooks = [dict(type='ProbabilityStatisticsHook')]
