"""Image loading that names the file it cannot read."""

from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS


class CorruptImageError(OSError):
    """An image file that exists but cannot be read or decoded."""


@TRANSFORMS.register_module()
class LGPLoadImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with a clear error for unreadable files, or an explicit skip.

    mmcv reports a corrupt file with a bare ``assert`` (gone under ``python -O``) or re-raises the decoder's error
    without the file name. Here either case raises :class:`CorruptImageError` naming the file. With
    ``skip_corrupt=True`` the sample is dropped instead (a warning names the file) and mmengine's dataset draws
    another one; mmengine gives up after ``max_refetch`` consecutive failures (1000 by default), so a data set of
    unreadable files fails rather than hangs.

    Args:
        skip_corrupt: drop unreadable images instead of stopping.
        **kwargs: those of mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, skip_corrupt: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.skip_corrupt = skip_corrupt

    def transform(self, results: dict) -> dict | None:
        filename = results['img_path']
        try:
            loaded = super().transform(results)
        except (AssertionError, OSError, ValueError) as err:
            loaded, reason = None, f'{type(err).__name__}: {err}'
        else:
            reason = 'the file is empty' if loaded is None else ''
        if loaded is not None:
            return loaded
        if self.skip_corrupt:
            print_log(f'Skipping unreadable image {filename} ({reason}).', 'current', level=30)
            return None
        raise CorruptImageError(
            f'Cannot read image {filename} ({reason}). Remove it from the annotation file or data folder, or set '
            'skip_corrupt=True on LGPLoadImageFromFile to skip unreadable images.'
        )
