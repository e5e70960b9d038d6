"""asl_det.benchmark.analysis.plots: mAP curves and probability statistics as PNG figures."""
import pytest

from asl_det.benchmark.analysis import (
    Run,
    map_curves_figure,
    plot_map_curves,
    plot_probabilities,
    probabilities_figure,
)

PNG = b'\x89PNG\r\n\x1a\n'


def run_with(name, val=(), train=()):
    return Run(name=name, work_dir=name, train=list(train), val=list(val))


def val(it, ap):
    return {'coco/bbox_mAP': ap, 'coco/bbox_mAP_50': ap + 0.2, 'step': it, 'iter': it}


def line_data(ax):
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
            for line in ax.get_lines()}


def test_map_curves_one_line_per_run():
    runs = [run_with('focal', [val(10, 0.1), val(20, 0.2)]),
            run_with('asl', [val(10, 0.15), val(20, 0.25)]),
            run_with('never_evaluated')]
    fig = map_curves_figure(runs)
    ap, ap50 = fig.axes
    assert line_data(ap) == {'focal': ([10, 20], [0.1, 0.2]), 'asl': ([10, 20], [0.15, 0.25])}
    assert line_data(ap50)['asl'][1] == pytest.approx([0.35, 0.45])


def test_probabilities_figure_panels():
    train = [dict(iter=i, asl_pos_prob=0.1 * i, asl_neg_prob=0.01, asl_prob_gap=0.9 - 0.1 * i,
                  asl_gamma_neg=4.0 - i) for i in (1, 2)]
    fig = probabilities_figure([run_with('asl', train=train), run_with('focal')])
    probs, gap, gamma = fig.axes[:3]
    assert line_data(probs) == {'asl (positives)': ([1, 2], [0.1, 0.2]),
                                'asl (negatives)': ([1, 2], [0.01, 0.01])}
    assert line_data(gap)['asl'][1] == pytest.approx([0.8, 0.7])
    assert line_data(gamma) == {'asl': ([1, 2], [3.0, 2.0])}


def test_plots_write_png_even_without_data(tmp_path):
    runs = [run_with('empty')]
    for plot, name in ((plot_map_curves, 'sub/map.png'), (plot_probabilities, 'probs.png')):
        path = str(tmp_path / name)
        assert plot(runs, path) == path
        with open(path, 'rb') as f:
            assert f.read(8) == PNG


@pytest.mark.parametrize('plot', [plot_map_curves, plot_probabilities])
def test_plots_validate_arguments(plot, tmp_path):
    with pytest.raises(ValueError, match='path'):
        plot([run_with('a')], str(tmp_path / 'figure.pdf'))
    with pytest.raises(ValueError, match='runs'):
        plot([], str(tmp_path / 'figure.png'))
