"""Images/s per CPU core of each recipe's ImageNet training pipeline, and the CPU cores a GPU needs to be fed.

The pipelines are the configs' own (``configs/_base_/datasets/imagenet_{mae,mocov3,cmae,conmim}.py``, built with
mmpretrain's TRANSFORMS into mmcv's ``Compose``), run in this one process with torch, OpenCV and OpenMP on one
thread: one process = one core, as one data-loader worker; the time is the process's CPU time (another process
on the machine slows it less than it slows the wall clock). Each recipe runs in these variants, on the same files
and, per repeat, the same numpy seed (so the same crop boxes):

* ``reference``: mmcv's and mmpretrain's transforms only (lgp's exact replacements undone: ``LGPRandomGrayscale`` ->
  mmcv's ``RandomGrayscale``; ``LoadEncodedImage`` / ``DecodeRandomResizedCrop`` -> ``LGPLoadImageFromFile`` /
  mmpretrain's ``RandomResizedCrop``): a full-size OpenCV decode, then the crop;
* ``config``: the config as it is, when it differs from the reference (the same output, bit for bit);
* ``config + reduced decode, margin M`` (``--decode-margins``, default 1 and 2): the loader and the crops right
  after it swapped for lgp's reduced-size JPEG decode (``lgp/datasets/transforms/fast_decode.py``), an option that
  gives softer crops; ``n/a`` where a transform between the loader and the crop needs the pixels (ConMIM flips
  the whole image before its crop).

The input is real photographs of ImageNet's sizes and qualities: scikit-learn's two sample photos (china.jpg,
flower.jpg, 427 x 640) cropped and resized to a fixed mix of ImageNet-like shapes (mostly 500 x 375, 375 x 500 and
500 x 333, some smaller, a tail up to 1280 x 960; the larger are upscaled, so they are smoother and cheaper to
entropy-decode than real photos of that size) and saved as JPEGs of quality 75-95 into a temporary folder. Each
sample is ``dict(img_path=..., gt_label=..., sample_idx=...)``, as mmpretrain's ``ImageNet`` gives it to the pipeline.

Each repeat runs every file through every pipeline once, reversing the variants' order every other repeat; the table
gives the median images/s over the repeats with the min-max beside it, the time of each stage per image (every leaf
transform timed in place, summed over the views; ``other`` is the wrappers: ``MultiView``'s copies, ``RandomApply``'s
draw), the GPU's rate from the step benchmark (H200, bf16, ViT-B/16, batch 512, loss compiled: MAE 5106 img/s, MoCo v3
1407 img/s, each image two views; ``--gpu-rate RECIPE=IMG_S`` sets or overrides one) and the cores per GPU it needs =
GPU rate / per-core rate, against a budget of ``--core-budget`` (12) cores per GPU.

    python benchmarks/data_pipeline.py --quick     # 20 files, 3 repeats: under a minute on 2 cores
    python benchmarks/data_pipeline.py             # 60 files, 10 repeats
    python benchmarks/data_pipeline.py --recipes mocov3 --gpu-rate cmae=900
"""

from lgp import compat  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import PIL
import torch
from mmcv.transforms import Compose, RandomGrayscale
from mmpretrain.datasets import MultiView, RandomResizedCrop
from mmpretrain.registry import TRANSFORMS
from PIL import Image
from sklearn.datasets import load_sample_images
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_header import print_run_header  # noqa: E402

