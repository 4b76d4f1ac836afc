"""Gradient conflict between MIM and CL (paper, Fig. 1), measured per transformer block.

For a sample x and one block's parameters theta_b, C_MIM,CL(x) = cos(g_MIM(x), g_CL(x)) with g = d L(x) / d theta_b.
Negative values mean the two losses pull that block in opposite directions.

* L_MIM(x) is the MAE loss of x alone (its own random mask): the MAE path treats every image on its own, so this is
  sample x's term of the batch loss.
* L_CL(x) is x's term of the batch's symmetric InfoNCE, the other images of the batch being its negatives:
  2T [CE(q1_x k2^T / T, x) + CE(q2_x k1^T / T, x)], the batch loss being the mean of these terms over x. Its gradient
  also reaches the other images' features through the batch statistics of the projector's and predictor's BatchNorm,
  as the training loss does.

:func:`sample_gradient_cosines` measures the figure's per-sample conflicts of one batch and
:func:`measure_gradient_conflict` those of a dataloader's batches; :func:`summarise_gradient_conflict` and
:func:`depth_trend` describe them per block and across depth, and :func:`write_gradient_conflict_report` writes the
figure. :func:`block_gradient_cosines` measures the cheaper conflict of a whole batch's mean losses (two backward
passes), the one ``GradientConflictHook`` logs in training. Both measures leave the parameters, the momentum encoder
and every ``.grad`` as they were; like any training-mode forward pass, they update the running statistics of the
heads' BatchNorm layers.

Symbols: B batch, K transformer blocks, T the contrastive temperature, q / k the online / momentum outputs of views 1
and 2.
"""

import csv
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

from ..models.algorithms import MTLMAEMoCoV3


def _flat_block_grads(
    loss: torch.Tensor, blocks: list[list[torch.nn.Parameter]], retain_graph: bool = False
) -> list[torch.Tensor]:
    """d loss / d theta for each block, flattened into one vector per block (zeros where unused)."""
    params = [p for block in blocks for p in block]
    grads = iter(torch.autograd.grad(loss, params, retain_graph=retain_graph, allow_unused=True))
    flat = []
    for block in blocks:
        block_grads = [next(grads) for _ in block]  # the block's share of the iterator, in order
        flat.append(
            torch.cat(
                [(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(block, block_grads, strict=True)]
            )
        )
    return flat


def _block_params(model: MTLMAEMoCoV3) -> list[list[torch.nn.Parameter]]:
    """The trainable parameters of each transformer block of the encoder, block 0 first."""
    return [[p for p in layer.parameters() if p.requires_grad] for layer in model.backbone.layers]


def _cosines(g_mim: list[torch.Tensor], g_cl: list[torch.Tensor]) -> torch.Tensor:
    """(K,) cosines between two lists of per-block gradient vectors."""
    return torch.stack([F.cosine_similarity(a, b, dim=0) for a, b in zip(g_mim, g_cl, strict=True)])


def block_gradient_cosines(model: MTLMAEMoCoV3, inputs: list[torch.Tensor]) -> torch.Tensor:
    """C_MIM,CL of one batch's mean losses for every block: (K,) cosines in [-1, 1].

    Args:
        model: an MTL model (holds both losses over one encoder).
        inputs: the preprocessed views ``[mae_view, cl_view_1, cl_view_2]``, each (B, C, H, W) with B >= 2.
    """
    blocks = _block_params(model)
    g_mim = _flat_block_grads(model.mim_loss(inputs[0]), blocks)
    g_cl = _flat_block_grads(model.contrastive_loss(inputs[1], inputs[2], update_momentum=False), blocks)
    return _cosines(g_mim, g_cl)


@contextmanager
def _per_sample_contrastive_terms(model: MTLMAEMoCoV3) -> Iterator[None]:
    """Inside the ``with``, ``model.contrastive_loss`` returns each sample's InfoNCE terms, (B,), not their mean.

    ``MoCoV3Head.loss`` reduces the cross-entropy of its B logit rows with its loss module's ``reduction``; 'none'
    keeps the rows (each times the loss weight 2T), so the symmetric loss becomes the (B,) vector of per-sample terms.
    """
    loss_module = model.head.loss_module
    if getattr(loss_module, 'reduction', None) != 'mean':
        raise TypeError(
            f'The per-sample contrastive terms need a MoCo v3 head whose loss averages its rows (reduction="mean", '
            f"as mmpretrain's CrossEntropyLoss); got {type(loss_module).__name__} with reduction="
            f'{getattr(loss_module, "reduction", None)!r}.'
        )
    loss_module.reduction = 'none'
    try:
        yield
    finally:
        loss_module.reduction = 'mean'


def sample_gradient_cosines(model: MTLMAEMoCoV3, inputs: list[torch.Tensor]) -> torch.Tensor:
    """C_MIM,CL of every sample of one batch for every block: (B, K) cosines in [-1, 1].

    Costs one MAE forward and backward pass per sample (batch 1) and one contrastive forward pass for the batch with a
    backward pass through it per sample: about B times :func:`block_gradient_cosines`.

    Args:
        model: an MTL model (holds both losses over one encoder).
        inputs: the preprocessed views ``[mae_view, cl_view_1, cl_view_2]``, each (B, C, H, W) with B >= 2 (each
            sample's contrastive term has the other B - 1 as negatives).
    """
    mim_view, cl_view_1, cl_view_2 = inputs
    if mim_view.shape[0] < 2:
        raise ValueError(
            f'The contrastive term of a sample needs other samples as negatives: got a batch of {mim_view.shape[0]}, '
            'use a batch size of at least 2.'
        )
    blocks = _block_params(model)
    with _per_sample_contrastive_terms(model):
        cl_terms = model.contrastive_loss(cl_view_1, cl_view_2, update_momentum=False)  # (B,)
    cosines = []
    for i, cl_term in enumerate(cl_terms):
        g_cl = _flat_block_grads(cl_term, blocks, retain_graph=i + 1 < len(cl_terms))
        g_mim = _flat_block_grads(model.mim_loss(mim_view[i : i + 1]), blocks)
        cosines.append(_cosines(g_mim, g_cl))
    return torch.stack(cosines)


def measure_gradient_conflict(model: MTLMAEMoCoV3, batches: Iterable[dict]) -> list[dict]:
    """Rows ``{'sample': n, 'block': i, 'cosine': c}``: C_MIM,CL of every sample of every data batch (as a
    dataloader yields them), samples numbered across batches; each batch's samples are one another's negatives."""
    rows = []
    model.train()
    sample = 0
    for data_batch in batches:
        inputs = model.data_preprocessor(data_batch, True)['inputs']
        for per_block in sample_gradient_cosines(model, inputs).tolist():
            rows.extend({'sample': sample, 'block': block, 'cosine': cosine} for block, cosine in enumerate(per_block))
            sample += 1
    return rows


def summarise_gradient_conflict(rows: list[dict]) -> list[dict]:
    """Per block: the number of samples n, mean, median and quartiles (linear interpolation, as numpy's default) of
    the cosines, and the share of negative values."""
    summary = []
    for block in sorted({r['block'] for r in rows}):
        values = torch.tensor([r['cosine'] for r in rows if r['block'] == block], dtype=torch.float64)
        q1, median, q3 = torch.quantile(values, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)).tolist()
        summary.append(
            {
                'block': block,
                'n': len(values),
                'mean': values.mean().item(),
                'median': median,
                'q1': q1,
                'q3': q3,
                'negative_share': (values < 0).double().mean().item(),
            }
        )
    return summary


