"""Users' own data: VOC to COCO conversion and the pre-flight check of a config's data.

Not imported by ``import asl_det``; the tools (``tools/voc_to_coco.py``, ``tools/preflight.py``,
``tools/train.py``) import it.
"""
from .coco_checks import DatasetReport
from .preflight import PreflightError, preflight_coco, preflight_config
from .voc_conversion import ConversionSummary, VOCConversionError, convert_voc_to_coco

__all__ = ['ConversionSummary', 'DatasetReport', 'PreflightError', 'VOCConversionError',
           'convert_voc_to_coco', 'preflight_coco', 'preflight_config']
