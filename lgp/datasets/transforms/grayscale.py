"""mmcv's ``RandomGrayscale``, computed without its float64 ``(H, W, C)`` temporary: the same output, bit for bit.

mmcv forms ``(weights * img).sum(axis=2)``: a float64 product of the whole image, then a reduction over its short
last axis, which numpy runs as a slow strided loop (about 1 ms for a 224 x 224 image on one core). The weighted sum
here is the same float64 products added in the same order, ``((w_0 x_0 + w_1 x_1) + w_2 x_2)``, one channel plane at a
time (about 0.2 ms), so every pixel rounds and truncates to the same uint8.
"""

import numpy as np
from mmcv.transforms import RandomGrayscale
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LGPRandomGrayscale(RandomGrayscale):
    """mmcv's ``RandomGrayscale`` (the same arguments, the same draw from Python's ``random``, the same output) for
    ``(H, W, C)`` BGR or RGB images with one weight per channel; anything else goes to mmcv's own code.

    **Required keys:** ``img``. **Modified keys:** ``img`` (uint8; ``(H, W, C)`` with ``keep_channels``, else
    ``(H, W)`` when converted).
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        if self.color_format == 'hsv' or img.ndim != 3 or not 1 < img.shape[2] == len(self.channel_weights):
            return super().transform(results)
        if self._random_prob() < self.prob:
            weights = np.array(self.channel_weights) / sum(self.channel_weights)
            gray = img[..., 0] * weights[0]
            for channel in range(1, img.shape[2]):
                gray += img[..., channel] * weights[channel]
            gray = gray.astype(np.uint8)
            results['img'] = np.repeat(gray[..., None], img.shape[2], axis=2) if self.keep_channels else gray
        else:
            results['img'] = img.astype(np.uint8)
        return results
