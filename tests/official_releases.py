"""Stand-ins for the official releases' checkpoints, built from timm and plain torch modules as the original code
defines them (MAE with its decoder; MoCo v3 / the original Layer Grafted release with projector, predictor and
momentum encoder): the independent references of lgp's whole-model readers. ``from official_releases import ...``
works from any test directory (pytest puts tests/, the folder of tests/conftest.py, on sys.path)."""

from functools import partial

import torch
import torch.nn as nn
from timm.models.vision_transformer import Block
from timm.models.vision_transformer import VisionTransformer as TimmViT

IMG, PATCH, D = 32, 4, 48  # nano: 8 x 8 = 64 patches
NUM_PATCHES = (IMG // PATCH) ** 2
DEC_D, DEC_DEPTH, DEC_HEADS = 64, 2, 4
PROJ_HID, PROJ_OUT = 128, 32


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Every parameter and BN statistic random (timm zero-inits biases, tokens; BN starts at 0 / 1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
        for sub in module.modules():
            if isinstance(sub, nn.BatchNorm1d):
                sub.running_mean.copy_(torch.randn(sub.num_features, generator=generator))
                sub.running_var.copy_(torch.rand(sub.num_features, generator=generator) + 0.5)
                sub.num_batches_tracked.fill_(int(torch.randint(1, 1000, (), generator=generator)))
    return module


def timm_encoder(seed: int) -> TimmViT:
    vit = TimmViT(img_size=IMG, patch_size=PATCH, embed_dim=D, depth=6, num_heads=3, num_classes=0)
    return randomise(vit, seed)


class OfficialMAEDecoder(nn.Module):
    """The decoder of the official MAE (``MaskedAutoencoderViT``), its parameters named as the release's keys."""

    def __init__(self) -> None:
        super().__init__()
        norm_layer = partial(nn.LayerNorm, eps=1e-6)  # the release's models use eps 1e-6
        self.decoder_embed = nn.Linear(D, DEC_D, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, DEC_D))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, NUM_PATCHES + 1, DEC_D), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            [Block(DEC_D, DEC_HEADS, 4.0, qkv_bias=True, norm_layer=norm_layer) for _ in range(DEC_DEPTH)]
        )
        self.decoder_norm = norm_layer(DEC_D)
        self.decoder_pred = nn.Linear(DEC_D, PATCH**2 * 3, bias=True)

    def forward_decoder(self, x: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Latent (B, 1 + L_keep, D) of the visible patches, CLS first -> pixel predictions (B, L, p * p * 3)."""
        x = self.decoder_embed(x)
        # append a mask token for every dropped patch, then undo the shuffle of the random masking
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        patches = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        patches = torch.gather(patches, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], patches], dim=1)
        x = x + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        x = self.decoder_pred(self.decoder_norm(x))
        return x[:, 1:, :]  # drop the CLS token


def mae_release(encoder: TimmViT, decoder: OfficialMAEDecoder) -> dict:
    """``mae_visualize_vit_*.pth``: ``{'model': sd}`` with the encoder and the decoder."""
    return {'model': {**encoder.state_dict(), **decoder.state_dict()}}


def mlp(*dims: int) -> nn.Sequential:
    """MoCo v3's ``_build_mlp``: Linear (no bias), BN, ReLU per layer; the last BN without affine and no ReLU."""
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        last = i == len(dims) - 2
        layers += [nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out, affine=not last)]
        layers += [] if last else [nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def projector() -> nn.Sequential:
    """MoCo v3's 3-layer projector."""
    return mlp(D, PROJ_HID, PROJ_HID, PROJ_OUT)


def predictor() -> nn.Sequential:
    """MoCo v3's 2-layer predictor."""
    return mlp(PROJ_OUT, PROJ_HID, PROJ_OUT)


def mocov3_encoder(seed: int) -> TimmViT:
    """The official ``MoCo_ViT`` encoder: a timm ViT whose classification head is replaced by the projector."""
    vit = timm_encoder(seed)
    vit.head = randomise(projector(), seed + 100)
    return vit.eval()


def mocov3_release(online: TimmViT, momentum: TimmViT, pred: nn.Sequential, wrapper: str) -> dict:
    """``checkpoint_*.pth.tar`` of MoCo v3 (and the original Layer Grafted release): DDP's ``module.`` prefix."""
    state_dict = {}
    for name, module in (('base_encoder', online), ('momentum_encoder', momentum), ('predictor', pred)):
        state_dict.update({f'{wrapper}{name}.{k}': v for k, v in module.state_dict().items()})
    return {'epoch': 300, 'arch': 'vit_nano', 'state_dict': state_dict, 'optimizer': {'state': {}, 'param_groups': []}}
