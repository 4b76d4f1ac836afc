"""Throughput of one full pre-training step, lgp against a reference, timed side by side.

The reference is mmpretrain's own MAE / MoCo v3; for CMAE, which mmpretrain lacks, lgp's own CMAE with
``fast_paths=False`` (the plain computation its fast path replaces); for ConMIM, which mmpretrain lacks too, lgp's
ConMIM on mmpretrain's BEiT encoder. A step is ``model.train_step(data, optim_wrapper)``: the data preprocessor, the
forward pass and loss (for MoCo v3, CMAE and ConMIM also the momentum update and the momentum (target, slow)
encoder's forward), the backward pass and the AdamW step. Both sides are built from the same model configs
(``configs/_base_/models/{mae,mocov3,cmae,conmim}_vit_{nano,b}.py``) and the same optimiser constructor and
hyperparameters (``configs/_base_/schedules/{algorithm}_adamw.py``); against mmpretrain the algorithm and backbone
classes differ, and the AdamW implementation (lgp's schedules ask for the fused one, mmpretrain's side gets PyTorch's
default, as its own configs do):

* ``mae``: lgp ``LGPMAE`` + ``LGPViT`` against mmpretrain ``MAE`` + ``MAEViT``;
* ``mocov3``: lgp ``LGPMoCoV3`` + ``LGPViT`` against mmpretrain ``MoCoV3`` + ``MoCoV3ViT(stop_grad_conv1=True)``;
* ``grafted``: lgp ``GraftedMoCoV3`` (its graft's lower blocks at 0.1x, from a step-1 file of random weights) against
  mmpretrain ``MoCoV3`` with the same param groups (the original's ``lr_layer_wise='1.5e-5,1.5e-5,1.5e-4'``), both
  from ``GraftedOptimWrapperConstructor``;
* ``cmae``: lgp ``CMAE`` + ``LGPViT`` against the same with ``fast_paths=False`` (the whole last pixel-decoder block
  and prediction instead of the masked patches' only); both are lgp's models and get lgp's fused AdamW, so the
  ratio is that of the fast path alone;
* ``conmim``: lgp ``ConMIM`` + ``LGPViT`` in BEiT's style (no absolute position embedding, one shared relative
  position bias, layer scale; attention through PyTorch's fused ``scaled_dot_product_attention`` with the bias as
  its float mask) against the same ``ConMIM`` on mmpretrain's BEiT encoder (:class:`BEiTConMIMEncoder`:
  ``BEiTViT`` with the same dims, ``use_abs_pos_emb=False``, ``use_shared_rel_pos_bias=True``,
  ``use_rel_pos_bias=False``, the config's layer scale, no drop path; mmpretrain's ``BEiTAttention``: explicit
  q k^T, bias add, softmax, A v). The two encoders compute the same function with another parameterisation of the
  qkv bias: BEiT's has q and v biases only, lgp's a k bias too, which does not change the attention (it adds
  q . b_k to a whole row of logits, which the softmax cancels). Both sides run lgp's ConMIM and get its schedule's
  fused AdamW, so the ratio is that of the encoders alone.

After warm-up steps, each repeat times one step of each side, alternating which goes first; the table reports
medians, the ratio of the median step times (lgp / reference, <= 1.0: lgp at least as fast) and the min-max of the
per-repeat ratios (the noise). Images/s counts images (a MoCo v3 image is 2 views, a CMAE image an online and a
target view, a ConMIM image a corrupted and a full view). Peak memory is ``torch.cuda.max_memory_allocated`` over one
untimed step above what was allocated before it, plus the side's own weights, buffers and optimiser state (the peak
that side would have alone); on the CPU it is 'n/a': both sides share one process and the allocator keeps freed
memory, so the process's RSS says nothing about either side. FLOP/s use the analytic counts of :mod:`flops` of the
work each side does (lgp skips the outputs no loss reads: the patch tokens of MoCo v3's last encoder block, the
visible patches of MAE's and CMAE's last pixel-decoder block; ConMIM's two sides do the same work) and are given as
a fraction of a square GEMM's rate (2048 on the CPU, 8192 on a GPU, in the step's compute dtype), timed after every
repeat so that it shares the steps' conditions.

    python benchmarks/train_step.py --quick                 # nano, 32 px, batch 64, CPU: about 30 s
    python benchmarks/train_step.py --quick --algorithms conmim
    python benchmarks/train_step.py                         # CPU: + ViT-B/16 at 224, batch 4; GPU: ViT-B/16, bf16
    python benchmarks/train_step.py --algorithms mocov3 --sizes b --batch 64 128 --profile
"""

