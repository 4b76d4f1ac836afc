"""lgp's models under ``torch.compile``: the ViT traces as one graph, and a training step with the compiled loss
computation (``model.loss``: :func:`lgp.engine.compile_loss`, as ``CompileLossHook`` and ``benchmarks/train_step.py
--compile`` run it) gives the eager step's losses and weights (CPU, fp32)."""

import copy

import pytest
import torch
import torch._dynamo
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS

from lgp.engine import compile_loss
from lgp.models import LGPViT

CONFIGS = 'configs/_base_/models'
NORM = dict(type='SelfSupDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3, to_rgb=True)


@pytest.mark.parametrize('masked', [False, True])
def test_vit_traces_as_one_graph_with_drop_path(masked: bool) -> None:
    """mmpretrain gives the drop-path rates as numpy scalars, which broke the graph at every block."""
    backbone = LGPViT(arch='nano', img_size=32, patch_size=4, drop_path_rate=0.1).train()
    explanation = torch._dynamo.explain(backbone)(torch.randn(2, 3, 32, 32), mask=masked)
    assert explanation.graph_break_count == 0, [str(b.reason) for b in explanation.break_reasons]


def _step_pair(name: str) -> list[tuple[torch.nn.Module, OptimWrapper]]:
    cfg = Config.fromfile(f'{CONFIGS}/{name}_vit_nano.py').model.to_dict()
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg, data_preprocessor=NORM))
    model.init_weights()
    pair = []
    for m in (model, copy.deepcopy(model)):
        pair.append((m.train(), OptimWrapper(torch.optim.SGD(m.parameters(), lr=0.1))))
    return pair


@pytest.mark.parametrize('name', ['mae', 'mocov3'])
def test_compiled_loss_matches_eager(name: str) -> None:
    """Two steps (MoCo v3: the first copies the online weights into the momentum encoder, the second averages), the
    same masks (inductor's random numbers fall back to eager's): equal losses and weights. SGD, so that the weights
    differ by lr times the gradients' rounding differences (Adam's first step would scale a gradient of pure
    rounding noise, e.g. of the attention's k bias, which cancels in the softmax, up to +-lr)."""
    MessageHub.get_current_instance().update_info('max_iters', 10)  # MoCo v3's momentum schedule
    (eager, eager_wrapper), (compiled, compiled_wrapper) = _step_pair(name)
    compile_loss(compiled)
    uint8 = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    data = dict(inputs=uint8 if name == 'mae' else [uint8, uint8.flip(-1)], data_samples=None)
    with torch._inductor.config.patch(fallback_random=True):
        for step in range(2):
            MessageHub.get_current_instance().update_info('iter', step)
            torch.manual_seed(step)
            expected = eager.train_step(data, eager_wrapper)
            torch.manual_seed(step)
            got = compiled.train_step(data, compiled_wrapper)
            torch.testing.assert_close(got['loss'], expected['loss'], rtol=1e-5, atol=1e-5)
    for (key, value), other in zip(eager.state_dict().items(), compiled.state_dict().values(), strict=True):
        torch.testing.assert_close(other, value, rtol=1e-4, atol=1e-5, msg=key)


def test_compile_loss_hook_compiles_the_unwrapped_models_loss() -> None:
    """Before training, the runner's model (inside its DDP wrapper, if any) gets a compiled ``loss``."""
    from types import SimpleNamespace

    from mmengine.model import MMDistributedDataParallel

    from lgp.engine import CompileLossHook

    model = _step_pair('mae')[0][0]
    original = model.loss
    wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)  # a wrapper without a process group
    torch.nn.Module.__init__(wrapper)
    wrapper.module = model
    CompileLossHook().before_train(SimpleNamespace(model=wrapper))
    assert model.loss is not original and model.loss._torchdynamo_orig_callable == original
    with pytest.raises(TypeError, match='no loss'):
        compile_loss(torch.nn.Linear(2, 2))
