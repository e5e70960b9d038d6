"""Users' own data: VOC and YOLO to COCO conversion and the pre-flight check of a config's data.

Not imported by ``import asl_det``; the tools (``tools/voc_to_coco.py``, ``tools/yolo_to_coco.py``,
``tools/preflight.py``, ``tools/train.py``) import it.
"""
from .coco_checks import DatasetReport
from .coco_output import ConversionError, ConversionSummary, preflight_converted
from .preflight import PreflightError, preflight_coco, preflight_config
from .voc_conversion import VOCConversionError, VOCSummary, convert_voc_to_coco
from .yolo_conversion import (
    YOLOConversionError,
    YOLOSummary,
    convert_yolo_folder,
    convert_yolo_to_coco,
)

__all__ = ['ConversionError', 'ConversionSummary', 'DatasetReport', 'PreflightError',
           'VOCConversionError', 'VOCSummary', 'YOLOConversionError', 'YOLOSummary',
           'convert_voc_to_coco', 'convert_yolo_folder', 'convert_yolo_to_coco',
           'preflight_coco', 'preflight_config', 'preflight_converted']
