"""lgp.visualization.reconstruction: norm_pix undone exactly as mmpretrain normalises; a seeded mask of the right ratio
(CMAE's 2x2 units too) that leaves torch's random stream alone; the four images consistent with the mask and with the
decoder's own output; the model's mode restored; a clear refusal of a model without a pixel decoder."""

import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.models import MAEPretrainHead, PixelReconstructionLoss, SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from lgp.visualization import GREY, mae_reconstruction, to_pixels, unnormalise_patches

MODEL_CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'models'
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def build(model_config: str) -> torch.nn.Module:
    """A nano model of ``configs/_base_/models/<model_config>``, seed 0, with the ImageNet preprocessor."""
    torch.manual_seed(0)
    cfg = Config.fromfile(MODEL_CONFIGS / model_config)
    preprocessor = dict(type=SelfSupDataPreprocessor, mean=MEAN, std=STD, to_rgb=True)
    model = MODELS.build(dict(cfg.model, data_preprocessor=preprocessor))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def mae() -> torch.nn.Module:
    return build('mae_vit_nano.py')


@pytest.fixture(scope='module')
def cmae() -> torch.nn.Module:
    return build('cmae_vit_nano.py')


def normalised_images(model: torch.nn.Module, num: int = 3) -> torch.Tensor:
    """Random 32x32 8-bit images as the model's preprocessor gives them."""
    pixels = torch.randint(0, 256, (num, 3, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    return model.data_preprocessor(dict(inputs=pixels, data_samples=None), False)['inputs']


def pixel_mask(mask: torch.Tensor, patch: int = 4) -> torch.Tensor:
    """(B, L) patch mask, row by row on a square grid -> (B, 1, H, W) bool."""
    side = math.isqrt(mask.shape[1])
    grid = mask.view(-1, 1, side, side).bool()
    return grid.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)


def test_unnormalise_inverts_mmpretrain_norm_pix_target():
    head = MAEPretrainHead(loss=dict(type=PixelReconstructionLoss, criterion='L2'), norm_pix=True, patch_size=2)
    images = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 3 + 1
    target = head.construct_target(images)
    torch.testing.assert_close(unnormalise_patches(target, head.patchify(images)), head.patchify(images))


def test_unnormalise_by_hand_on_a_2x2_patch():
    patch = torch.tensor([[[1.0, 2.0, 3.0, 5.0]]])  # one 2x2 grey patch: mean 2.75, unbiased variance 8.75 / 3
    pred = torch.tensor([[[1.0, -1.0, 0.0, 0.5]]])
    scale = math.sqrt(8.75 / 3 + 1e-6)
    expected = torch.tensor([[[2.75 + scale, 2.75 - scale, 2.75, 2.75 + 0.5 * scale]]])
    torch.testing.assert_close(unnormalise_patches(pred, patch), expected)


@pytest.mark.parametrize(
    ('model_name', 'ratio', 'masked_patches'),
    [('mae', 0.75, 64 - int(64 * 0.25)), ('cmae', None, 64 - 4 * int(16 * (1 - 0.65)))],  # CMAE: its own 0.65
)
def test_mask_has_the_ratio_and_is_reproducible_without_touching_the_rng(model_name, ratio, masked_patches, request):
    model = request.getfixturevalue(model_name)
    images = normalised_images(model)
    rng = torch.get_rng_state()
    first = mae_reconstruction(model, images, ratio, seed=3).mask
    assert torch.equal(torch.get_rng_state(), rng)
    assert first.shape == (3, 64)
    assert first.sum(dim=1).tolist() == [masked_patches] * 3
    assert torch.equal(mae_reconstruction(model, images, ratio, seed=3).mask, first)
    assert not torch.equal(mae_reconstruction(model, images, ratio, seed=4).mask, first)
    if model.backbone.mask_unit == 2:  # whole 2x2 squares of patches
        squares = first.view(3, 4, 2, 4, 2)
        assert torch.equal(squares, squares[:, :, :1, :, :1].expand_as(squares))


def test_masked_and_pasted_images_follow_the_mask(mae):
    images = normalised_images(mae)
    result = mae_reconstruction(mae, images, 0.5, seed=0)
    masked = pixel_mask(result.mask).expand_as(result.original)
    torch.testing.assert_close(result.original, to_pixels(images, mae.data_preprocessor))
    assert torch.equal(result.masked[~masked], result.original[~masked])
    assert torch.all(result.masked[masked] == GREY)
    assert torch.equal(result.pasted[~masked], result.original[~masked])
    assert torch.equal(result.pasted[masked], result.reconstruction[masked])
    assert not torch.allclose(result.reconstruction, result.original)


@pytest.mark.parametrize('norm_pix', [True, False])
def test_reconstruction_is_the_decoders_output_unpatchified(mae, norm_pix, monkeypatch):
    monkeypatch.setattr(mae.head, 'norm_pix', norm_pix)
    images = normalised_images(mae)
    result = mae_reconstruction(mae, images, 0.75, seed=0)
    assert result.norm_pix == norm_pix
    # the same kept patches, as scores (0 = kept): the decoder's output does not depend on their order
    mae.eval()
    latent, mask, ids_restore = mae.backbone.forward_masked(images, 0.75, noise=result.mask)
    assert torch.equal(mask, result.mask)
    with torch.no_grad():
        pred = mae.neck(latent, ids_restore)
    if norm_pix:
        patches = mae.head.patchify(images)
        mean, var = patches.mean(dim=-1, keepdim=True), patches.var(dim=-1, keepdim=True)
        pred = pred * (var + 1e-6).sqrt() + mean
    std, mean = torch.tensor(STD).view(3, 1, 1), torch.tensor(MEAN).view(3, 1, 1)
    expected = ((mae.head.unpatchify(pred) * std + mean) / 255).clamp(0, 1)
    torch.testing.assert_close(result.reconstruction, expected, atol=1e-5, rtol=1e-5)


def test_restores_the_mode_and_keeps_the_settings(cmae):
    cmae.train()
    cmae.momentum_encoder.eval()  # a mixed state comes back as it was
    modes = {name: m.training for name, m in cmae.named_modules()}
    mae_reconstruction(cmae, normalised_images(cmae), 0.3, seed=0)
    assert {name: m.training for name, m in cmae.named_modules()} == modes
    assert (cmae.backbone.mask_ratio, cmae.backbone.mask_unit) == (0.65, 2)


def test_refuses_a_model_without_pixel_decoder_and_bad_inputs(mae):
    mocov3 = build('mocov3_vit_nano.py')
    with pytest.raises(TypeError, match='no MAE pixel decoder.*LGPMAE or a CMAE'):
        mae_reconstruction(mocov3, normalised_images(mae))
    with pytest.raises(ValueError, match='mask_ratio must be in'):
        mae_reconstruction(mae, normalised_images(mae), 1.0)
    with pytest.raises(ValueError, match='built for 64 patches'):
        mae_reconstruction(mae, torch.zeros(1, 3, 48, 48))
