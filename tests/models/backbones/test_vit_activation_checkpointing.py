"""LGPViT's ``with_cp``: the same outputs and gradients as without it, in both forward paths, and blocks recomputed."""

import pytest
import torch

from lgp.models import LGPViT

B, IMG = 2, 32  # the nano arch at 32 px: 8 x 8 patches of 4 px, 6 blocks of width 48


def pair(**kwargs) -> tuple[LGPViT, LGPViT]:
    """Two nano models in training mode with identical weights, without and with checkpointing."""
    plain = LGPViT('nano', img_size=IMG, drop_path_rate=0.0, **kwargs)
    plain.init_weights()
    ckpt = LGPViT('nano', img_size=IMG, drop_path_rate=0.0, with_cp=True, **kwargs)
    ckpt.load_state_dict(plain.state_dict())
    return plain.train(), ckpt.train()


def outputs_and_grads(model: LGPViT, images: torch.Tensor, mask: bool) -> tuple[list[torch.Tensor], dict]:
    """Forward (seeded, so masks match), backward of a fixed random projection of every output, and the grads."""
    torch.manual_seed(1)
    out = model(images, mask=mask)
    tensors = [t for t in out if t.is_floating_point()]
    weights = torch.Generator().manual_seed(2)
    loss = sum((t * torch.randn(t.shape, generator=weights)).sum() for t in tensors)
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    return [t.detach() for t in out], grads


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(B, 3, IMG, IMG, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    'kwargs, mask',
    [
        (dict(out_type='raw'), False),
        (dict(out_type='featmap', out_indices=(1, 3, -1)), False),
        (dict(), True),
    ],
    ids=['plain-raw', 'plain-featmap', 'masked'],
)
def test_same_outputs_and_grads(images: torch.Tensor, kwargs: dict, mask: bool) -> None:
    plain, ckpt = pair(**kwargs)
    assert list(ckpt.state_dict()) == list(plain.state_dict())
    out_plain, grads_plain = outputs_and_grads(plain, images, mask)
    out_ckpt, grads_ckpt = outputs_and_grads(ckpt, images, mask)
    assert len(out_ckpt) == len(out_plain) == (3 if mask else len(plain.out_indices))
    for a, b in zip(out_ckpt, out_plain, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert grads_ckpt.keys() == grads_plain.keys()
    for name, g in grads_plain.items():
        if g is None:  # the fixed sin-cos position embedding
            assert grads_ckpt[name] is None, name
            continue
        assert g.abs().sum() > 0, name
        torch.testing.assert_close(grads_ckpt[name], g, atol=1e-6, rtol=0, msg=name)


@pytest.mark.parametrize('mask', [False, True], ids=['plain', 'masked'])
@pytest.mark.parametrize(
    'with_cp, training, grad, calls',
    [(True, True, True, 2), (False, True, True, 1), (True, False, True, 1), (True, True, False, 1)],
    ids=['cp', 'no-cp', 'cp-eval', 'cp-no-grad'],
)
def test_blocks_recomputed_only_when_checkpointing(
    images: torch.Tensor, mask: bool, with_cp: bool, training: bool, grad: bool, calls: int
) -> None:
    """A checkpointed block runs in forward and again in backward; otherwise once.

    Counted with forward pre-hooks: the recomputation stops early, as soon as the saved tensors backward needs are
    rebuilt (torch's default ``early_stop``), so a block's post-forward hook never fires the second time.
    """
    model = LGPViT('nano', img_size=IMG, out_type='raw', with_cp=with_cp)
    model.init_weights()
    model.train(training)
    counts = [0] * len(model.layers)
    for i, layer in enumerate(model.layers):
        layer.register_forward_pre_hook(lambda *_, i=i: counts.__setitem__(i, counts[i] + 1))
    with torch.set_grad_enabled(grad):
        out = model(images, mask=mask)[0]
    if grad:
        out.sum().backward()
    assert counts == [calls] * len(model.layers)
