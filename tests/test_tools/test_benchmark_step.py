"""tools/benchmark_step.py: both layouts timed side by side on a config's own data."""
import re
import subprocess
import sys

from tiny_detection import REPO, run_tool, write_coco_dataset, write_tiny_config


def test_times_both_layouts_and_their_first_losses_agree(tmp_path):
    root = write_coco_dataset(tmp_path / 'data')
    config = write_tiny_config(tmp_path / 'tiny.py', root)
    out = run_tool(['tools/benchmark_step.py', config, '--repeats', '2', '--warmup', '0',
                    '--batches', '2'], cwd=REPO).stdout
    assert re.search(r'^contiguous .* 1\.000 / 1\.000$', out, re.M), out
    assert re.search(r'^channels_last +\d+\.\d', out, re.M), out
    difference = float(re.search(r'relative difference ([0-9.e+-]+)\)', out).group(1))
    assert difference < 1e-4, out
    assert 'loading one batch in this process: median' in out


def test_refuses_a_count_out_of_range(tmp_path):
    result = subprocess.run([sys.executable, 'tools/benchmark_step.py', 'x.py', '--threads', '0'],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and '--threads must be an integer in [1, inf], got 0' in \
        result.stderr
