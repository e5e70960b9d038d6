"""The multi-seed study of ASL variants against focal loss, on any COCO-format data set."""
from .plan import Job, StudySettings, condition_name
from .records import load_records, record_path, write_record
from .report import write_study_report
from .runner import StudyPlan, StudyRunsFailed, collect_study, print_commands, run_study
from .statistics import CellSummary, PairedTest, holm, paired_test, summarise
from .variants import BASELINE, DEFAULT_VARIANTS, PRIMARY_VARIANTS, VARIANTS

__all__ = ['BASELINE', 'CellSummary', 'DEFAULT_VARIANTS', 'Job', 'PRIMARY_VARIANTS',
           'PairedTest', 'StudyPlan', 'StudyRunsFailed', 'StudySettings', 'VARIANTS',
           'collect_study', 'condition_name', 'holm', 'load_records', 'paired_test',
           'print_commands', 'record_path', 'run_study', 'summarise', 'write_record',
           'write_study_report']