from lgp import compat  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse
import copy
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones import BEiTViT
from mmpretrain.models.selfsup import MAE as RefMAE
from mmpretrain.models.selfsup import BEiTPretrainViT, MAEViT, MoCoV3ViT
from mmpretrain.models.selfsup import MoCoV3 as RefMoCoV3
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flops import DecoderSpec, ViTSpec, cmae_flops, conmim_flops, mae_flops, mocov3_flops  # noqa: E402
from run_header import print_run_header  # noqa: E402

from lgp.engine import CPUAmpOptimWrapper, GraftedOptimWrapperConstructor, compile_loss  # noqa: E402
from lgp.models import LGPViT  # noqa: E402
from lgp.models.backbones.vit import ARCHS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs' / '_base_'
ALGORITHMS = ('mae', 'mocov3', 'grafted', 'cmae', 'conmim')
# each row's reference side: mmpretrain's own model; for CMAE, which mmpretrain lacks, lgp's without its fast paths;
# for ConMIM, which mmpretrain lacks too, lgp's ConMIM on mmpretrain's BEiT encoder (BEiTConMIMEncoder)
REFERENCES = {
    'mae': 'mmpretrain MAE',
    'mocov3': 'mmpretrain MoCoV3',
    'grafted': 'mmpretrain MoCoV3',
    'cmae': 'lgp CMAE fast_paths=False',
    'conmim': 'mmpretrain BEiT encoder',
}
# default batch per size and device; the GPU runs ViT-B/16 only unless --sizes says otherwise
BATCHES = {'nano': {'cpu': [64], 'cuda': [256]}, 'b': {'cpu': [4], 'cuda': [64, 128]}}
GRAFTED_LR_LAYER_WISE = '1.5e-5,1.5e-5,1.5e-4'
GRAFT_KEYS = ('step1', 'lower_blocks', 'lower_lr_mult', 'anchor_weight', 'anchor_blocks')
# ConMIM masks 75 of the 196 patches of ViT-B/16 at 224 px; the benchmark masks as many of L (24 of nano's 64) at
# random positions (the official block-wise mask costs the same: every token is computed)
CONMIM_MASKED = (75, 196)
# the backbone initialisation of mmpretrain's BEiT config, configs/beit/beit_beit-base-p16_8xb256-amp-coslr-300e_in1k.py
# (truncated normal linear layers and patch embedding, unit LayerNorm); BEiTConMIMEncoder.init_weights then does what
# BEiTPretrainViT's does
BEIT_INIT_CFG = [
    dict(type='TruncNormal', std=0.02, layer='Linear'),
    dict(type='TruncNormal', std=0.02, layer='Conv2d'),
    dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0),
]
# dense (no sparsity) bf16 tensor-core peaks of the vendor's data sheets, by a substring of the device name
BF16_DENSE_PEAK_TFLOPS = {'H100 80GB HBM3': 989.4, 'H100 NVL': 835.0, 'H100 PCIe': 756.0, 'H200': 989.4, 'A100': 312.0}
IMAGENET_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
MIB = 2**20


