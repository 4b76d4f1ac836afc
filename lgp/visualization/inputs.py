"""What the tools that look inside models feed them: the first images of a data config, normalised by a model's data
preprocessor (and back to pixels for display), and encoders or whole models built from a config and a checkpoint.

Symbols: B images, C channels, H x W image.
"""

import argparse

import torch
from mmengine.config import Config, DictAction
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from ..engine import load_config
from ..models import LGPViT
from ..models.checkpoint import load_backbone_checkpoint, load_model_checkpoint

UNTRAINED = 'none'  # the checkpoint name of a config's untrained initialisation


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--model LABEL CONFIG CHECKPOINT`` of the tools that compare encoders (see
    :func:`build_encoder`); :func:`check_model_labels` then refuses two with one label."""
    parser.add_argument(
        '--model',
        nargs=3,
        action='append',
        required=True,
        metavar=('LABEL', 'CONFIG', 'CHECKPOINT'),
        help=f'an encoder (repeatable): its label, the config of its model, its checkpoint ("{UNTRAINED}": untrained)',
    )


def check_model_labels(parser: argparse.ArgumentParser, models: list[list[str]]) -> None:
    """Exit with a usage error unless every ``--model`` has its own label."""
    labels = [label for label, _, _ in models]
    if len(set(labels)) < len(labels):
        parser.error(f'each --model needs its own label, got {labels}.')


def add_device_and_data_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--device`` (cuda when there is one) and ``--cfg-options`` (overrides of the tool's DATA_CONFIG)."""
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', help='device')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override DATA_CONFIG settings, e.g. the data root'
    )


def check_num_images(parser: argparse.ArgumentParser, num_images: int) -> None:
    """Exit with a usage error unless ``--num-images`` is at least 1."""
    if num_images < 1:
        parser.error(f'--num-images must be at least 1, got {num_images}.')


def first_images(cfg: Config, config_name: str, num_images: int) -> list[dict]:
    """The first ``num_images`` images of the val (else test) loader, as its batches, the last one cut to size."""
    loader_cfg = cfg.get('val_dataloader') or cfg.get('test_dataloader')
    if loader_cfg is None:
        raise ValueError(
            f'{config_name} has no val_dataloader or test_dataloader (a pre-training config?): pass a config with one, '
            'e.g. configs/benchmarks/linear_lgp-vit-nano_digits.py.'
        )
    loader = Runner.build_dataloader(dict(loader_cfg, persistent_workers=False), seed=0)
    batches, count = [], 0
    for batch in loader:
        inputs = batch['inputs'] if isinstance(batch['inputs'], torch.Tensor) else torch.stack(batch['inputs'])
        batches.append(dict(inputs=inputs[: num_images - count], data_samples=None))
        count += len(batches[-1]['inputs'])
        if count == num_images:
            break
    if count < num_images:
        raise ValueError(f'{config_name} has {count} images, fewer than --num-images {num_images}.')
    return batches


def data_preprocessor_config(cfg: Config, config_name: str) -> dict:
    """The data preprocessor of ``cfg``'s model (in the model or, as the pre-training configs have it, beside it)."""
    preprocessor_cfg = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor')
    if preprocessor_cfg is None:
        raise ValueError(f'{config_name} defines no data_preprocessor (the mean / std its encoder expects).')
    return preprocessor_cfg


def build_encoder(config: str, checkpoint: str, seed: int) -> tuple[LGPViT, torch.nn.Module]:
    """The backbone of ``config``'s model with ``checkpoint`` loaded strictly (any layout lgp reads, the online
    encoder), or with ``checkpoint`` :data:`UNTRAINED` its initialisation seeded by ``seed``; and its data
    preprocessor."""
    cfg = load_config(config)
    preprocessor_cfg = data_preprocessor_config(cfg, config)
    torch.manual_seed(seed)
    backbone = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    if not isinstance(backbone, LGPViT):
        raise TypeError(f'{config} builds a {type(backbone).__name__} backbone; an LGPViT is needed.')
    backbone.init_weights()
    if checkpoint != UNTRAINED:
        load_backbone_checkpoint(backbone, checkpoint)
    return backbone, MODELS.build(preprocessor_cfg)


def build_model(config: str, checkpoint: str) -> BaseModel:
    """``config``'s whole model (decoder, heads, ...) with its data preprocessor, ``checkpoint`` loaded strictly: lgp's
    own checkpoints, or the official MAE (with decoder) and MoCo v3 releases
    (:func:`lgp.models.checkpoint.load_model_checkpoint`)."""
    cfg = load_config(config)
    model = MODELS.build(dict(cfg.model, data_preprocessor=data_preprocessor_config(cfg, config)))
    load_model_checkpoint(model, checkpoint)
    return model


@torch.no_grad()
def normalise(batches: list[dict], preprocessor: torch.nn.Module) -> torch.Tensor:
    """The images of ``batches`` (:func:`first_images`) as the model sees them: (B, C, H, W), normalised, on the
    preprocessor's device."""
    return torch.cat([preprocessor(batch, False)['inputs'] for batch in batches])


def to_pixels(images: torch.Tensor, preprocessor: torch.nn.Module) -> torch.Tensor:
    """Normalised images (B, C, H, W) back to pixels in [0, 1] (clamped): x std + mean of the preprocessor (on the
    0-255 scale, channels as it gives them: RGB with ``to_rgb``), divided by 255."""
    mean, std = getattr(preprocessor, 'mean', None), getattr(preprocessor, 'std', None)
    if mean is None or std is None:
        raise ValueError(
            f'The data preprocessor ({type(preprocessor).__name__}) does not normalise (no mean / std), so the images '
            'cannot be shown as pixels: give it the mean and std of the config.'
        )
    return ((images * std.to(images) + mean.to(images)) / 255).clamp(0, 1)


__all__ = [
    'UNTRAINED',
    'add_model_option',
    'build_encoder',
    'build_model',
    'check_model_labels',
    'data_preprocessor_config',
    'first_images',
    'normalise',
    'to_pixels',
]
