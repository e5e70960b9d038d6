# QualityFocalLoss baseline for gfl_asl.py: MMDetection's GFL R-50-FPN 1x COCO, unchanged
# (model zoo: 40.2 box AP), plus asl_det's probability-statistics logging.
_base_ = ['mmdet::gfl/gfl_r50_fpn_1x_coco.py', './_plugin.py']
