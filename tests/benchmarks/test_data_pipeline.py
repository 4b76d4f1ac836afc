"""The input-pipeline benchmark (benchmarks/data_pipeline.py): a row per recipe and variant with sane figures, the
variants built from the configs as documented, the input files of the documented shapes."""

from pathlib import Path

import pytest
from benchmark_helpers import load_benchmark
from mmcv.transforms import RandomGrayscale
from mmpretrain.datasets import RandomResizedCrop
from PIL import Image

from lgp.datasets.transforms import (
    DecodeRandomResizedCrop,
    LGPLoadImageFromFile,
    LGPRandomGrayscale,
    LoadEncodedImage,
)
from lgp.engine import load_config

data_pipeline = load_benchmark('data_pipeline')
REDUCED = 'config + reduced decode, margin 1'


def parse_table(out: str) -> dict[tuple[str, str], dict[str, str]]:
    """The markdown table's rows by (recipe, variant)."""
    header = next(line for line in out.splitlines() if line.startswith('| recipe'))
    columns = [c.strip() for c in header.split('|')]
    rows = [
        dict(zip(columns, [c.strip() for c in line.split('|')], strict=True))
        for line in out.splitlines()
        if line.startswith('| ') and line != header
    ]
    return {(row['recipe'], row['variant']): row for row in rows}


def test_tiny_run_prints_a_row_per_recipe_and_variant(run_tool) -> None:
    args = ['--images', '4', '--repeats', '2', '--decode-margins', '1', '--gpu-rate', 'cmae=900']
    out = run_tool(['benchmarks/data_pipeline.py', *args]).stdout
    assert 'command: python benchmarks/data_pipeline.py --images 4' in out and 'machine: CPU:' in out
    assert 'input: 4 JPEGs, mean 500 x 375 px' in out
    rows = parse_table(out)
    assert set(rows) == {
        ('mae', 'reference'),
        ('mae', REDUCED),
        *((recipe, variant) for recipe in ('mocov3', 'cmae') for variant in ('reference', 'config', REDUCED)),
        ('conmim', 'reference'),
        ('conmim', 'config'),
    }
    assert f'conmim, {REDUCED}: n/a' in out
    gpu_rates = {**data_pipeline.GPU_RATES, 'cmae': 900.0}  # the defaults and the one passed
    stage_names = {}
    for (recipe, variant), row in rows.items():
        rate, spread = row['img/s per core (min-max)'].split(' ')
        low, high = (float(v) for v in spread.strip('()').split('-'))
        assert 0 < low <= float(rate) <= high
        assert 0.99e3 / high <= float(row['ms/img (mean)']) <= 1.01e3 / low  # the rates rounded to 0.1
        if variant == 'reference':
            assert row['vs reference'] == '1.00x'
        if recipe in gpu_rates:
            cores = gpu_rates[recipe] / float(rate)
            assert float(row['GPU img/s']) == gpu_rates[recipe]
            assert float(row['cores per GPU']) == pytest.approx(cores, abs=0.06)
            if abs(cores - 12) > 0.1:  # away from the rounding of the rate
                assert row['within 12'] == ('yes' if cores <= 12 else 'no')
        else:
            assert row['GPU img/s'] == row['cores per GPU'] == row['within 12'] == 'n/a'
        stages = dict(stage.rsplit(' ', 1) for stage in row['stages, ms/img'].split(', '))
        rounding = 0.005 * (len(stages) + 1)  # each figure rounded to 0.01
        assert sum(float(ms) for ms in stages.values()) == pytest.approx(float(row['ms/img (mean)']), abs=rounding)
        assert all(float(ms) >= 0 for name, ms in stages.items() if name != 'other')
        loader = 'LoadEncodedImage' if variant == REDUCED else 'LGPLoadImageFromFile'
        assert list(stages)[0] == loader and list(stages)[-2:] == ['PackInputs', 'other']
        stage_names[recipe, variant] = set(stages)
    assert 'LGPRandomGrayscale' in stage_names['mocov3', 'config'] - stage_names['mocov3', 'reference']
    assert 'RandomGrayscale' in stage_names['mocov3', 'reference'] - stage_names['mocov3', 'config']


def types(node: object) -> list[type]:
    """Every transform type in a pipeline config, nested ones included, in order."""
    if isinstance(node, list):
        return [t for item in node for t in types(item)]
    if isinstance(node, dict):
        return ([node['type']] if 'type' in node else []) + [t for value in node.values() for t in types(value)]
    return []


def test_variants_swap_the_documented_transforms() -> None:
    mocov3 = load_config(str(data_pipeline.RECIPES['mocov3'])).train_dataloader.dataset.pipeline
    variants = data_pipeline.variants(mocov3, [2.0])
    reference, config, reduced = (variants[k] for k in ('reference', 'config', 'config + reduced decode, margin 2'))
    assert types(reference).count(RandomGrayscale) == 2 and LGPRandomGrayscale not in types(reference)
    assert types(config).count(LGPRandomGrayscale) == 2
    assert types(reduced)[0] is LoadEncodedImage and types(reduced).count(DecodeRandomResizedCrop) == 2
    assert LGPLoadImageFromFile not in types(reduced) and RandomResizedCrop not in types(reduced)
    assert all(view[0]['decode_margin'] == 2.0 for view in reduced[1]['transforms'])
    back = data_pipeline.swap_types(reduced, {DecodeRandomResizedCrop: RandomResizedCrop})
    assert all('decode_margin' not in view[0] for view in back[1]['transforms'])
    conmim = load_config(str(data_pipeline.RECIPES['conmim'])).train_dataloader.dataset.pipeline
    assert data_pipeline.variants(conmim, [1.0])['config + reduced decode, margin 1'] is None  # flip before crop


def test_input_files_have_the_documented_shapes(tmp_path: Path) -> None:
    paths = data_pipeline.write_images(tmp_path, 20)
    shapes = sorted(Image.open(p).size for p in paths)
    assert shapes == sorted((w, h) for w, h, n in data_pipeline.SHAPES for _ in range(n))
    assert all(Image.open(p).format == 'JPEG' for p in paths)
