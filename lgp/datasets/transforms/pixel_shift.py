"""CMAE's pixel-shifting two views (Contrastive Masked Autoencoders, Huang et al., 2022).

CMAE takes both views of an image from one master crop, so that they overlap almost entirely: the online view (the
one that is masked and reconstructed) is the ``size x size`` corner of the master crop at offset (0, 0), without
colour augmentation; the target view is the ``size x size`` crop at a random offset ``(dy, dx)``, each drawn
uniformly from the integers ``0..max_shift``, and then colour-augmented. The master crop comes from the transforms
before this one (RandomResizedCrop to ``size + max_shift + 1`` or more, horizontal flip). Shapes: a master image
``(H, W, C)`` uint8 with ``H, W > size + max_shift`` gives two ``(size, size, C)`` uint8 views.

The official recipe crops the master to 256 and takes views of 224 with shifts of up to 31 px. At CPU size, scale
everything in proportion: the nano digits twin (224 -> 32, 1/7) uses a master of 37 (256 / 7 ~ 36.6), views of 32
and shifts of up to 4 (31 / 7 ~ 4.4); 32 + 4 < 37.
"""

from collections.abc import Sequence

import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmcv.transforms.utils import cache_randomness
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PixelShiftViews(BaseTransform):
    """Cut CMAE's online and target views out of one master crop, the target shifted by a few pixels.

    **Required keys:** ``img`` (the master crop, ``(H, W, C)`` uint8 with ``H, W > size + max_shift``).

    **Modified keys:** ``img`` becomes ``[online, target]``, two contiguous ``(size, size, C)`` arrays (mmpretrain's
    ``PackInputs`` packs them as a list of two ``(C, size, size)`` tensors, as it does ``MultiView``'s output);
    ``img_shape`` becomes ``(size, size)``.

    **Added keys:** ``pixel_shift``: the target's offset ``(dy, dx)`` in the master crop.

    The offset comes from numpy's global RNG, like mmcv's and mmpretrain's transforms, so mmengine's seeding of the
    data-loader workers covers it.

    Args:
        size: side of both views, in pixels.
        max_shift: largest offset of the target view on each axis; offsets are drawn from ``0..max_shift``.
        target_transforms: configs of the colour augmentation applied to the target view only, after the shift.
    """

    def __init__(self, size: int, max_shift: int, target_transforms: Sequence[dict] = ()) -> None:
        if size < 1 or max_shift < 0:
            raise ValueError(
                f'PixelShiftViews needs size >= 1 and max_shift >= 0, got size={size}, max_shift={max_shift}.'
            )
        self.size = size
        self.max_shift = max_shift
        self.target_transforms = Compose([TRANSFORMS.build(t) for t in target_transforms])

    @cache_randomness
    def _draw_offset(self) -> tuple[int, int]:
        """The target view's offset ``(dy, dx)``, each uniform on ``0..max_shift``, drawn independently."""
        dy, dx = np.random.randint(0, self.max_shift + 1, size=2)
        return int(dy), int(dx)

    def transform(self, results: dict) -> dict | None:
        master = results['img']
        height, width = master.shape[:2]
        needed = self.size + self.max_shift + 1
        if height < needed or width < needed:
            raise ValueError(
                f'PixelShiftViews: the master crop ({height}x{width}) is too small for views of {self.size} shifted '
                f'by up to {self.max_shift} px: each side must be at least size + max_shift + 1 = {needed}. Make the '
                f'preceding RandomResizedCrop at least {needed} (scale={needed} or more).'
            )
        dy, dx = self._draw_offset()
        size = self.size
        online = np.ascontiguousarray(master[:size, :size])
        target = np.ascontiguousarray(master[dy : dy + size, dx : dx + size])
        augmented = self.target_transforms(dict(results, img=target, img_shape=(size, size)))
        if augmented is None:  # a target transform dropped the sample
            return None
        results['img'] = [online, np.ascontiguousarray(augmented['img'])]
        results['img_shape'] = (size, size)
        results['pixel_shift'] = (dy, dx)
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(size={self.size}, max_shift={self.max_shift}, '
            f'target_transforms={self.target_transforms})'
        )