def _ranks(values: torch.Tensor) -> torch.Tensor:
    """1-based ranks along the last dimension, tied values sharing the mean of their positions."""
    below = (values[..., None, :] < values[..., :, None]).sum(-1, dtype=torch.float64)
    equal = (values[..., None, :] == values[..., :, None]).sum(-1, dtype=torch.float64)
    return below + (equal + 1) / 2


def _spearman(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation of x (K,) with each row of y (..., K): (...), NaN where either is constant."""
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(-1, keepdim=True), ry - ry.mean(-1, keepdim=True)
    return (rx * ry).sum(-1) / (rx.norm(dim=-1) * ry.norm(dim=-1))


def _growing(rho_median: torch.Tensor, rho_negative_share: torch.Tensor) -> torch.Tensor:
    """Both correlations with depth say the conflict grows: the median cosine falls and the negative share rises."""
    return (rho_median < 0) & (rho_negative_share > 0)  # False where either is NaN (a constant column)


def _sample_table(rows: list[dict]) -> torch.Tensor:
    """The cosines as a (samples, blocks) table, both in increasing order."""
    samples, blocks = sorted({r['sample'] for r in rows}), sorted({r['block'] for r in rows})
    cells = {(r['sample'], r['block']): r['cosine'] for r in rows}
    missing = [(n, b) for n in samples for b in blocks if (n, b) not in cells]
    if missing:
        raise ValueError(f'Every sample needs a cosine for every block; missing (sample, block): {missing[:5]}.')
    return torch.tensor([[cells[n, b] for b in blocks] for n in samples], dtype=torch.float64)


def _direction(rho: float | None) -> str:
    """How a column moves with the block index, in words, from its Spearman correlation with it."""
    if rho is None:
        return 'is the same in every block'
    word = 'rises' if rho > 0 else 'falls' if rho < 0 else 'has no monotone trend'
    return f'{word} with depth (Spearman rho = {rho:+.2f})'


def depth_trend(rows: list[dict], resamples: int = 1000, min_support: float = 0.95, seed: int = 0) -> dict:
    """Whether the conflict grows with depth, from measurement rows (every sample, at least two blocks).

    Two Spearman correlations with the block index, over :func:`summarise_gradient_conflict`'s columns:
    ``rho_median`` (the median cosine) and ``rho_negative_share`` (the share of negative values). They say the
    conflict grows when ``rho_median < 0 < rho_negative_share`` (an undefined correlation, of a constant column,
    says nothing). With few samples or a weak trend that can be chance, so the samples are resampled with
    replacement, each with its cosines of all blocks (``resamples`` times; a ``torch.Generator`` seeded with ``seed``
    draws each resample's indices with one ``randint``): ``support`` is the fraction of resamples whose correlations
    say the conflict grows. It ``grows`` when the measured correlations say so and ``support >= min_support``.

    Returns:
        ``rho_median``, ``rho_negative_share``, ``support``, ``grows`` and ``sentence``, the finding in plain words.
    """
    summary = summarise_gradient_conflict(rows)
    if len(summary) < 2:
        raise ValueError(f'A trend with depth needs at least two blocks; the rows have {len(summary)}.')
    blocks = torch.tensor([s['block'] for s in summary], dtype=torch.float64)
    rho_median = _spearman(blocks, torch.tensor([s['median'] for s in summary], dtype=torch.float64))
    rho_negative = _spearman(blocks, torch.tensor([s['negative_share'] for s in summary], dtype=torch.float64))

    table = _sample_table(rows)
    generator = torch.Generator().manual_seed(seed)
    medians, negative_shares = [], []
    for _ in range(resamples):
        resampled = table[torch.randint(len(table), (len(table),), generator=generator)]
        medians.append(resampled.quantile(0.5, dim=0))
        negative_shares.append((resampled < 0).double().mean(0))
    support = _growing(_spearman(blocks, torch.stack(medians)), _spearman(blocks, torch.stack(negative_shares)))
    support = support.double().mean().item()
    grows = bool(_growing(rho_median, rho_negative)) and support >= min_support

    rho_median, rho_negative = (None if rho.isnan() else rho.item() for rho in (rho_median, rho_negative))
    sentence = (
        f'Over the {len(summary)} blocks, the median C_MIM,CL {_direction(rho_median)} and the share of negative '
        f'values {_direction(rho_negative)}: the conflict {"grows" if grows else "does not grow"} with depth here '
        f'(a growing conflict in {support:.0%} of {resamples} bootstrap resamples of the {len(table)} samples, '
        f'{min_support:.0%} needed).'
    )
    return {
        'rho_median': rho_median,
        'rho_negative_share': rho_negative,
        'support': support,
        'grows': grows,
        'sentence': sentence,
    }


def write_gradient_conflict_report(rows: list[dict], out_dir: Path) -> dict[str, Path]:
    """Write ``gradient_conflict.csv`` (every sample and block), ``.json`` (the per-block summary and the depth
    trend) and ``.png`` (a box per block over the samples, above the share of negative values per block)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f'gradient_conflict.{ext}' for ext in ('csv', 'json', 'png')}
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['sample', 'block', 'cosine'])
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise_gradient_conflict(rows)
    paths['json'].write_text(json.dumps({'summary': summary, 'trend': depth_trend(rows)}, indent=1))

    blocks = [s['block'] for s in summary]
    fig, (box_ax, bar_ax) = plt.subplots(
        2, 1, sharex=True, figsize=(1.5 + 0.6 * len(blocks), 5.0), gridspec_kw={'height_ratios': [3, 1.4]}
    )
    box_ax.boxplot([[r['cosine'] for r in rows if r['block'] == b] for b in blocks], positions=blocks)
    box_ax.axhline(0.0, color='grey', linewidth=0.8, linestyle='--')
    box_ax.set_ylabel(r'$C_{\mathrm{MIM,CL}}$ per sample')
    box_ax.set_title(f'Gradient conflict per block ({len({r["sample"] for r in rows})} samples)')
    bar_ax.bar(blocks, [100 * s['negative_share'] for s in summary], color='tab:red', width=0.6)
    bar_ax.set_ylim(0, 100)
    bar_ax.set_ylabel('negative (%)')
    bar_ax.set_xlabel('block')
    bar_ax.set_xticks(blocks, [str(b) for b in blocks])
    fig.tight_layout()
    fig.savefig(paths['png'], dpi=120)
    plt.close(fig)
    return paths
