"""Weights that do not fit the model are an error naming the parameters and the class counts
(mmengine's load_checkpoint only logs them and keeps random weights)."""
import pytest
import torch
import torch.nn as nn

from asl_det.inference.weights_fit import InferenceSetupError, check_weights_fit


class Head(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.retina_cls = nn.Conv2d(4, 9 * num_classes, 3)
        self.retina_reg = nn.Conv2d(4, 36, 3)


class Detector(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.bbox_head = Head(num_classes)


def cfg(num_classes):
    return dict(model=dict(type='RetinaNet', bbox_head=dict(num_classes=num_classes)))


def checkpoint_of(model, classes=None, prefix=''):
    state_dict = {prefix + key: value for key, value in model.state_dict().items()}
    meta = dict(dataset_meta=dict(classes=classes)) if classes else {}
    return dict(state_dict=state_dict, meta=meta)


def test_fitting_weights_pass_also_with_a_module_prefix():
    trained = Detector(2)
    check_weights_fit(Detector(2), checkpoint_of(trained), cfg(2))
    check_weights_fit(Detector(2), checkpoint_of(trained, prefix='module.'), cfg(2))
    check_weights_fit(Detector(2), trained.state_dict(), cfg(2))  # a bare state dict


def test_another_class_count_names_parameters_and_counts():
    with pytest.raises(InferenceSetupError) as error:
        check_weights_fit(Detector(3), checkpoint_of(Detector(2), ('cat', 'dog')), cfg(3),
                          'CONFIG (c.py)', '--weights (w.pth)')
    message = str(error.value)
    assert message.startswith('CONFIG (c.py) and --weights (w.pth) do not describe the same')
    assert '--weights (w.pth) was trained for 2 classes (cat, dog)' in message
    assert 'CONFIG (c.py) sets model.bbox_head.num_classes = 3' in message
    assert ('bbox_head.retina_cls.weight: --weights (w.pth) [18, 4, 3, 3], CONFIG (c.py) '
            '[27, 4, 3, 3]') in message
    assert 'retina_reg' not in message


def test_missing_parameters():
    weights = checkpoint_of(Detector(2))
    del weights['state_dict']['bbox_head.retina_reg.bias']
    with pytest.raises(InferenceSetupError, match=r'--weights lacks 1 parameters of the model '
                                                  r'CONFIG builds \(bbox_head.retina_reg.bias\)'):
        check_weights_fit(Detector(2), weights)


def test_parameters_the_model_has_not():
    """A checkpoint of a head with one more conv: mmengine would load the rest and say nothing."""
    weights = checkpoint_of(Detector(2))
    weights['state_dict']['bbox_head.extra_conv.weight'] = weights['state_dict'][
        'bbox_head.retina_reg.weight']
    expected = r'--weights has 1 parameters the model CONFIG builds has not \(bbox_head.extra'
    with pytest.raises(InferenceSetupError, match=expected):
        check_weights_fit(Detector(2), weights)
    # mmdet 3.x's model-zoo checkpoints carry the data preprocessor's mean and std, which the
    # model holds as non-persistent buffers: not parameters it lacks
    del weights['state_dict']['bbox_head.extra_conv.weight']
    weights['state_dict']['data_preprocessor.mean'] = torch.zeros(3, 1, 1)
    model = Detector(2)
    model.data_preprocessor = nn.Module()
    model.data_preprocessor.register_buffer('mean', torch.zeros(3, 1, 1), persistent=False)
    check_weights_fit(model, weights)
