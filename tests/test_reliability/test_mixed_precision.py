"""Mixed precision with ASL: bf16 autocast on CPU trains without NaN and the loss is computed in
float32 whatever dtype the logits arrive in; ``--amp`` (fp16, AmpOptimWrapper) on CUDA."""
import math

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.optim import AmpOptimWrapper
from reliability_helpers import hooks_env, train, train_scalars, write_config
from tiny_detection import write_coco_dataset

from asl_det.launch.runtime import load_config
from asl_det.models.losses import asymmetric_loss

STEPS = 4


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('amp')
    data = write_coco_dataset(str(root / 'data'))
    return root, write_config(root / 'asl.py', data, STEPS)


def build_detector(config):
    torch.manual_seed(0)
    model = MODELS.build(load_config(config).model)
    model.train()
    packed = demo_mm_inputs(2, [[3, 64, 64]] * 2, num_items=[3, 2], num_classes=2)
    return model, model.data_preprocessor(packed, True)


def test_amp_optim_wrapper_refuses_cpu():
    if torch.cuda.is_available():
        pytest.skip('checks the CPU-only behaviour of mmengine 0.10.7')
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(AssertionError, match='only available training on gpu'):
        AmpOptimWrapper(optimizer=optimizer)


def test_bf16_autocast_on_cpu_trains_asl_without_nan(tiny):
    model, data = build_detector(tiny[1])
    seen = []
    model.bbox_head.loss_cls.register_forward_hook(
        lambda module, args, output: seen.append((args[0].dtype, output.dtype)))
    with torch.no_grad():
        fp32_loss, _ = model.parse_losses(model.loss(data['inputs'], data['data_samples']))
    seen.clear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for _ in range(STEPS):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            total, log_vars = model.parse_losses(
                model.loss(data['inputs'], data['data_samples']))
        assert torch.isfinite(total), log_vars
        optimizer.zero_grad()
        total.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10)
        optimizer.step()
        losses.append(float(total))
    # the head ran in bf16, the loss came out in float32 (one call per FPN level)
    assert seen and set(seen) == {(torch.bfloat16, torch.float32)}
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert losses[0] == pytest.approx(float(fp32_loss), rel=0.05)  # bf16 rounding only
    assert losses[-1] < losses[0]


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision_logits_give_the_float32_loss(dtype):
    # the fp16 trap: eps=1e-8 and sigmoid(-20) round to 0 in half precision, log(0) = -inf
    logits = torch.tensor([[-20.0, 20.0, 0.5], [30.0, -30.0, -3.0]])
    target = torch.tensor([0, 2])
    expected = asymmetric_loss(logits, target)
    low = logits.to(dtype).requires_grad_()
    loss = asymmetric_loss(low, target)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    torch.testing.assert_close(loss, expected, rtol=1e-2, atol=1e-3)
    loss.backward()
    assert low.grad.dtype == dtype and torch.isfinite(low.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='--amp (AmpOptimWrapper) needs CUDA')
def test_amp_flag_trains_on_cuda(tiny):
    root, config = tiny
    work_dir = str(root / 'amp')
    env = hooks_env()
    del env['CUDA_VISIBLE_DEVICES']  # tool_env hides GPUs
    train(config, work_dir, str(root), '--amp', env=env).wait()
    lines = train_scalars(work_dir)
    assert len(lines) == STEPS and all(math.isfinite(line['loss']) for line in lines)