class BEiTConMIMEncoder(BEiTViT):
    """mmpretrain's BEiT encoder with the interface lgp's ConMIM calls: ``embed_dims`` and ``forward_tokens`` (a
    benchmark-only class, registered nowhere; the conmim row's reference backbone).

    Built as :func:`model_configs` configures it: ``BEiTViT`` with the lgp config's dims, ``use_abs_pos_emb=False``,
    ``use_shared_rel_pos_bias=True``, ``use_rel_pos_bias=False``, its ``layer_scale_init_value``, no drop path,
    ``bias='qv_bias'`` (q and v biases, no k bias) and the final norm. Everything it runs is mmpretrain's own:
    ``patch_embed``, ``cls_token``, ``rel_pos_bias()``, the ``BEiTTransformerEncoderLayer`` blocks (``BEiTAttention``:
    explicit q k^T, the shared bias added, softmax, A v; ``gamma_1`` / ``gamma_2`` layer scale) and ``ln1``. The masked
    patch embeddings are replaced as ``BEiTPretrainViT.forward`` replaces them, ``x (1 - w) + t w``, with the mask
    token t the caller (ConMIM) owns instead of a backbone's own. No mask token of its own, so that its parameters
    are those of lgp's backbone up to the qkv bias's parameterisation.
    """

    def init_weights(self) -> None:
        """``init_cfg`` (mmpretrain's BEiT config's: :data:`BEIT_INIT_CFG`), then BEiTPretrainViT's own steps: the CLS
        token N(0, 0.02) truncated, each block's output projections divided by sqrt(2 (i + 1))."""
        super().init_weights()
        trunc_normal_(self.cls_token, std=0.02)
        BEiTPretrainViT.rescale_init_weight(self)

    def forward_tokens(
        self,
        x: torch.Tensor,
        final_norm: bool | None = None,
        mask: torch.Tensor | None = None,
        mask_token: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Every token of images x (B, C, H, W) after the last block, (B, 1 + L, D), CLS first, as
        :meth:`lgp.models.LGPViT.forward_tokens`: ``mask`` (B, L) bool, True where the patch embedding is replaced by
        ``mask_token`` (1, 1, D)."""
        x, _ = self.patch_embed(x)
        b, length, _ = x.shape
        if mask is not None:
            w = mask.flatten(1).unsqueeze(-1).type_as(x)
            x = x * (1.0 - w) + mask_token.expand(b, length, -1) * w
        x = torch.cat((self.cls_token.expand(b, -1, -1), x), dim=1)
        x = self.drop_after_pos(x)
        rel_pos_bias = self.rel_pos_bias()
        for layer in self.layers:
            x = layer(x, rel_pos_bias=rel_pos_bias)
        return self.ln1(x) if (self.final_norm if final_norm is None else final_norm) else x


@dataclass
class Side:
    """One side of a comparison: a model, its optimiser wrapper and its batch."""

    name: str
    model: nn.Module
    wrapper: OptimWrapper
    data: dict
    times: list[float] = field(default_factory=list)
    peak_mib: float | None = None

    def step(self) -> None:
        """One training step."""
        self.model.train_step(self.data, self.wrapper)


@dataclass
class Row:
    """One line of the results table."""

    algorithm: str
    reference: str  # what the reference side is (REFERENCES, or lgp's eager model with --against-eager)
    size: str
    batch: int
    lgp: Side
    ref: Side
    flops: tuple[int, int]  # lgp, reference
    gemm_rate: float
    peak: float | None  # the device's dense peak FLOP/s in the step's dtype, when known

    def ratio(self) -> float:
        """Median lgp step time over median reference step time."""
        return statistics.median(self.lgp.times) / statistics.median(self.ref.times)

    def ratio_range(self) -> tuple[float, float]:
        """Min and max of the per-repeat ratios (the two sides of a repeat ran back to back)."""
        ratios = [a / b for a, b in zip(self.lgp.times, self.ref.times, strict=True)]
        return min(ratios), max(ratios)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the per-device defaults filled in."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='nano on the CPU, batch 64 (about 30 s on 2 cores)')
    parser.add_argument('--algorithms', nargs='+', choices=ALGORITHMS, default=list(ALGORITHMS))
    parser.add_argument('--sizes', nargs='+', choices=sorted(BATCHES), help='default: nano b (CPU), b (GPU)')
    parser.add_argument('--batch', nargs='+', type=int, help='batch sizes (default per size and device)')
    parser.add_argument('--repeats', type=int, help='timed steps per side (default 10 nano / GPU, 3 ViT-B on CPU)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps per side first')
    parser.add_argument('--device', help='default: cuda when available (cpu with --quick)')
    parser.add_argument('--bf16', action=argparse.BooleanOptionalAction, help='bf16 autocast (default: on GPU)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help="torch.compile each side's whole loss computation (model.loss); see --against-eager",
    )
    parser.add_argument('--compile-mode', help='torch.compile mode, e.g. max-autotune-no-cudagraphs (default: none)')
    parser.add_argument(
        '--against-eager',
        action='store_true',
        help="the reference is lgp's own model, eager: with --compile, compiled against eager in one run",
    )
    parser.add_argument(
        '--peak-tflops',
        type=float,
        help="the device's dense peak in the step's dtype, for the MFU column (default: known GPUs in bf16)",
    )
    parser.add_argument('--channels-last', action='store_true', help='channels-last images and patch embedding')
    parser.add_argument('--profile', action='store_true', help='phase times of both sides, top ops of lgp')
    parser.add_argument('--threads', type=int, help='torch CPU threads (1 is steadier on a shared machine)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    args.device = args.device or ('cuda' if torch.cuda.is_available() and not args.quick else 'cpu')
    cuda = args.device.startswith('cuda')
    args.sizes = args.sizes or (['nano'] if args.quick else ['b'] if cuda else ['nano', 'b'])
    args.bf16 = cuda if args.bf16 is None else args.bf16
    return args


def peak_flops(args: argparse.Namespace) -> float | None:
    """The device's dense peak FLOP/s in the step's dtype: ``--peak-tflops``, else :data:`BF16_DENSE_PEAK_TFLOPS` of a
    known GPU in bf16; ``None`` (no MFU column) otherwise."""
    if args.peak_tflops:
        return args.peak_tflops * 1e12
    if not (args.device.startswith('cuda') and args.bf16):
        return None
    name = torch.cuda.get_device_name(torch.device(args.device))
    return next((tflops * 1e12 for key, tflops in BF16_DENSE_PEAK_TFLOPS.items() if key in name), None)


def synchronizer(device: str) -> Callable[[], None]:
    """A function that waits for the device's queued work (a no-op on the CPU)."""
    return torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)