from lgp.datasets.transforms import (  # noqa: E402
    DecodeRandomResizedCrop,
    LGPLoadImageFromFile,
    LGPRandomGrayscale,
    LoadEncodedImage,
)
from lgp.engine import load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECIPES = {name: REPO / f'configs/_base_/datasets/imagenet_{name}.py' for name in ('mae', 'mocov3', 'cmae', 'conmim')}
#: per-GPU training rates, images/s (H200, bf16, ViT-B/16, batch 512, benchmarks/train_step.py --compile); a MoCo v3
#: image is two views
GPU_RATES = {'mae': 5106.0, 'mocov3': 1407.0}
#: mmcv's / mmpretrain's transform -> lgp's faster one with the same arguments and output, bit for bit
EXACT_PAIRS = {RandomGrayscale: LGPRandomGrayscale}
#: full-size decode -> reduced-size decode (an option: softer crops, see lgp/datasets/transforms/fast_decode.py)
DECODE_PAIRS = {LGPLoadImageFromFile: LoadEncodedImage, RandomResizedCrop: DecodeRandomResizedCrop}
#: arguments lgp's transforms take beyond their reference's
FAST_ONLY_ARGS = ('decode_margin',)
#: (width, height, how many in 20): ImageNet-like shapes, mostly Flickr's 500 px long side
SHAPES = (
    (500, 375, 6),
    (375, 500, 2),
    (500, 333, 3),
    (333, 500, 1),
    (400, 300, 1),
    (300, 400, 1),
    (320, 240, 1),
    (250, 188, 1),
    (640, 480, 1),
    (800, 600, 1),
    (1024, 768, 1),
    (1280, 960, 1),
)
QUALITIES = (75, 85, 90, 95)


