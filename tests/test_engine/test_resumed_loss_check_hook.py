"""ResumedLossCheckHook's comparison of a checkpoint's classifier losses with the resumed run's
(the whole tool: tests/test_tools/test_train_test.py)."""
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from asl_det.engine.hooks.resumed_loss_check_hook import ResumedLossCheckHook, classifier_losses
from asl_det.launch.runtime import ConfigError

FOCAL = dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)
ASL = dict(type='AsymmetricLoss', use_sigmoid=True, gamma_pos=0.0, gamma_neg=4.0, clip=0.05)


def model_cfg(loss_cls, **more):
    return Config(dict(model=dict(type='RetinaNet', bbox_head=dict(
        type='RetinaHead', loss_cls=loss_cls, loss_bbox=dict(type='L1Loss'))), **more))


def check(trained, resumed):
    checkpoint = dict(meta=dict(cfg=trained.pretty_text, iter=8))
    ResumedLossCheckHook().after_load_checkpoint(SimpleNamespace(cfg=resumed), checkpoint)


def test_the_same_losses_resume():
    check(model_cfg(ASL), model_cfg(dict(ASL), work_dir='elsewhere'))  # the rest may change


@pytest.mark.parametrize('resumed', [FOCAL, dict(ASL, gamma_neg=3.0)])
def test_other_losses_are_refused_naming_them(resumed):
    with pytest.raises(ConfigError, match=r"model\.bbox_head\.loss_cls: trained with "
                       r"AsymmetricLoss\(clip=0\.05, gamma_neg=4\.0, .*\), resumed with "
                       f"{resumed['type']}\\("):
        check(model_cfg(ASL), model_cfg(resumed))


def test_a_test_run_warns_naming_the_losses_instead_of_refusing(monkeypatch):
    from asl_det.engine.hooks import resumed_loss_check_hook
    logged = []
    monkeypatch.setattr(resumed_loss_check_hook, 'print_log',
                        lambda message, **kwargs: logged.append((message, kwargs.get('level'))))
    checkpoint = dict(meta=dict(cfg=model_cfg(ASL).pretty_text, iter=8))
    ResumedLossCheckHook(refuse=False).after_load_checkpoint(
        SimpleNamespace(cfg=model_cfg(FOCAL)), checkpoint)
    (message, level), = logged
    assert level == 30  # a warning
    ResumedLossCheckHook(refuse=False).after_load_checkpoint(  # a model-zoo file: no news
        SimpleNamespace(cfg=model_cfg(FOCAL)), dict(meta=dict(iter=8)))
    assert len(logged) == 1
    assert 'model.bbox_head.loss_cls: trained with AsymmetricLoss(' in message
    assert 'tested with FocalLoss(' in message and 'its scores come from the loss' in message


def test_a_checkpoint_without_a_readable_config_is_let_through():
    hook = ResumedLossCheckHook()
    hook.after_load_checkpoint(SimpleNamespace(cfg=model_cfg(FOCAL)), dict(meta=dict(iter=8)))
    hook.after_load_checkpoint(SimpleNamespace(cfg=model_cfg(FOCAL)),
                               dict(meta=dict(cfg='model = dict(')))


def test_config_text_in_a_checkpoint_is_read_as_data_and_never_run(tmp_path):
    flag = tmp_path / 'ran'
    text = f"model = dict(type='RetinaNet', x=__import__('os').system('touch {flag}'))\n"
    hook = ResumedLossCheckHook()
    hook.after_load_checkpoint(SimpleNamespace(cfg=model_cfg(FOCAL)),
                               dict(meta=dict(cfg=text, iter=8)))
    assert not flag.exists()  # let through with a warning, as a checkpoint without a config


def test_classifier_losses_are_read_by_path():
    assert classifier_losses(model_cfg(ASL)) == {'model.bbox_head.loss_cls': ASL}
    assert classifier_losses(Config(dict(work_dir='x'))) == {}
