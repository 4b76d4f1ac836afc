"""Gradient conflict between MIM and CL (paper, Fig. 1), measured per transformer block.

For a batch x, C_MIM,CL(x) = cos(g_MIM, g_CL) with g = grad_theta L(x) restricted to one block's parameters.
Negative values mean the two losses pull that block in opposite directions. The contrastive loss needs negatives,
so x is a small batch rather than a single image (its own InfoNCE over the batch). The measurement leaves the
parameters, the momentum encoder and every ``.grad`` as they were; like any training-mode forward pass, it does
update the running statistics of the heads' BatchNorm layers.
"""

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F

from ..models.algorithms import MTLMAEMoCoV3


def _flat_block_grads(loss: torch.Tensor, blocks: list[list[torch.nn.Parameter]]) -> list[torch.Tensor]:
    """d loss / d theta for each block, flattened into one vector per block (zeros where unused)."""
    params = [p for block in blocks for p in block]
    grads = iter(torch.autograd.grad(loss, params, allow_unused=True))
    flat = []
    for block in blocks:
        block_grads = [next(grads) for _ in block]  # the block's share of the iterator, in order
        flat.append(
            torch.cat(
                [(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(block, block_grads, strict=True)]
            )
        )
    return flat


def block_gradient_cosines(model: MTLMAEMoCoV3, inputs: list[torch.Tensor]) -> torch.Tensor:
    """C_MIM,CL of one batch for every block: (num_blocks,) cosines in [-1, 1].

    Args:
        model: an MTL model (holds both losses over one encoder).
        inputs: the preprocessed views ``[mae_view, cl_view_1, cl_view_2]``, each (B, C, H, W) with B >= 2.
    """
    blocks = [[p for p in layer.parameters() if p.requires_grad] for layer in model.backbone.layers]
    g_mim = _flat_block_grads(model.mim_loss(inputs[0]), blocks)
    g_cl = _flat_block_grads(model.contrastive_loss(inputs[1], inputs[2], update_momentum=False), blocks)
    return torch.stack([F.cosine_similarity(a, b, dim=0) for a, b in zip(g_mim, g_cl, strict=True)])


def measure(model: MTLMAEMoCoV3, batches: Iterable[dict]) -> list[dict]:
    """Rows ``{'batch': n, 'block': i, 'cosine': c}`` for each data batch (as a dataloader yields them)."""
    rows = []
    model.train()
    for n, data_batch in enumerate(batches):
        inputs = model.data_preprocessor(data_batch, True)['inputs']
        for block, cosine in enumerate(block_gradient_cosines(model, inputs).tolist()):
            rows.append({'batch': n, 'block': block, 'cosine': cosine})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Per block: mean, min, max cosine and the fraction of negative values."""
    summary = []
    for block in sorted({r['block'] for r in rows}):
        values = torch.tensor([r['cosine'] for r in rows if r['block'] == block])
        summary.append(
            {
                'block': block,
                'mean': values.mean().item(),
                'min': values.min().item(),
                'max': values.max().item(),
                'negative_fraction': (values < 0).float().mean().item(),
            }
        )
    return summary


def write_report(rows: list[dict], out_dir: Path) -> dict[str, Path]:
    """Write ``gradient_conflict.csv`` (every measurement), ``.json`` (rows + per-block summary) and ``.png``."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f'gradient_conflict.{ext}' for ext in ('csv', 'json', 'png')}
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['batch', 'block', 'cosine'])
        writer.writeheader()
        writer.writerows(rows)
    paths['json'].write_text(json.dumps({'rows': rows, 'summary': summarise(rows)}, indent=1))
    blocks = sorted({r['block'] for r in rows})
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(blocks), 3.5))
    ax.boxplot([[r['cosine'] for r in rows if r['block'] == b] for b in blocks], tick_labels=[str(b) for b in blocks])
    ax.axhline(0.0, color='grey', linewidth=0.8, linestyle='--')
    ax.set_xlabel('block')
    ax.set_ylabel('cos(grad L_MIM, grad L_CL)')
    ax.set_title('Gradient conflict per block')
    fig.tight_layout()
    fig.savefig(paths['png'], dpi=120)
    plt.close(fig)
    return paths
