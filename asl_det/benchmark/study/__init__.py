"""The multi-seed study of ASL variants against focal loss on the glyph benchmark."""
from .records import load_records, record_path, write_record
from .report import complete_records, plot_study, study_table, verdict_lines, write_study_report
from .runner import StudyRunsFailed, StudySettings, condition_name, run_study
from .statistics import CellSummary, mean_std, summarise, verdict
from .variants import BASELINE, DEFAULT_VARIANTS, VARIANTS

__all__ = ['BASELINE', 'CellSummary', 'DEFAULT_VARIANTS', 'StudySettings', 'VARIANTS',
           'StudyRunsFailed', 'complete_records',
           'condition_name', 'load_records', 'mean_std', 'plot_study', 'record_path',
           'run_study', 'study_table', 'summarise', 'verdict', 'verdict_lines', 'write_record',
           'write_study_report']