class Gemm:
    """A square matrix product (2048 on the CPU, 8192 on a GPU) in the step's dtype, timed between the steps."""

    def __init__(self, device: str, dtype: torch.dtype) -> None:
        self.n = 8192 if device.startswith('cuda') else 2048
        self.calls = 10 if device.startswith('cuda') else 2
        self.a, self.b = (torch.randn(self.n, self.n, device=device).to(dtype) for _ in range(2))
        self.sync = synchronizer(device)
        self.times: list[float] = []
        self.a @ self.b

    def time(self) -> None:
        """Time ``calls`` products, record the time of one."""
        self.sync()
        start = time.perf_counter()
        for _ in range(self.calls):
            self.a @ self.b
        self.sync()
        self.times.append((time.perf_counter() - start) / self.calls)

    def rate(self) -> float:
        """FLOP/s, from the median time."""
        return 2 * self.n**3 / statistics.median(self.times)


def model_configs(algorithm: str, size: str, step1: Path) -> tuple[dict, dict]:
    """The lgp model config of the repo and its reference: the mmpretrain twin (same architecture, heads and
    preprocessing); for CMAE the same config with ``fast_paths=False``; for ConMIM the same config with the backbone
    replaced by mmpretrain's BEiT encoder (:class:`BEiTConMIMEncoder`) of the same architecture.

    The grafted model starts from ``step1``, written here with the backbone's own initialisation.
    """
    lgp = copy.deepcopy(Config.fromfile(CONFIGS / 'models' / f'{algorithm}_vit_{size}.py').model.to_dict())
    lgp['data_preprocessor'] = dict(type=SelfSupDataPreprocessor, **IMAGENET_NORM)
    if algorithm == 'cmae':
        return lgp, dict(copy.deepcopy(lgp), fast_paths=False)
    if algorithm == 'conmim':
        return lgp, dict(copy.deepcopy(lgp), backbone=beit_backbone(lgp['backbone']))
    family = 'mae' if algorithm == 'mae' else 'mocov3'
    ref = {k: v for k, v in lgp.items() if k not in GRAFT_KEYS}
    if algorithm == 'grafted':
        torch.save(
            {'state_dict': LGPViT(**{k: v for k, v in lgp['backbone'].items() if k != 'type'}).state_dict()}, step1
        )
        lgp['step1'] = dict(checkpoint=str(step1))
    backbone = lgp['backbone']
    arch = {k: v for k, v in ARCHS[backbone['arch']].items() if k != 'patch_size'}
    common = dict(arch=arch, img_size=backbone['img_size'], patch_size=backbone['patch_size'])
    if family == 'mae':
        ref_backbone = dict(type=MAEViT, mask_ratio=backbone['mask_ratio'], **common)
    else:
        ref_backbone = dict(type=MoCoV3ViT, stop_grad_conv1=True, out_type='cls_token', **common)
    ref = dict(copy.deepcopy(ref), type=RefMAE if family == 'mae' else RefMoCoV3, backbone=ref_backbone)
    return lgp, ref


