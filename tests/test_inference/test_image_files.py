"""run_on_files: every decodable file goes to the inferencer in batches with its options, bad
files are left out and listed, and progress is one line."""
import io

import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.config import Config
from PIL import Image

from asl_det.inference.image_files import pipeline_decoding, run_on_files


class FakeInferencer:
    """Records its calls; predicts one box per image; its pipeline loads as mmdet's
    DetInferencer's does."""

    pipeline = Compose([dict(type='mmdet.InferencerLoader')])

    def __init__(self):
        self.calls = []

    def __call__(self, files, batch_size, **kwargs):
        self.calls.append((list(files), batch_size, kwargs))
        return dict(predictions=[dict(labels=[0], scores=[0.5], bboxes=[[0, 0, 1, 1]])
                                 for _ in files])


@pytest.fixture
def files(tmp_path):
    paths = []
    for index in range(5):
        path = tmp_path / f'{index}.png'
        Image.fromarray(np.full((8, 8, 3), index, np.uint8)).save(path)
        paths.append(str(path))
    paths[2] = str(tmp_path / 'broken.png')
    with open(paths[2], 'wb') as f:
        f.write(open(paths[1], 'rb').read()[:20])
    return paths


def test_batches_options_and_skipped_files(files):
    inferencer, progress = FakeInferencer(), io.StringIO()
    summary = run_on_files(inferencer, files, batch_size=2, keep_predictions=True,
                           progress=progress, out_dir='out', pred_score_thr=0.4)
    good = [files[i] for i in (0, 1, 3, 4)]
    assert [call[0] for call in inferencer.calls] == [good[:2], good[2:3], good[3:]]
    assert [call[1] for call in inferencer.calls] == [2, 1, 1]
    assert all(call[2] == dict(out_dir='out', pred_score_thr=0.4) for call in inferencer.calls)
    assert summary.done == good and list(summary.predictions) == good
    assert [path for path, _ in summary.skipped] == [files[2]]
    assert 'undecodable' in summary.skipped[0][1] or 'truncated' in summary.skipped[0][1]
    lines = progress.getvalue().split('\n')
    assert sum('task/s' in line for line in lines) == 1 and '5/5' in progress.getvalue()


def test_predictions_are_not_kept_unless_asked(files):
    summary = run_on_files(FakeInferencer(), files[:2], progress=io.StringIO())
    assert summary.predictions == {} and len(summary.done) == 2


def test_batch_size_is_checked(files):
    with pytest.raises(ValueError, match=r'batch_size must be an integer in \[1, inf\]'):
        run_on_files(FakeInferencer(), files, batch_size=0)


def test_images_are_checked_as_the_inferencers_own_loader_decodes_them():
    """DetInferencer renames the config's LoadImageFromFile to InferencerLoader: the decoding
    options are those of the loader it built."""
    from mmdet.apis import DetInferencer
    pipeline = [dict(type='LoadImageFromFile', imdecode_backend='pillow', color_type='grayscale'),
                dict(type='PackDetInputs')]
    inferencer = FakeInferencer()
    cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=pipeline))))
    unbuilt = object.__new__(DetInferencer)  # its _init_pipeline alone
    inferencer.pipeline = unbuilt._init_pipeline(cfg)
    loader = cfg.test_dataloader.dataset.pipeline[0]
    assert loader['type'] == 'mmdet.InferencerLoader'  # renamed in the config
    assert pipeline_decoding(inferencer) == ('pillow', 'grayscale')
    inferencer.pipeline = Compose([dict(type='mmdet.PackDetInputs')])
    with pytest.raises(ValueError, match='loads no image'):
        pipeline_decoding(inferencer)
