"""The dataset converters (tools/dataset_converters): digits_to_imagenet.py writes and reports the digits, make_split.py
draws a class-balanced split of an ImageNet-style folder."""

from pathlib import Path

from PIL import Image

from lgp.datasets import make_class_balanced_split, read_split, scan_image_folder


def test_digits_to_imagenet_writes_and_reports(tmp_path: Path, run_tool) -> None:
    result = run_tool(['tools/dataset_converters/digits_to_imagenet.py', str(tmp_path / 'd'), '--size', '24'])
    assert 'train: 1437 images' in result.stdout and 'val: 360 images' in result.stdout
    with Image.open(next((tmp_path / 'd' / 'train').glob('digit_*/*.png'))) as image:
        assert image.size == (24, 24)


def test_make_split_cli(tmp_path: Path, run_tool) -> None:
    root = tmp_path / 'imagenet'
    for wnid, n in (('n02', 25), ('n01', 20), ('n03', 31)):
        (root / 'train' / wnid).mkdir(parents=True)
        for i in range(n):
            (root / 'train' / wnid / f'{wnid}_{i}.JPEG').write_bytes(b'')
    (root / 'train' / 'n01' / 'notes.txt').write_text('not an image')
    samples, classes = scan_image_folder(root)
    assert classes == ['n01', 'n02', 'n03'] and len(samples) == 76
    out = tmp_path / 'split.txt'
    result = run_tool(
        ['tools/dataset_converters/make_split.py', str(root), str(out), '--per-class', '4', '--seed', '2']
    )
    assert '12 of 76 images from 3 classes (4-4 a class, seed 2)' in result.stdout
    lines = out.read_text().splitlines()
    assert lines[0].startswith('train/n01/n01_') and lines[0].endswith('.JPEG 0') and lines[-1].endswith(' 2')
    assert read_split(out) == make_class_balanced_split(samples, per_class=4, seed=2)