def beit_backbone(backbone: dict) -> dict:
    """The :class:`BEiTConMIMEncoder` config of a BEiT-style ``LGPViT`` config (ConMIM's): the same dims, patch grid,
    layer scale, drop path and final norm, a shared relative position bias and no absolute position embedding."""
    expected = dict(pos_embed_type='none', rel_pos_bias=True)
    if any(backbone.get(k) != v for k, v in expected.items()):
        raise ValueError(f'The conmim reference needs a BEiT-style LGPViT ({expected}), got {backbone}.')
    arch = {k: v for k, v in ARCHS[backbone['arch']].items() if k != 'patch_size'}
    return dict(
        type=BEiTConMIMEncoder,
        arch=arch,
        img_size=backbone['img_size'],
        patch_size=backbone['patch_size'],
        drop_path_rate=backbone.get('drop_path_rate', 0.0),
        final_norm=backbone.get('final_norm', True),
        out_type='raw',
        use_abs_pos_emb=False,
        use_rel_pos_bias=False,
        use_shared_rel_pos_bias=True,
        layer_scale_init_value=backbone.get('layer_scale_init_value', 0.0),
        bias='qv_bias',
        init_cfg=copy.deepcopy(BEIT_INIT_CFG),
    )


def decoder_spec(decoder: dict) -> DecoderSpec:
    """The shape of an mmpretrain ``MAEPretrainDecoder`` config: width D_d, depth and MLP width."""
    dims = decoder['decoder_embed_dim']
    return DecoderSpec(dims, decoder['decoder_depth'], int(decoder['mlp_ratio'] * dims))


def mlp_widths(neck: dict) -> tuple[int, ...]:
    """The widths of an mmpretrain ``NonLinearNeck`` config (a projector or predictor): in, hid x (layers - 1), out."""
    return (neck['in_channels'], *[neck['hid_channels']] * (neck['num_layers'] - 1), neck['out_channels'])


def flop_count(lgp_cfg: dict, algorithm: str, batch: int, partial: bool) -> int:
    """Analytic FLOPs of one training step of the config's model (see :mod:`flops`; ``partial``: as lgp computes)."""
    backbone, neck = lgp_cfg['backbone'], lgp_cfg['neck']
    arch = ARCHS[backbone['arch']]
    dims, depth, mlp = arch['embed_dims'], arch['num_layers'], arch['feedforward_channels']
    vit = ViTSpec(dims, depth, mlp, backbone['img_size'], backbone['patch_size'])
    if algorithm == 'mae':
        return mae_flops(vit, decoder_spec(neck), backbone['mask_ratio'], batch, partial=partial)
    if algorithm == 'conmim':  # both sides compute every token
        return conmim_flops(vit, mlp_widths(neck), batch)
    if algorithm == 'cmae':
        return cmae_flops(
            vit,
            decoder_spec(neck),
            decoder_spec(lgp_cfg['feature_decoder']),
            mlp_widths(lgp_cfg['projector']),
            mlp_widths(lgp_cfg['contrast_head']['predictor']),
            backbone['mask_ratio'],
            backbone['mask_unit'],
            batch,
            partial=partial,
        )
    return mocov3_flops(vit, mlp_widths(neck), mlp_widths(lgp_cfg['head']['predictor']), batch, partial=partial)


