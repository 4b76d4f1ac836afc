"""LGPLoadImageFromFile (lgp.datasets.transforms.loading): a corrupt image is named, or skipped on request, and a
data set with nothing readable fails instead of hanging."""

from pathlib import Path

import pytest
from mmpretrain.datasets import CustomDataset, PackInputs

from lgp.datasets.transforms import CorruptImageError, LGPLoadImageFromFile


def corrupt_copy(digits_root: Path, tmp_path: Path) -> Path:
    """A one-image data set whose image is truncated."""
    line = (digits_root / 'meta/train.txt').read_text().splitlines()[0]
    relative = line.split()[0]
    target = tmp_path / relative
    target.parent.mkdir(parents=True)
    target.write_bytes((digits_root / relative).read_bytes()[:40])
    (tmp_path / 'ann.txt').write_text(line + '\n')
    return target


def test_corrupt_image_is_named(digits_root, tmp_path):
    target = corrupt_copy(digits_root, tmp_path)
    with pytest.raises(CorruptImageError, match=rf'Cannot read image {target}.*skip_corrupt=True'):
        LGPLoadImageFromFile()(dict(img_path=str(target)))
    assert LGPLoadImageFromFile(skip_corrupt=True)(dict(img_path=str(target))) is None


def test_corrupt_image_in_a_data_set_fails_instead_of_hanging(digits_root, tmp_path):
    """With skip_corrupt and nothing readable, mmengine's refetch gives up after max_refetch tries."""
    corrupt_copy(digits_root, tmp_path)
    dataset = CustomDataset(
        data_root=str(tmp_path),
        ann_file='ann.txt',
        data_prefix='',
        max_refetch=5,
        pipeline=[dict(type=LGPLoadImageFromFile, skip_corrupt=True), dict(type=PackInputs)],
    )
    with pytest.raises(Exception, match='Cannot find valid image after 5'):
        dataset[0]
