"""MAE reconstructions, as the official MAE visualisation shows them: per image the original, the masked input, the
decoder's reconstruction of every patch, and that reconstruction with the visible patches pasted back.

The encoder sees the patches a seeded random mask keeps (:meth:`lgp.models.LGPViT.forward_masked`, in the
backbone's ``mask_unit`` squares: CMAE's 2 x 2), the pixel decoder ``model.neck`` predicts every patch,
(B, L, p * p * C), and mmpretrain's ``head.unpatchify`` puts them in place. With ``head.norm_pix`` the decoder was
trained to predict each patch normalised by its own mean and variance (``MAEPretrainHead.construct_target``), so the
prediction is un-normalised with the mean and variance of that patch of the original image
(:func:`unnormalise_patches`), as the official visualisation does.

Symbols: B images, C channels, H x W image (H = W), p patch size, L = (H / p)^2 patches, U masking units.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from mmpretrain.models.heads import MAEPretrainHead

from ..models import LGPViT
from ..utils import eval_mode
from .figures import image_grid, save_figure, show_image
from .inputs import to_pixels

GREY = 0.5  # the pixel value of the masked patches in the masked input


@dataclass(frozen=True)
class Reconstruction:
    """The four images of :func:`mae_reconstruction`, each (B, C, H, W) in pixels in [0, 1], and the mask.

    Attributes:
        original: the input images.
        masked: the input with the masked patches grey (:data:`GREY`).
        reconstruction: the decoder's prediction of every patch, un-normalised per patch if ``norm_pix``.
        pasted: ``reconstruction`` on the masked patches, ``original`` on the visible ones.
        mask: (B, L), 1 = masked, patches row by row.
        norm_pix: whether the decoder predicts per-patch normalised pixels (``head.norm_pix``).
    """

    original: torch.Tensor
    masked: torch.Tensor
    reconstruction: torch.Tensor
    pasted: torch.Tensor
    mask: torch.Tensor
    norm_pix: bool


def unnormalise_patches(pred: torch.Tensor, target_patches: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Undo ``norm_pix``: pred sqrt(var + eps) + mean, (B, L, p * p * C).

    mmpretrain's target is (t - mean) / sqrt(var + 1e-6) with the mean and the unbiased variance over each patch's
    p * p * C values; here they are those of ``target_patches`` (B, L, p * p * C), the original image's patches
    (``head.patchify(images)``).
    """
    mean = target_patches.mean(dim=-1, keepdim=True)
    var = target_patches.var(dim=-1, keepdim=True)
    return pred * (var + eps) ** 0.5 + mean


def _check_pixel_decoder(model: torch.nn.Module) -> None:
    backbone, neck, head = (getattr(model, name, None) for name in ('backbone', 'neck', 'head'))
    if not isinstance(backbone, LGPViT) or neck is None or not isinstance(head, MAEPretrainHead):
        raise TypeError(
            f'A {type(model).__name__} has no MAE pixel decoder to reconstruct with: the reconstructions need an '
            'LGPMAE or a CMAE (an LGPViT backbone, the decoder as model.neck and an MAEPretrainHead as model.head).'
        )


@torch.no_grad()
def mae_reconstruction(
    model: torch.nn.Module, images: torch.Tensor, mask_ratio: float | None = None, seed: int = 0
) -> Reconstruction:
    """Reconstruct images (B, C, H, W), normalised by ``model.data_preprocessor``, from a seeded random mask.

    Args:
        model: an ``LGPMAE`` or ``CMAE`` (its mode is restored, its parameters and settings untouched).
        images: on the model's device; square, of the decoder's number of patches.
        mask_ratio: the fraction of masking units dropped (default: the backbone's ``mask_ratio``).
        seed: seeds the mask, (B, U) uniform scores drawn from a generator of its own (torch's random stream is
            left as it was); the same seed gives the same mask.
    """
    _check_pixel_decoder(model)
    backbone, head = model.backbone, model.head
    ratio = backbone.mask_ratio if mask_ratio is None else mask_ratio
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f'mask_ratio must be in [0, 1), got {ratio}.')
    if images.dim() != 4 or images.shape[1] != head.in_channels or images.shape[2] != images.shape[3]:
        raise ValueError(
            f'images must be (B, {head.in_channels}, H, H) (square, as the MAE head patchifies), got '
            f'{tuple(images.shape)}.'
        )
    side, p = images.shape[2], head.patch_size
    num_patches = (side // p) ** 2
    expected = getattr(model.neck, 'num_patches', num_patches)
    if side % p or expected != num_patches:
        raise ValueError(
            f'The decoder is built for {expected} patches of {p} px; {side} px images give {side / p:g} x '
            f'{side / p:g}: pass images of the size the model was trained on.'
        )
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(len(images), num_patches // backbone.mask_unit**2, generator=generator).to(images.device)
    with eval_mode(model):
        latent, mask, ids_restore = backbone.forward_masked(images, ratio, noise)
        pred = model.neck(latent, ids_restore)
    patches = head.patchify(images)
    if head.norm_pix:
        pred = unnormalise_patches(pred, patches)
    masked = head.unpatchify(mask.unsqueeze(-1).expand_as(patches)).bool()
    original = to_pixels(images, model.data_preprocessor)
    reconstruction = to_pixels(head.unpatchify(pred), model.data_preprocessor)
    return Reconstruction(
        original=original,
        masked=original.masked_fill(masked, GREY),
        reconstruction=reconstruction,
        pasted=torch.where(masked, reconstruction, original),
        mask=mask,
        norm_pix=head.norm_pix,
    )


def plot_reconstructions(result: Reconstruction, path: str | Path, panel_inches: float = 1.5, dpi: int = 100) -> Path:
    """Write a PNG of ``result``: a row per image, the columns original, masked input, reconstruction and
    reconstruction with the visible patches pasted back, titled, with a caption saying how the reconstruction was
    made. Its size: 4 * ``panel_inches`` x (B * ``panel_inches`` + 0.9) inches at ``dpi``."""
    recon_title = 'reconstruction\n(norm_pix undone)' if result.norm_pix else 'reconstruction'
    how = (
        "norm_pix: each patch's prediction un-normalised with the mean and variance of that patch of the original"
        if result.norm_pix
        else "the decoder's pixels"
    )
    fig, axes = image_grid(len(result.original), 4, panel_inches, top=0.5, bottom=0.4)
    for i, row in enumerate(axes):
        columns = (
            (result.original[i], 'original'),
            (result.masked[i], f'masked input ({result.mask[i].mean().item():.0%})'),
            (result.reconstruction[i], recon_title),
            (result.pasted[i], 'reconstruction\n+ visible patches'),
        )
        for ax, (image, title) in zip(row, columns, strict=True):
            show_image(ax, image)
            if i == 0:
                ax.set_title(title, fontsize=8)
    fig.text(0.5, 0.2 / fig.get_figheight(), f'reconstruction: {how}', ha='center', va='center', fontsize=6, wrap=True)
    return save_figure(fig, path, dpi)


__all__ = ['GREY', 'Reconstruction', 'mae_reconstruction', 'plot_reconstructions', 'unnormalise_patches']
