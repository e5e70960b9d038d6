# QualityFocalLoss baseline for rtmdet_tiny_asl.py: MMDetection's RTMDet-tiny 300e COCO,
# unchanged (model zoo: 40.9 box AP), plus asl_det's plugin settings. configs/_plugin.py cannot
# be a second _base_ here: RTMDet defines custom_hooks too (EMA, pipeline switch), and mmengine
# refuses a key defined by two bases. So the plugin's two settings are applied to the base's
# (tests/test_tools/test_configs.py checks that they match configs/_plugin.py).
_base_ = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'
custom_imports = dict(imports=['asl_det'], allow_failed_imports=False)
custom_hooks = _base_.custom_hooks + [dict(type='ProbabilityStatisticsHook')]
