"""Split files (lgp.datasets.splits): the original format, class-balanced draws, the digits' few-shot splits, images
per class of a split, mmpretrain reading them."""

import random
from collections import Counter
from pathlib import Path

import pytest
from mmpretrain.datasets import CustomDataset

from lgp.datasets import images_per_class, make_class_balanced_split, read_split, write_fewshot_splits, write_split
from lgp.datasets.splits import SplitFormatError

# the first lines of the original release's split/imagenet/imagenet_1percent.txt (unsorted, as published)
ORIGINAL_LINES = [
    'train/n04235860/n04235860_14959.JPEG 797',
    'train/n04239074/n04239074_7724.JPEG 799',
    'train/n02096294/n02096294_8485.JPEG 193',
    'train/n01443537/n01443537_18335.JPEG 1',
]


def synthetic_samples(counts: dict[int, int]) -> list[tuple[str, int]]:
    """``train/c{k}/c{k}_{i}.JPEG`` for n_k images of each class k."""
    return [(f'train/c{k}/c{k}_{i}.JPEG', k) for k, n in counts.items() for i in range(n)]


def test_original_format_round_trips(tmp_path: Path) -> None:
    published = tmp_path / 'imagenet_1percent.txt'
    published.write_text('\n'.join([*ORIGINAL_LINES[:2], '', *ORIGINAL_LINES[2:], '  ', '']))
    samples = read_split(published)
    assert samples == [(line.rsplit(' ', 1)[0], int(line.rsplit(' ', 1)[1])) for line in ORIGINAL_LINES]
    rewritten = tmp_path / 'clean.txt'
    assert write_split(rewritten, samples) == 4
    assert rewritten.read_text() == ''.join(f'{line}\n' for line in ORIGINAL_LINES)  # order kept, blanks gone
    assert read_split(rewritten) == samples


def test_malformed_lines_are_named(tmp_path: Path) -> None:
    bad = tmp_path / 'bad.txt'
    bad.write_text(f'{ORIGINAL_LINES[0]}\n\ntrain/n01/n01_1.JPEG seven\n')
    with pytest.raises(SplitFormatError, match=r'bad\.txt:3: malformed split line .*seven'):
        read_split(bad)
    bad.write_text('train/n01/n01_1.JPEG\n')
    with pytest.raises(SplitFormatError, match=r':1: '):
        read_split(bad)
    with pytest.raises(SplitFormatError, match='integer >= 0'):
        write_split(tmp_path / 'out.txt', [('train/a.JPEG', -1)])


def test_per_class_split_is_balanced_and_seeded() -> None:
    samples = synthetic_samples({0: 30, 1: 45, 2: 70, 3: 13})
    chosen = make_class_balanced_split(samples, per_class=13, seed=0)
    assert Counter(label for _, label in chosen) == dict.fromkeys(range(4), 13)
    assert set(chosen) <= set(samples) and len(set(chosen)) == len(chosen)
    assert chosen == sorted(chosen)
    shuffled = samples[:]
    random.Random(1).shuffle(shuffled)
    assert make_class_balanced_split(shuffled, per_class=13, seed=0) == chosen  # independent of the input order
    other = make_class_balanced_split(samples, per_class=13, seed=1)
    assert other != chosen and Counter(label for _, label in other) == Counter(label for _, label in chosen)


def test_percent_split_spreads_the_total_evenly() -> None:
    counts = {k: 700 + 60 * k for k in range(10)}  # 9,700 images
    samples = synthetic_samples(counts)
    chosen = make_class_balanced_split(samples, percent=1, seed=3)
    per_class = Counter(label for _, label in chosen)
    assert len(chosen) == 97 and set(per_class.values()) == {9, 10}  # round(1 % of 9,700), as even as possible
    assert make_class_balanced_split(samples, percent=1, seed=3) == chosen
    assert make_class_balanced_split(samples, percent=1, seed=4) != chosen
    tiny = make_class_balanced_split(synthetic_samples({0: 50, 1: 50, 2: 50}), percent=1)
    assert Counter(label for _, label in tiny) == {0: 1, 1: 1, 2: 1}  # at least one a class


def test_too_few_images_or_bad_arguments_raise() -> None:
    samples = synthetic_samples({0: 20, 1: 5})
    with pytest.raises(ValueError, match='class 1: 6 wanted, 5 available'):
        make_class_balanced_split(samples, per_class=6)
    with pytest.raises(ValueError, match='exactly one'):
        make_class_balanced_split(samples, percent=1, per_class=2)
    with pytest.raises(ValueError, match='percent'):
        make_class_balanced_split(samples, percent=0)


def test_digits_fewshot_splits(digits_root: Path, tmp_path: Path) -> None:
    train = set(read_split(digits_root / 'meta' / 'train.txt'))
    val = set(read_split(digits_root / 'meta' / 'val.txt'))
    one, ten, thirteen = (
        read_split(digits_root / 'meta' / name)
        for name in ('train_1percent.txt', 'train_10percent.txt', 'train_13perclass.txt')
    )
    assert len(one) == 14 and len(ten) == 144  # round(1 % / 10 % of 1,437)
    assert set(Counter(label for _, label in one)) == set(range(10))  # every digit at least once
    assert set(Counter(label for _, label in ten).values()) == {14, 15}
    assert Counter(label for _, label in thirteen) == dict.fromkeys(range(10), 13)  # as many as ImageNet's 1 %
    for split in (one, ten, thirteen):
        assert set(split) <= train and not set(split) & val
    copy = tmp_path / 'copy'
    (copy / 'meta').mkdir(parents=True)
    (copy / 'meta' / 'train.txt').write_text((digits_root / 'meta' / 'train.txt').read_text())
    assert write_fewshot_splits(copy) == {
        'train_1percent.txt': 14,
        'train_10percent.txt': 144,
        'train_13perclass.txt': 130,
    }
    assert read_split(copy / 'meta' / 'train_1percent.txt') == one  # same seed, same split
    assert read_split(copy / 'meta' / 'train_13perclass.txt') == thirteen


def test_images_per_class(tmp_path: Path) -> None:
    path = tmp_path / 'split.txt'
    write_split(path, synthetic_samples({0: 3, 2: 1, 3: 4}))
    size = images_per_class(path)
    assert (size.images, size.classes, size.min, size.max, size.mean) == (8, 3, 1, 4, 8 / 3)
    assert str(size) == '8 images, 1-4 (mean 2.7) a class over 3 classes'
    size = images_per_class(path, num_classes=5)  # classes 1 and 4 hold none
    assert (size.images, size.classes, size.min, size.max, size.mean) == (8, 5, 0, 4, 1.6)
    write_split(path, synthetic_samples({0: 2, 1: 2}))
    assert str(images_per_class(path)) == '4 images, 2 a class over 2 classes'
    with pytest.raises(ValueError, match='holds label 1, but num_classes is 1'):
        images_per_class(path, num_classes=1)
    path.write_text('\n')
    with pytest.raises(ValueError, match='holds no images'):
        images_per_class(path)


def test_mmpretrain_custom_dataset_reads_a_split(digits_root: Path) -> None:
    dataset = CustomDataset(data_root=str(digits_root), ann_file='meta/train_1percent.txt', data_prefix='')
    expected = read_split(digits_root / 'meta' / 'train_1percent.txt')
    assert len(dataset) == len(expected)
    for i, (rel_path, label) in enumerate(expected):
        info = dataset.get_data_info(i)
        assert Path(info['img_path']) == digits_root / rel_path and Path(info['img_path']).is_file()
        assert info['gt_label'] == label
