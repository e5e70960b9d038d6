# Focal-loss baseline for fcos_asl.py: MMDetection's FCOS R-50-caffe-FPN GN-head 1x COCO.
_base_ = ['mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py', './_plugin.py']
