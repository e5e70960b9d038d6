"""A work dir's config (the newest dumped by the visualizer, else the Runner's single copy) and
its final checkpoint (what --resume would take)."""
import pytest
import torch

from asl_det.inference.trained_runs import InferenceSetupError, find_trained_run


def test_newest_dumped_config_and_last_checkpoint(tmp_path):
    for stamp in ('20260101_000000', '20260102_000000'):
        (tmp_path / stamp / 'vis_data').mkdir(parents=True)
        (tmp_path / stamp / 'vis_data' / 'config.py').write_text('a = 1\n')
    (tmp_path / 'run.py').write_text('a = 1\n')
    for iteration in (2, 4):
        torch.save({'state_dict': {}}, str(tmp_path / f'iter_{iteration}.pth'))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    run = find_trained_run(str(tmp_path), 'focal')
    assert run.name == 'focal' and run.work_dir == str(tmp_path)
    assert run.config == str(tmp_path / '20260102_000000' / 'vis_data' / 'config.py')
    assert run.checkpoint == str(tmp_path / 'iter_4.pth')


def test_runner_copy_of_the_config_and_default_name(tmp_path):
    (tmp_path / 'run.py').write_text('a = 1\n')
    torch.save({'state_dict': {}}, str(tmp_path / 'iter_1.pth'))
    run = find_trained_run(str(tmp_path) + '/')
    assert run.config == str(tmp_path / 'run.py') and run.name == tmp_path.name


def test_errors(tmp_path):
    with pytest.raises(InferenceSetupError, match='is not a folder'):
        find_trained_run(str(tmp_path / 'missing'))
    with pytest.raises(InferenceSetupError, match=r'no config dumped by training .* found 0'):
        find_trained_run(str(tmp_path))
    (tmp_path / 'run.py').write_text('a = 1\n')
    with pytest.raises(InferenceSetupError, match='holds no intact checkpoint'):
        find_trained_run(str(tmp_path))