def build_optim_wrapper(model: nn.Module, algorithm: str, device: str, bf16: bool) -> OptimWrapper:
    """AdamW of the algorithm's schedule config, param groups by ``GraftedOptimWrapperConstructor`` from its whole
    ``paramwise_cfg`` (CMAE's and ConMIM's have ``custom_keys`` besides the ``weight_decay_rule``).

    One of lgp's models (both sides of the cmae and conmim rows: the conmim reference is lgp's ``ConMIM`` on
    mmpretrain's encoder) gets the schedule as configured; one of mmpretrain's gets the same hyperparameters without
    lgp's choice of implementation (``fused``): PyTorch's default AdamW, as mmpretrain's own configs build it, and for
    ``grafted`` the original's ``lr_layer_wise`` (lgp's ``GraftedMoCoV3`` gives its param groups itself,
    ``block_lr_groups``). The constructor maps BEiT's parameters to blocks with its ``get_layer_depth`` as it maps
    lgp's with ``layer_id``; ConMIM's ``skip_1d`` rule exempts the 1-D tensors of both (lgp's ``qkv.bias``,
    ``attn.gamma1.weight``; BEiT's ``q_bias``, ``v_bias``, ``gamma_1``), its ``custom_keys`` the CLS token of both.
    """
    lgp = type(model).__module__.startswith('lgp.')
    schedule = f'{algorithm}_adamw.py'
    schedule_cfg = Config.fromfile(CONFIGS / 'schedules' / schedule)
    optimizer = schedule_cfg.optim_wrapper.optimizer.to_dict()
    if not lgp:
        optimizer.pop('fused', None)
    if bf16:
        wrapper = dict(type=AmpOptimWrapper, dtype='bfloat16') if device.startswith('cuda') else {}
        wrapper = wrapper or dict(type=CPUAmpOptimWrapper, dtype='bfloat16')
    else:
        wrapper = dict(type=OptimWrapper)
    paramwise = schedule_cfg.optim_wrapper.paramwise_cfg.to_dict()
    if algorithm == 'grafted' and not lgp:
        paramwise['lr_layer_wise'] = GRAFTED_LR_LAYER_WISE
    return GraftedOptimWrapperConstructor(dict(wrapper, optimizer=optimizer), paramwise)(model)


def conmim_samples(batch: int, grid: int, device: str | torch.device = 'cpu', seed: int = 0) -> list[DataSample]:
    """ConMIM's data samples: each with a ``mask`` (grid, grid) int64 (1 = masked), as lgp's pipeline packs it, here
    :data:`CONMIM_MASKED`'s share of the patches (75 of 196, 24 of 64) at random positions."""
    generator = torch.Generator().manual_seed(seed)
    patches = grid * grid
    masked = round(patches * CONMIM_MASKED[0] / CONMIM_MASKED[1])
    samples = []
    for _ in range(batch):
        mask = torch.zeros(patches, dtype=torch.int64)
        mask[torch.randperm(patches, generator=generator)[:masked]] = 1
        samples.append(DataSample().set_mask(mask.view(grid, grid).to(device)))
    return samples


