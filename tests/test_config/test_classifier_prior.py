"""The classifier's initial prior: read from and written into a head's init_cfg, checked by
building mmdet's heads and reading their classification bias."""
import copy

import pytest
import torch
from mmdet.registry import MODELS

from asl_det.config.classifier_prior import classifier_prior, init_cfg_with_prior

ONE_ANCHOR = dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=8, scales_per_octave=1,
                  strides=[8, 16])
SIZES = dict(num_classes=3, in_channels=8, feat_channels=32)
#: head config -> the name of its classification conv
HEADS = [
    (dict(type='RetinaHead', stacked_convs=1), 'retina_cls'),
    (dict(type='FCOSHead', stacked_convs=1, strides=[8, 16]), 'conv_cls'),
    (dict(type='ATSSHead', stacked_convs=1, anchor_generator=ONE_ANCHOR), 'atss_cls'),
    (dict(type='GFLHead', stacked_convs=1, anchor_generator=ONE_ANCHOR), 'gfl_cls'),
    # PAAHead takes ATSSHead's init_cfg default through **kwargs
    (dict(type='PAAHead', stacked_convs=1, anchor_generator=ONE_ANCHOR), 'atss_cls'),
    # the default built in __init__ (read from the head built from its config)
    (dict(type='FSAFHead', stacked_convs=1, anchor_generator=ONE_ANCHOR, **SIZES), 'retina_cls'),
    # ... with a second bias_prob override, conv_loc's, kept at 0.01 (below)
    (dict(type='GARetinaHead', stacked_convs=1, **SIZES), 'retina_cls'),
    # ... as a list of init dicts
    (dict(type='NASFCOSHead', strides=[8, 16], **SIZES), 'conv_cls'),
    # a class default list whose overrides name their layer only (the prior is the outer dict's)
    (dict(type='SOLOHead', stacked_convs=1, strides=[8, 16], scale_ranges=((1, 64), (32, 128)),
          num_grids=[4, 2], **SIZES), 'conv_cls'),
]


def build_head(head_cfg):
    head = MODELS.build(dict(head_cfg, **SIZES))
    head.init_weights()
    return head


@pytest.mark.parametrize('head_cfg,classifier', HEADS)
def test_the_prior_set_is_the_prior_the_head_starts_with(head_cfg, classifier):
    assert classifier_prior(head_cfg, head_cfg['type']) == 0.01  # mmdet's class default
    original = copy.deepcopy(head_cfg)
    init_cfg = init_cfg_with_prior(head_cfg, head_cfg['type'], 0.2)
    assert head_cfg == original  # a new init_cfg; the head config is left as it was
    head = build_head(dict(head_cfg, init_cfg=init_cfg))
    bias = getattr(head, classifier).bias.detach()
    assert torch.sigmoid(bias) == pytest.approx(torch.full_like(bias, 0.2), rel=1e-5)
    assert classifier_prior(dict(head_cfg, init_cfg=init_cfg), head_cfg['type']) == 0.2
    # everything but bias_prob is the class default's (the other convs keep std 0.01 and
    # their own prior)
    assert getattr(head, classifier).weight.std().item() == pytest.approx(0.01, rel=0.2)
    for name in ('conv_loc', 'conv_mask_list.0', 'conv_mask_list.1'):
        if hasattr(head, name.split('.')[0]):
            other = head.get_submodule(name).bias.detach()
            assert torch.sigmoid(other) == pytest.approx(torch.full_like(other, 0.01), rel=1e-5)


def test_a_config_init_cfg_is_changed_rather_than_the_class_default():
    head_cfg = dict(type='RetinaHead', init_cfg=dict(
        type='Normal', layer='Conv2d', std=0.02,
        override=[dict(type='Normal', name='retina_reg', std=0.05),
                  dict(type='Normal', name='retina_cls', std=0.03, bias_prob=0.05)]))
    init_cfg = init_cfg_with_prior(head_cfg, 'RetinaHead', 0.3)
    assert init_cfg['std'] == 0.02
    assert init_cfg['override'] == [dict(type='Normal', name='retina_reg', std=0.05),
                                    dict(type='Normal', name='retina_cls', std=0.03,
                                         bias_prob=0.3)]
    assert head_cfg['init_cfg']['override'][1]['bias_prob'] == 0.05


@pytest.mark.parametrize('head', ['RPNHead', 'NoSuchHead'])
def test_a_head_without_a_prior_override_is_named(head):
    assert classifier_prior({}, head) is None
    with pytest.raises(ValueError, match=f'{head}: its init_cfg .* names no classifier'):
        init_cfg_with_prior({}, head, 0.1)


@pytest.mark.parametrize('prior', [0.0, 1.0, -0.1, 1.5, float('nan')])
def test_a_prior_outside_the_open_unit_interval_is_refused(prior):
    with pytest.raises(ValueError, match=r'prior must be .*'):
        init_cfg_with_prior({}, 'RetinaHead', prior)


def test_a_head_that_sets_its_bias_in_init_weights_has_no_prior_to_read_or_set():
    """TOODHead.init_weights sets its classifier's bias to p = 0.01 over any init_cfg."""
    init_cfg = dict(type='Normal', layer='Conv2d', std=0.01,
                    override=dict(type='Normal', name='tood_cls', std=0.01, bias_prob=0.2))
    head_cfg = dict(type='TOODHead', init_cfg=init_cfg)
    assert classifier_prior(head_cfg, 'TOODHead') is None
    with pytest.raises(ValueError, match=r'TOODHead: its init_cfg \(None\) names no classifier '
                                         r'.*sets its classifier bias in init_weights'):
        init_cfg_with_prior(head_cfg, 'TOODHead', 0.2)
