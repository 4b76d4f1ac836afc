"""lgp.engine.optim_wrappers.CPUAmpOptimWrapper: bfloat16 autocast on the CPU, float32 parameters and gradients."""

import pytest
import torch

from lgp.engine import CPUAmpOptimWrapper


def test_cpu_amp_forward_runs_in_bfloat16_and_updates_float32_weights() -> None:
    torch.manual_seed(0)
    layer, reference = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    reference.load_state_dict(layer.state_dict())
    before = layer.weight.detach().clone()
    x = torch.randn(2, 4)
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(layer.parameters(), lr=0.1))
    with wrapper.optim_context(layer):
        out = layer(x)
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert layer.weight.dtype == torch.float32 and layer.weight.grad is None  # stepped, then zeroed
    assert not torch.equal(layer.weight, before)
    # the same step taken by hand: PyTorch's CPU autocast in bfloat16, a plain float32 SGD step
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        expected = reference(x)
    expected.float().pow(2).mean().backward()
    optimizer.step()
    assert torch.equal(out, expected)
    assert torch.equal(layer.weight, reference.weight) and torch.equal(layer.bias, reference.bias)


@pytest.mark.parametrize('dtype', ['float16', torch.float16, 'float32'])
def test_cpu_amp_refuses_other_dtypes(dtype) -> None:
    with pytest.raises(ValueError, match='CPU autocast supports only bfloat16'):
        CPUAmpOptimWrapper(dtype=dtype, optimizer=torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1))
