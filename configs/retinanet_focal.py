# Focal-loss baseline for retinanet_asl.py: MMDetection's RetinaNet R-50-FPN 1x COCO, unchanged
# (model zoo: 36.5 box AP), plus asl_det's probability-statistics logging.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './_plugin.py']
