# Shared by every asl_det config (ASL and focal baselines alike, so each pair differs in the
# loss alone): register asl_det's modules and log the paper's probability statistics
# (train/asl_pos_prob, train/asl_neg_prob, train/asl_prob_gap) for any sigmoid loss_cls.
custom_imports = dict(imports=['asl_det'], allow_failed_imports=False)
custom_hooks = [dict(type='ProbabilityStatisticsHook')]
