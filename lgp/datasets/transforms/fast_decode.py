"""Reduced-size JPEG decoding for RandomResizedCrop: decode no more pixels than the crop needs.

A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size for less work (libjpeg's DCT scaling: the inverse DCT of each
8 x 8 block yields 4 x 4, 2 x 2 or 1 x 1 pixels; OpenCV's ``IMREAD_REDUCED_COLOR_{2,4,8}``). RandomResizedCrop
throws most decoded pixels away: a crop box of ``h x w`` pixels is resized to ``scale``; when the box is at least
``d x`` the output on both axes, its image in a ``1/d`` decode still has at least as many pixels as the output (how
close the result comes to the reference is below). The crop needs the image's size before the decode, so the work is
split in two pipeline steps that sit where mmcv's loading and mmpretrain's crop sit (derived configs that index the
pipeline keep working):

* :class:`LoadEncodedImage` (in place of ``LGPLoadImageFromFile``) reads the file and parses its header:
  ``results['img']`` is an :class:`EncodedImage`, ``(H, W, 3)`` by its ``shape`` (EXIF orientation applied, as
  OpenCV's decoder applies it), its pixels not decoded;
* :class:`DecodeRandomResizedCrop` (in place of mmpretrain's ``RandomResizedCrop``, the same arguments) draws the
  crop box with mmpretrain's own ``rand_crop_params`` on that shape (the same code and numpy calls: the same box for
  the same seed), decodes at the largest reduction ``d`` in (1, 2, 4, 8) with ``box >= decode_margin * d * scale``
  on both axes (JPEG only; other formats at full size), maps the box to the reduced image (its edges rounded to the
  nearest reduced pixel) and crops and resizes as mmpretrain does (``mmcv.imcrop``, ``mmcv.imresize`` with the
  configured interpolation and backend). Given a decoded array it is mmpretrain's ``RandomResizedCrop``.

Decoding goes through ``mmcv.imfrombytes(..., backend='cv2')`` as mmcv's loading does: BGR channel order (the data
preprocessor's ``to_rgb`` turns it to RGB), grayscale and CMYK files converted to 3-channel BGR by OpenCV. At ``d = 1``
the output is the reference pipeline's, bit for bit. At ``d > 1`` it is not the reference's distribution: two
low-pass steps (the DCT scaling, then the resize) soften the crop more than the one resize of the full image does;
colour and contrast keep their distribution, the sharpness does not (tests/datasets/test_fast_decode.py). So this is
an option for CPU-bound loaders, not the configs' default; benchmarks/README.md has what it gains
(``data_pipeline.py``).

MultiView pipelines (MoCo v3's two crops of one image) share one :class:`EncodedImage` between the views (its
``deepcopy`` is itself; its decoded arrays are read-only): a view reuses a decode at its own reduction or a finer one,
else decodes at its own.
"""

import io

import cv2
import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log
from mmpretrain.datasets import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS
from PIL import ExifTags, Image

from .loading import CorruptImageError, LGPLoadImageFromFile

#: OpenCV's decode flag for each reduction d (the decoded image is ceil(H / d) x ceil(W / d)).
REDUCED_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
#: EXIF orientations that turn the image by 90 degrees (its decoded height is the stored width).
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


class EncodedImage:
    """An image file's bytes and header, decoded on request at 1, 1/2, 1/4 or 1/8 of its size.

    Attributes:
        content: the file's bytes.
        shape: ``(H, W, 3)``, the shape OpenCV's full decode gives (EXIF orientation applied).
        is_jpeg: whether reduced decoding applies (other formats decode at full size only).
        path: the file, for error messages.
        skip_corrupt: the loader's choice for a file whose pixels cannot be decoded: skip it (``True``) or stop.
    """

    def __init__(self, content: bytes, path: str, skip_corrupt: bool = False) -> None:
        with Image.open(io.BytesIO(content)) as header:  # parses the header only
            width, height = header.size
            self.is_jpeg = header.format == 'JPEG'
            if header.getexif().get(ExifTags.Base.Orientation, 1) in TRANSPOSING_ORIENTATIONS:
                width, height = height, width
        self.content, self.path, self.shape, self.skip_corrupt = content, path, (height, width, 3), skip_corrupt
        self._decoded: dict[int, np.ndarray] = {}

    def decode(self, reduction: int) -> tuple[np.ndarray, int]:
        """The image at ``1 / reduction`` of its size or finer: ``(img, d)``, ``img`` ``(ceil(H / d), ceil(W / d),
        3)`` uint8 BGR, read-only. Reuses an earlier decode at ``d <= reduction`` (the coarsest such)."""
        done = [d for d in self._decoded if d <= reduction]
        if done:
            d = max(done)
            return self._decoded[d], d
        d = reduction if self.is_jpeg else 1
        flag = 'color' if d == 1 else REDUCED_FLAGS[d]  # 'color': mmcv's LoadImageFromFile's own call
        img = mmcv.imfrombytes(self.content, flag=flag, backend='cv2')
        if img is None:
            raise CorruptImageError(
                f'Cannot decode image {self.path} (its header reads, its pixels do not). Remove it from the annotation '
                'file or data folder, or set skip_corrupt=True on LoadEncodedImage to skip unreadable images.'
            )
        img.flags.writeable = False
        self._decoded[d] = img
        return img, d

    def __deepcopy__(self, memo: dict) -> 'EncodedImage':
        """Itself: the views of a MultiView share the file and its decodes (both immutable)."""
        return self

    def __array__(self, *args, **kwargs) -> np.ndarray:
        raise TypeError(
            f'{self.path} is not decoded yet: LoadEncodedImage must be followed by DecodeRandomResizedCrop (or use '
            'LGPLoadImageFromFile for pipelines that need the whole image).'
        )

    def __repr__(self) -> str:
        return f'EncodedImage({self.path!r}, shape={self.shape}, jpeg={self.is_jpeg})'


