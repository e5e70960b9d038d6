"""``asl_det.apis``: mmdet's ``init_detector`` / ``DetInferencer`` on a tools/train.py checkpoint.

mmdet's own API refuses that checkpoint on torch 2.13 (HistoryBuffer); asl_det's loads it, gives
mmdet's results (compared with mmdet's API run inside the safe-loading block), scores with the
ASL loss's ``score_activation``, refuses a code-running checkpoint without running it, and
leaves mmengine's loaders as they were. One tiny ASL checkpoint (tests/trained_detectors.py).
"""
import pickle

import numpy as np
import pytest
from mmdet import apis as mmdet_apis
from mmengine.config import Config
from mmengine.runner import CheckpointLoader
from trained_detectors import CLIP, checkpoint_files, trained_runs

from asl_det.apis import DetInferencer, inference_detector, init_detector, safe_checkpoint_loading
from asl_det.checkpoint import UntrustedCheckpointError, load_checkpoint_file

# mmdet's DetInferencer builds the config's visualizer, whose LocalVisBackend has no save_dir
pytestmark = pytest.mark.filterwarnings('ignore:Failed to add <class:UserWarning')


@pytest.fixture(scope='module')
def asl_run(tmp_path_factory):
    run = trained_runs(tmp_path_factory, 'asl')['asl']
    run['image'] = f"{run['data']}/val/0001.png"
    return run


def as_arrays(prediction):
    """(labels, scores, bboxes) numpy arrays of a DetDataSample or a DetInferencer dict."""
    if isinstance(prediction, dict):
        return tuple(np.asarray(prediction[k]) for k in ('labels', 'scores', 'bboxes'))
    found = prediction.pred_instances
    return found.labels.numpy(), found.scores.numpy(), found.bboxes.numpy()


def assert_same(a, b):
    for x, y in zip(as_arrays(a), as_arrays(b)):
        assert x.shape == y.shape and np.allclose(x, y, rtol=0, atol=1e-5)


@pytest.mark.usefixtures('mmengine_checkpoint_loading')
def test_mmdet_api_refuses_the_checkpoint_asl_det_api_loads_it(asl_run):
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        mmdet_apis.init_detector(asl_run['config'], asl_run['checkpoint'], device='cpu')
    model = init_detector(asl_run['config'], asl_run['checkpoint'], device='cpu')
    assert model.dataset_meta['classes'] == ('square', 'bar')
    result = inference_detector(model, asl_run['image'])
    assert len(result.pred_instances) > 0
    # mmengine's loaders are back: mmdet's API refuses the file again
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        CheckpointLoader.load_checkpoint(asl_run['checkpoint'])


def test_same_results_as_mmdet_api(asl_run):
    config, weights, image = asl_run['config'], asl_run['checkpoint'], asl_run['image']
    with safe_checkpoint_loading():  # what mmdet's API gives once it can read the file
        reference = inference_detector(
            mmdet_apis.init_detector(config, weights, device='cpu'), image)
        reference_dict = mmdet_apis.DetInferencer(
            model=config, weights=weights, device='cpu', show_progress=False)(image)
    ours = inference_detector(init_detector(config, weights, device='cpu'), image)
    ours_dict = DetInferencer(model=config, weights=weights, device='cpu',
                              show_progress=False)(image)
    assert_same(ours, reference)
    assert_same(ours_dict['predictions'][0], reference_dict['predictions'][0])
    assert_same(ours_dict['predictions'][0], ours)


def test_scores_are_the_losses_score_activation(asl_run):
    """'shifted' (the config's default) = sigmoid - clip, box for box."""
    shifted = inference_detector(init_detector(asl_run['config'], asl_run['checkpoint'],
                                               device='cpu'), asl_run['image'])
    cfg = Config.fromfile(asl_run['config'])
    assert cfg.model.bbox_head.loss_cls.get('score_activation', 'shifted') == 'shifted'
    cfg.model.bbox_head.loss_cls.score_activation = 'sigmoid'
    plain = inference_detector(init_detector(cfg, asl_run['checkpoint'], device='cpu'),
                               asl_run['image'])
    top = 5
    s_labels, s_scores, s_boxes = (x[:top] for x in as_arrays(shifted))
    p_labels, p_scores, p_boxes = (x[:top] for x in as_arrays(plain))
    assert np.array_equal(s_labels, p_labels) and np.allclose(s_boxes, p_boxes, atol=1e-4)
    assert np.allclose(s_scores, p_scores - CLIP, atol=1e-6)
    assert s_scores.max() < 0.01 < p_scores.max()


def test_code_running_checkpoint_is_refused_and_never_runs(asl_run, tmp_path):
    files = checkpoint_files()
    base = load_checkpoint_file(asl_run['checkpoint'])
    for kind, legacy in (('system', False), ('exec', True)):
        marker = tmp_path / f'{kind}.marker'
        evil = files.write_malicious_checkpoint(tmp_path / f'evil_{kind}.pth', marker, kind,
                                                legacy, base)
        for build in (lambda: init_detector(asl_run['config'], evil, device='cpu'),
                      lambda: DetInferencer(model=asl_run['config'], weights=evil,
                                            device='cpu')):
            with pytest.raises(UntrustedCheckpointError, match='refused to load') as error:
                build()
            assert 'trust' in str(error.value)
        assert not marker.exists(), kind


def test_trust_loads_a_trusted_file_and_config_from_checkpoint_needs_it(asl_run, tmp_path):
    legacy = checkpoint_files().write_trusted_legacy_checkpoint(
        tmp_path / 'legacy.pth', load_checkpoint_file(asl_run['checkpoint']))
    with pytest.raises(UntrustedCheckpointError, match='mmengine.config.config.ConfigDict'):
        init_detector(asl_run['config'], legacy, device='cpu')
    model = init_detector(asl_run['config'], legacy, device='cpu', trust=True)
    assert_same(inference_detector(model, asl_run['image']),
                inference_detector(init_detector(asl_run['config'], asl_run['checkpoint'],
                                                 device='cpu'), asl_run['image']))
    # no config (None or empty) runs the config stored in the checkpoint (Python): only with
    # trust=True
    from mmengine.config import Config
    for no_config in (None, {}, Config()):
        with pytest.raises(ValueError, match=r'reads the config stored in the checkpoint'):
            DetInferencer(model=no_config, weights=asl_run['checkpoint'], device='cpu')
    inferencer = DetInferencer(weights=asl_run['checkpoint'], device='cpu', trust=True,
                               show_progress=False)
    assert_same(inferencer(asl_run['image'])['predictions'][0],
                inference_detector(model, asl_run['image']))
