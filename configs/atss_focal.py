# Focal-loss baseline for atss_asl.py: MMDetection's ATSS R-50-FPN 1x COCO.
_base_ = ['mmdet::atss/atss_r50_fpn_1x_coco.py', './_plugin.py']
