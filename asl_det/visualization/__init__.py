"""Pictures of trained detectors: the same images drawn with several checkpoints side by side
(``tools/compare.py --side-by-side``). Not imported by ``import asl_det``."""
from .side_by_side import ImageSet, SideBySideSettings, config_image_set, draw_side_by_side

__all__ = ['ImageSet', 'SideBySideSettings', 'config_image_set', 'draw_side_by_side']