def write_images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` JPEGs of the shapes in :data:`SHAPES` (in their proportions when ``count`` is a multiple of 20) cut
    from scikit-learn's sample photos: each a random crop of the shape's aspect ratio resized (Lanczos) to the
    shape, its quality drawn from :data:`QUALITIES`."""
    rng = np.random.default_rng(seed)
    photos = [Image.fromarray(img) for img in load_sample_images().images]
    shapes = [(w, h) for w, h, n in SHAPES for _ in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        width, height = shapes[i % len(shapes)]
        photo = photos[i % len(photos)]
        fit = min(photo.width / width, photo.height / height) * rng.uniform(0.6, 1.0)
        box_w, box_h = width * fit, height * fit
        left, top = rng.uniform(0, photo.width - box_w), rng.uniform(0, photo.height - box_h)
        image = photo.resize((width, height), Image.Resampling.LANCZOS, box=(left, top, left + box_w, top + box_h))
        path = folder / f'{i:03d}_{width}x{height}.JPEG'
        image.save(path, quality=int(rng.choice(QUALITIES)))
        paths.append(path)
    return paths


def swap_types(node: object, mapping: dict[type, type], set_args: dict[type, dict] | None = None) -> object:
    """A copy of a pipeline config (nested dicts and lists) with each transform ``type`` in ``mapping`` replaced:
    without the fast-only arguments, with ``set_args[new type]`` added."""
    if isinstance(node, list | tuple):
        return type(node)(swap_types(item, mapping, set_args) for item in node)
    if not isinstance(node, dict):
        return node
    out = {key: swap_types(value, mapping, set_args) for key, value in node.items()}
    if node.get('type') in mapping:
        new = mapping[node['type']]
        out = {key: value for key, value in out.items() if key not in FAST_ONLY_ARGS}
        out.update(type=new, **(set_args or {}).get(new, {}))
    return out


def decodes_in_crops(pipeline: list[dict]) -> bool:
    """Whether every ``LoadEncodedImage`` is followed by a ``DecodeRandomResizedCrop`` or by a ``MultiView`` whose
    views each begin with one (any other transform would need the decoded image)."""
    for i, step in enumerate(pipeline):
        if step['type'] is not LoadEncodedImage:
            continue
        after = pipeline[i + 1] if i + 1 < len(pipeline) else {'type': None}
        views = after['transforms'] if after['type'] is MultiView else [[after]]
        if not all(view and view[0]['type'] is DecodeRandomResizedCrop for view in views):
            return False
    return True


def variants(pipeline: list[dict], margins: Iterable[float]) -> dict[str, list[dict] | None]:
    """The pipeline configs of one recipe by variant name (see the module docstring); ``None``: not applicable."""
    pipeline = swap_types(pipeline, {})
    everything = {**EXACT_PAIRS, **DECODE_PAIRS}
    reference = swap_types(pipeline, {fast: ref for ref, fast in everything.items()})
    out = {'reference': reference}
    if pipeline != reference:
        out['config'] = pipeline
    for margin in margins:
        fast = swap_types(pipeline, DECODE_PAIRS, {DecodeRandomResizedCrop: {'decode_margin': margin}})
        out[f'config + reduced decode, margin {margin:g}'] = fast if decodes_in_crops(fast) else None
    return out


class Timed:
    """A transform that adds its own run time to ``totals[name]`` (seconds)."""

    def __init__(self, transform: Callable, name: str, totals: dict[str, float]) -> None:
        self.transform, self.name, self.totals = transform, name, totals

    def __call__(self, results: dict) -> dict | None:
        start = time.process_time()
        out = self.transform(results)
        self.totals[self.name] = self.totals.get(self.name, 0.0) + time.process_time() - start
        return out


def nested_composes(transform: object) -> list[Compose]:
    """The ``Compose`` pipelines a wrapper transform holds (``MultiView``'s views, ``RandomApply``'s, ...)."""
    found = []
    for value in vars(transform).values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Compose) and all(item is not f for f in found):
                found.append(item)
    return found


def time_leaves(pipeline: Compose, totals: dict[str, float], seen: set[int] | None = None) -> None:
    """Wrap every leaf transform of ``pipeline``, nested ones included, in :class:`Timed` (named by class)."""
    seen = set() if seen is None else seen
    if id(pipeline) in seen:  # MultiView repeats a view's Compose once per view
        return
    seen.add(id(pipeline))
    for i, transform in enumerate(pipeline.transforms):
        children = nested_composes(transform)
        for child in children:
            time_leaves(child, totals, seen)
        if not children:
            pipeline.transforms[i] = Timed(transform, type(transform).__name__, totals)


@dataclass
class Run:
    """One recipe in one variant: its timed pipeline, the seconds of each pass and of each stage."""

    recipe: str
    variant: str
    pipeline: Compose
    passes: list[float] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)

    def run_pass(self, paths: list[Path], seed: int) -> None:
        """Every file through the pipeline once, numpy seeded with ``seed``."""
        np.random.seed(seed)
        start = time.process_time()
        for i, path in enumerate(paths):
            out = self.pipeline(dict(img_path=str(path), gt_label=i % 10, sample_idx=i))
            if out is None or not isinstance(out['inputs'], torch.Tensor | list):
                raise RuntimeError(f'{self.recipe} ({self.variant}) gave no packed inputs for {path}')
        self.passes.append(time.process_time() - start)


def build_runs(recipes: Iterable[str], margins: Iterable[float]) -> tuple[list[Run], list[str]]:
    """The runs of every recipe and variant, and a line for each variant that does not apply."""
    runs, skipped = [], []
    for recipe in recipes:
        pipeline = load_config(str(RECIPES[recipe])).train_dataloader.dataset.pipeline
        for variant, cfg in variants(pipeline, margins).items():
            if cfg is None:
                skipped.append(f'{recipe}, {variant}: n/a (a transform between the loader and the crop needs pixels)')
                continue
            run = Run(recipe, variant, Compose([TRANSFORMS.build(step) for step in cfg]))
            time_leaves(run.pipeline, run.stages)
            runs.append(run)
    return runs, skipped


def format_table(runs: list[Run], images: int, gpu_rates: dict[str, float], budget: float) -> str:
    """One markdown row per recipe and variant."""
    header = (
        '| recipe | variant | img/s per core (min-max) | ms/img (mean) | vs reference | GPU img/s | cores per GPU | '
        f'within {budget:g} | stages, ms/img |'
    )
    lines = [header, '|' + '---|' * header.count(' | ') + '---|']
    reference_rate = {}
    for run in runs:
        rates = [images / seconds for seconds in run.passes]
        rate = statistics.median(rates)
        reference_rate.setdefault(run.recipe, rate)
        total_ms = 1e3 * sum(run.passes) / (images * len(run.passes))
        stage_ms = {name: 1e3 * s / (images * len(run.passes)) for name, s in run.stages.items()}
        stage_ms['other'] = total_ms - sum(stage_ms.values())
        stages = ', '.join(f'{name} {ms:.2f}' for name, ms in stage_ms.items())
        gpu = gpu_rates.get(run.recipe)
        cores = gpu / rate if gpu else None
        lines.append(
            f'| {run.recipe} | {run.variant} | {rate:.1f} ({min(rates):.1f}-{max(rates):.1f}) | {total_ms:.2f} | '
            f'{rate / reference_rate[run.recipe]:.2f}x | {f"{gpu:g}" if gpu else "n/a"} | '
            f'{f"{cores:.1f}" if cores else "n/a"} | '
            f'{"n/a" if cores is None else ("yes" if cores <= budget else "no")} | {stages} |'
        )
    return '\n'.join(lines)


def parse_gpu_rate(text: str) -> tuple[str, float]:
    """``RECIPE=IMG_S`` -> ``(recipe, rate)``."""
    recipe, _, rate = text.partition('=')
    if recipe not in RECIPES or not rate:
        raise argparse.ArgumentTypeError(f'expected RECIPE=IMG_S with RECIPE one of {sorted(RECIPES)}, got {text!r}')
    return recipe, float(rate)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='20 files, 3 repeats (under a minute on 2 cores)')
    parser.add_argument('--recipes', nargs='+', choices=sorted(RECIPES), default=list(RECIPES))
    parser.add_argument('--images', type=int, help='JPEG files (default 60, 20 with --quick)')
    parser.add_argument('--repeats', type=int, help='timed passes over the files (default 10, 3 with --quick)')
    parser.add_argument('--gpu-rate', type=parse_gpu_rate, action='append', default=[], metavar='RECIPE=IMG_S')
    parser.add_argument('--core-budget', type=float, default=12.0, help='CPU cores per GPU available')
    parser.add_argument(
        '--decode-margins', type=float, nargs='*', default=[1.0, 2.0], help='reduced-decode variants (none: skip)'
    )
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    args.images = args.images or (20 if args.quick else 60)
    args.repeats = args.repeats or (3 if args.quick else 10)
    return args


def main(argv: list[str] | None = None) -> None:
    """Print the command, the machine and the input, then time every recipe's pipeline variants."""
    args = parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    print_run_header(argv, f'OpenCV {cv2.__version__}', f'Pillow {PIL.__version__}')
    gpu_rates = {**GPU_RATES, **dict(args.gpu_rate)}
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        paths = write_images(Path(tmp), args.images, args.seed)
        sizes = [Image.open(p).size for p in paths]
        print(
            f'input: {len(paths)} JPEGs, mean {np.mean([w for w, _ in sizes]):.0f} x '
            f'{np.mean([h for _, h in sizes]):.0f} px ({min(sizes, key=lambda s: s[0] * s[1])} to '
            f'{max(sizes, key=lambda s: s[0] * s[1])}), {sum(p.stat().st_size for p in paths) / len(paths) / 1024:.0f} '
            f'KiB on average; {args.repeats} repeats, 1 thread'
        )
        runs, skipped = build_runs(args.recipes, args.decode_margins)
        for run in runs:  # warm-up: file cache, first-call costs
            run.run_pass(paths[:4], args.seed)
            run.passes.clear()
            run.stages.clear()
        for repeat in range(args.repeats):
            for recipe in args.recipes:
                group = [run for run in runs if run.recipe == recipe]
                for run in group[:: -1 if repeat % 2 else 1]:
                    run.run_pass(paths, args.seed + repeat)
    print()
    print(format_table(runs, len(paths), gpu_rates, args.core_budget))
    if skipped:
        print('\n' + '\n'.join(skipped))


if __name__ == '__main__':
    main()