class _ReadHeader(MMCVLoadImageFromFile):
    """mmcv's loading without the decode: ``results['img']`` is the file's :class:`EncodedImage` (a mixin of
    :class:`LoadEncodedImage`, whose ``skip_corrupt`` it hands on and whose error handling wraps it)."""

    def transform(self, results: dict) -> dict:
        filename = results['img_path']
        image = EncodedImage(fileio.get(filename, backend_args=self.backend_args), filename, self.skip_corrupt)
        results['img'] = image
        results['img_shape'] = results['ori_shape'] = image.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadEncodedImage(LGPLoadImageFromFile, _ReadHeader):
    """``LGPLoadImageFromFile`` that reads the file and its header but leaves the decode to the crop after it.

    **Required keys:** ``img_path``. **Added keys:** ``img`` (an :class:`EncodedImage`), ``img_shape`` and
    ``ori_shape`` (``(H, W)`` of the full decode). A file whose header cannot be read raises
    :class:`CorruptImageError` here, one whose pixels cannot be decoded in the crop; with ``skip_corrupt=True``
    either is skipped instead (a warning names it), as in ``LGPLoadImageFromFile``.

    Args:
        skip_corrupt: drop unreadable images instead of stopping.
        backend_args: mmengine's file backend arguments.
    """

    def __init__(self, skip_corrupt: bool = False, backend_args: dict | None = None) -> None:
        super().__init__(skip_corrupt=skip_corrupt, backend_args=backend_args)


@TRANSFORMS.register_module()
class DecodeRandomResizedCrop(RandomResizedCrop):
    """mmpretrain's ``RandomResizedCrop`` that decodes an :class:`EncodedImage` at the largest reduction the crop
    allows (see the module docstring); on a decoded array, mmpretrain's ``RandomResizedCrop`` itself.

    **Required keys:** ``img`` (an :class:`EncodedImage` or an ``(H, W, C)`` array). **Modified keys:** ``img``
    (``(scale_h, scale_w, 3)`` uint8 BGR), ``img_shape``.

    Args:
        decode_margin: the reduced crop box must be at least ``decode_margin`` times the output on both axes
            (1.0: no fewer decoded pixels than the output has; larger values decode finer and soften less).
        **kwargs: those of mmpretrain's ``RandomResizedCrop`` (``scale``, ``crop_ratio_range``, ...).
    """

    def __init__(self, *args, decode_margin: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if decode_margin < 1:
            raise ValueError(
                f'decode_margin must be at least 1 (got {decode_margin}): below 1 a crop box could hold fewer decoded '
                'pixels than the output.'
            )
        self.decode_margin = decode_margin

    def reduction(self, box_h: int, box_w: int) -> int:
        """The largest ``d`` in (1, 2, 4, 8) with ``(box_h, box_w) >= decode_margin * d * scale`` on both axes."""
        out_h, out_w = self.scale
        fits = [d for d in REDUCED_FLAGS if min(box_h / out_h, box_w / out_w) >= self.decode_margin * d]
        return max(fits, default=1)

    def transform(self, results: dict) -> dict | None:
        encoded = results['img']
        if not isinstance(encoded, EncodedImage):
            return super().transform(results)
        top, left, box_h, box_w = self.rand_crop_params(encoded)  # reads encoded.shape, as it reads an array's
        try:
            img, d = encoded.decode(self.reduction(box_h, box_w))
        except CorruptImageError as err:
            if not encoded.skip_corrupt:
                raise
            print_log(f'Skipping unreadable image: {err}', 'current', level=30)
            return None
        # the box's edges in the reduced image: pixel i there covers pixels [i d, (i + 1) d) of the full image
        x0, y0, x1, y1 = (int(v / d + 0.5) for v in (left, top, left + box_w, top + box_h))
        img = mmcv.imcrop(img, bboxes=np.array([x0, y0, x1 - 1, y1 - 1]))
        img = mmcv.imresize(img, tuple(self.scale[::-1]), interpolation=self.interpolation, backend=self.backend)
        results['img'] = img
        results['img_shape'] = img.shape
        return results

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, decode_margin={self.decode_margin})'
