"""Turn ``tools/train.py`` work dirs into comparison tables and plots (``tools/compare.py``)."""
from .inference_profile import profile_inference
from .plots import map_curves_figure, plot_map_curves, plot_probabilities, probabilities_figure
from .report import comparison_report, metrics_table, per_class_table, training_table
from .work_dirs import Run, load_run, run_names

__all__ = ['Run', 'load_run', 'run_names', 'metrics_table', 'per_class_table', 'training_table',
           'comparison_report', 'plot_map_curves', 'plot_probabilities', 'map_curves_figure',
           'probabilities_figure', 'profile_inference']
