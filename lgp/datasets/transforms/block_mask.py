"""BEiT's block-wise mask (Bao et al., 2022; used as is by ConMIM), with blocks that reach every row and column.

mmpretrain 1.2's ``BEiTMaskGenerator`` ports BEiT's block placement ``top = random.randint(0, H - h)`` (Python's
``randint``: both ends included) as ``np.random.randint(0, H - h)`` (numpy's: the upper end excluded). Its blocks
therefore never cover the last row or the last column of the patch grid: on ImageNet's 14 x 14 grid the bottom row
and right column of patches (27 of 196) are never masked, on the digits' 8 x 8 grid 15 of 64. ``BlockMaskGenerator``
places the blocks as BEiT does (``top`` in ``0..H - h``, ``left`` in ``0..W - w``) and keeps everything else of
mmpretrain's version: the arguments, numpy's global RNG (seeded by mmengine in each data-loader worker) and exactly
``num_masking_patches`` masked patches per image. (BEiT's and ConMIM's own loop gives up once ten attempts add
nothing, so about a third of their 14 x 14 masks stop short of 75: 64-75, mean 74.5; mmpretrain's, and this one,
keep drawing blocks until the count is exact.)
"""

import math

import numpy as np
from mmpretrain.datasets import BEiTMaskGenerator
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class BlockMaskGenerator(BEiTMaskGenerator):
    """mmpretrain's ``BEiTMaskGenerator`` with BEiT's block placement: blocks may touch the last row and column.

    **Added keys:** ``mask``: ``(H, W)`` int64 (numpy's default int), 1 at the masked patches, exactly
    ``num_masking_patches`` of them; mmpretrain's ``PackInputs`` puts it in the data sample as ``mask`` (a tensor).

    Args: those of mmpretrain's ``BEiTMaskGenerator``: ``input_size`` (the patch grid, an int or ``(H, W)``),
    ``num_masking_patches``, ``min_num_patches`` and ``max_num_patches`` (the area of one block, ``None``: up to
    ``num_masking_patches``), ``min_aspect`` and ``max_aspect`` (of a block; ``None``: ``1 / min_aspect``).
    """

    def _mask(self, mask: np.ndarray, max_mask_patches: int) -> int:
        """Add one block of at most ``max_mask_patches`` new patches to ``mask`` (in place); return how many."""
        delta = 0
        for _ in range(10):
            target_area = np.random.uniform(self.min_num_patches, max_mask_patches)
            aspect_ratio = math.exp(np.random.uniform(*self.log_aspect_ratio))
            h = int(round(math.sqrt(target_area * aspect_ratio)))
            w = int(round(math.sqrt(target_area / aspect_ratio)))
            if w < self.width and h < self.height:
                top = np.random.randint(0, self.height - h + 1)  # BEiT: random.randint(0, H - h), both ends
                left = np.random.randint(0, self.width - w + 1)
                block = mask[top : top + h, left : left + w]
                new = h * w - int(block.sum())
                if 0 < new <= max_mask_patches:
                    block[...] = 1
                    delta += new
                if delta > 0:
                    break
        return delta