def make_data(
    algorithm: str, batch: int, img_size: int, device: str, channels_last: bool, patch_size: int = 16
) -> dict:
    """A batch as the dataloader yields it: uint8 images, one view (MAE) or two (MoCo v3; CMAE: online, target;
    ConMIM: corrupted, full, and data samples with the masks of the corrupted views, :func:`conmim_samples`)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def images() -> torch.Tensor:
        x = torch.randint(0, 256, (batch, 3, img_size, img_size), dtype=torch.uint8, device=device)
        return x.contiguous(memory_format=fmt)

    samples = conmim_samples(batch, img_size // patch_size, device) if algorithm == 'conmim' else None
    return dict(inputs=images() if algorithm == 'mae' else [images(), images()], data_samples=samples)


def build_side(name: str, cfg: dict, algorithm: str, batch: int, args: argparse.Namespace) -> Side:
    """Build, initialise and move a model; attach its optimiser wrapper and a batch."""
    torch.manual_seed(args.seed)
    model = MODELS.build(cfg)
    model.init_weights()
    model.to(args.device).train()
    if args.channels_last:
        model.backbone.patch_embed.to(memory_format=torch.channels_last)
        if hasattr(model, 'momentum_encoder'):
            model.momentum_encoder.module[0].patch_embed.to(memory_format=torch.channels_last)
    wrapper = build_optim_wrapper(model, algorithm, args.device, args.bf16)
    if args.compile and not (args.against_eager and name == 'reference'):
        compile_loss(model, args.compile_mode)
    backbone = cfg['backbone']
    data = make_data(
        algorithm, batch, backbone['img_size'], args.device, args.channels_last, patch_size=backbone['patch_size']
    )
    return Side(name, model, wrapper, data)


def timed(side: Side, sync: Callable[[], None]) -> float:
    """Wall time of one training step."""
    sync()
    start = time.perf_counter()
    side.step()
    sync()
    return time.perf_counter() - start


def state_bytes(side: Side) -> int:
    """Bytes of the side's weights, buffers and optimiser state."""
    tensors = [*side.model.parameters(), *side.model.buffers()]
    tensors += [t for s in side.wrapper.optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


def measure_peak(side: Side, sync: Callable[[], None]) -> float | None:
    """Peak MiB of one (untimed) step as if the side were alone on the GPU; ``None`` on the CPU."""
    if not torch.cuda.is_available() or next(side.model.parameters()).device.type != 'cuda':
        return None
    sync()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    side.step()
    sync()
    return (torch.cuda.max_memory_allocated() - before + state_bytes(side)) / MIB


def compare(algorithm: str, size: str, batch: int, args: argparse.Namespace) -> Row:
    """Build both sides, warm them up, time them interleaved, then measure their peak memory."""
    with tempfile.TemporaryDirectory() as tmp:
        lgp_cfg, ref_cfg = model_configs(algorithm, size, Path(tmp) / 'step1.pth')
        if args.against_eager:
            ref_cfg = copy.deepcopy(lgp_cfg)
        pair = [
            build_side(name, cfg, algorithm, batch, args) for name, cfg in (('lgp', lgp_cfg), ('reference', ref_cfg))
        ]
    sync = synchronizer(args.device)
    for side in pair:
        for _ in range(args.warmup):
            side.step()
    gemm = Gemm(args.device, torch.bfloat16 if args.bf16 else torch.float32)
    repeats = args.repeats or (3 if size == 'b' and not args.device.startswith('cuda') else 10)
    for r in range(repeats):
        for side in pair if r % 2 == 0 else pair[::-1]:
            side.times.append(timed(side, sync))
        gemm.time()
    for side in pair:
        side.peak_mib = measure_peak(side, sync)
    flops = tuple(flop_count(lgp_cfg, algorithm, batch, partial) for partial in (True, args.against_eager))
    reference = 'lgp eager' if args.against_eager else REFERENCES[algorithm]
    row = Row(algorithm, reference, size, batch, pair[0], pair[1], flops, gemm.rate(), peak_flops(args))
    if args.profile:
        print(profile_report(row, sync, args.device))
    return row


def _synced_clock(sync: Callable[[], None]) -> float:
    """``time.perf_counter()`` once the device's queued work is done."""
    sync()
    return time.perf_counter()


def phase_times(side: Side, sync: Callable[[], None], steps: int = 3) -> dict[str, float]:
    """Median seconds of the phases of a step (preprocess, forward + loss, backward, optimiser), run by hand."""
    model, wrapper = side.model, side.wrapper
    phases: dict[str, list[float]] = {k: [] for k in ('preprocess', 'forward', 'backward', 'optimizer')}
    for _ in range(steps):
        marks = [time.perf_counter()]
        with wrapper.optim_context(model):
            data = model.data_preprocessor(side.data, True)
            marks.append(_synced_clock(sync))
            loss, _ = model.parse_losses(model._run_forward(data, mode='loss'))
            marks.append(_synced_clock(sync))
        wrapper.backward(loss)
        marks.append(_synced_clock(sync))
        wrapper.step()
        wrapper.zero_grad()
        marks.append(_synced_clock(sync))
        for name, a, b in zip(phases, marks, marks[1:], strict=False):
            phases[name].append(b - a)
    return {k: statistics.median(v) for k, v in phases.items()}


CATEGORIES = (
    ('attention', r'scaled_dot_product|flash|fmha|attention'),
    ('matmul', r'addmm|\bmm\b|aten::mm|bmm|matmul|linear|convolution|gemm|nvjet|cutlass|xmma|sgemm'),
    ('optimizer', r'foreach|multi_tensor|adam'),
    ('norm', r'norm'),
    ('copy / index', r'copy|cat\b|gather|index|clone|contiguous|to_copy'),
)


def categorise(events: list, device_time: bool) -> dict[str, float]:
    """Share of the self time of the profiled ops (CPU) or kernels (GPU) by kind of work (a name heuristic)."""
    totals: dict[str, float] = {}
    for e in events:
        t = e.self_device_time_total if device_time else e.self_cpu_time_total
        kind = next((k for k, pattern in CATEGORIES if re.search(pattern, e.key, re.I)), 'other element-wise')
        totals[kind] = totals.get(kind, 0.0) + t
    whole = sum(totals.values()) or 1.0
    return {k: v / whole for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def profile_report(row: Row, sync: Callable[[], None], device: str, steps: int = 2) -> str:
    """Phase times of both sides and the lgp side's top ops under ``torch.profiler``."""
    from torch.profiler import ProfilerActivity, profile

    lines = [f'\n## profile: {row.algorithm}, {row.size}, batch {row.batch}']
    for side in (row.lgp, row.ref):
        phases = phase_times(side, sync)
        lines.append(f'{side.name:>10}: ' + ', '.join(f'{k} {1e3 * v:.1f} ms' for k, v in phases.items()))
    cuda = device.startswith('cuda')
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            row.lgp.step()
        sync()
    events = prof.key_averages()
    kernels = [e for e in events if e.device_type.name == ('CUDA' if cuda else 'CPU')]
    # kernels (GPU) or aten ops (CPU) only: annotated ranges such as Optimizer.step#AdamW.step overlap them
    kernels = [e for e in kernels if not getattr(e, 'is_user_annotation', False) and '#' not in e.key]
    shares = categorise(kernels if cuda else [e for e in kernels if e.key.startswith('aten::')], cuda)
    lines.append('lgp self time by kind: ' + ', '.join(f'{k} {100 * v:.0f}%' for k, v in shares.items()))
    sort = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    lines.append(events.table(sort_by=sort, row_limit=15, max_name_column_width=60))
    return '\n'.join(lines)


def format_table(rows: list[Row]) -> str:
    """The results as a markdown table, each row with its reference (:data:`REFERENCES`)."""
    header = (
        '| algorithm | reference | size | batch | lgp img/s | reference img/s | time ratio lgp/reference (min-max) '
        '| lgp peak MiB | reference peak MiB | lgp GFLOP/step | reference GFLOP/step | GEMM GFLOP/s | lgp % of GEMM '
        '| reference % of GEMM | lgp % of peak (MFU) | reference % of peak (MFU) |'
    )
    lines = [header, '|' + '---|' * header.count(' | ') + '---|']
    for r in rows:
        lgp_s, ref_s = statistics.median(r.lgp.times), statistics.median(r.ref.times)
        low, high = r.ratio_range()
        mem = [f'{s.peak_mib:.0f}' if s.peak_mib is not None else 'n/a' for s in (r.lgp, r.ref)]
        mfu = [f'{100 * f / t / r.peak:.1f}' if r.peak else 'n/a' for f, t in zip(r.flops, (lgp_s, ref_s), strict=True)]
        lines.append(
            f'| {r.algorithm} | {r.reference} | {r.size} | {r.batch} | {r.batch / lgp_s:.1f} '
            f'| {r.batch / ref_s:.1f} '
            f'| {r.ratio():.3f} ({low:.2f}-{high:.2f}) | {mem[0]} | {mem[1]} '
            f'| {r.flops[0] / 1e9:.1f} | {r.flops[1] / 1e9:.1f} | {r.gemm_rate / 1e9:.0f} '
            f'| {100 * r.flops[0] / lgp_s / r.gemm_rate:.1f} | {100 * r.flops[1] / ref_s / r.gemm_rate:.1f} '
            f'| {mfu[0]} | {mfu[1]} |'
        )
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the command, the machine and the GEMM rate, then compare every (size, batch, algorithm)."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print_run_header(argv)
    MMLogger.get_instance('lgp_benchmark', log_level='WARNING')  # quiet the constructor's param-group table
    MessageHub.get_current_instance().update_info('max_iters', 10_000)  # read by MoCo v3's momentum schedule
    gemm = f'{8192 if args.device.startswith("cuda") else 2048}^2 {"bf16" if args.bf16 else "fp32"}'
    print(
        f'settings: device {args.device}, {"bf16 autocast" if args.bf16 else "fp32"}, compile {args.compile} '
        f'(mode {args.compile_mode}, {"lgp side only" if args.against_eager else "both sides"}), '
        f'channels-last {args.channels_last}, warm-up {args.warmup}, threads {torch.get_num_threads()}; '
        f'GEMM {gemm}, timed after each repeat'
    )
    rows = []
    device_kind = 'cuda' if args.device.startswith('cuda') else 'cpu'
    for size in args.sizes:
        for batch in args.batch or BATCHES[size][device_kind]:
            for algorithm in args.algorithms:
                rows.append(compare(algorithm, size, batch, args))
    print()
    print(format_table(rows))


if __name__ == '__main__':
    main()
