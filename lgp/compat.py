"""Fixes that let the OpenMMLab stack run on current PyTorch; applied once by ``import lgp``.

Each fix works around a specific upstream gap and is a no-op where the gap is absent:

* :func:`install_mmcv_ops_standin`: mmcv-lite ships no compiled ops (``mmcv._ext``), yet mmseg 1.2.2 imports
  ``mmcv.ops`` unguarded (``mmseg/utils/mask_classification.py``, ``models/losses/focal_loss.py``, ...), so
  ``import mmseg.models`` fails with ``No module named 'mmcv._ext'`` (open-mmlab/mmsegmentation#871). Full mmcv
  2.1 cannot be compiled against torch >= 2.2 (C++17 vs the C++20 that ATen needs), so a pure-PyTorch stand-in is
  put in its place.
* :func:`allow_mmengine_checkpoints`: torch >= 2.6 loads with ``weights_only=True`` by default and mmengine 0.10.7
  pickles its message hub into every checkpoint, so ``resume`` fails with ``Unsupported global: GLOBAL
  mmengine.logging.history_buffer.HistoryBuffer`` (open-mmlab/mmengine#1655; the upstream proposal #1650 switches
  ``weights_only`` off, which would let a checkpoint run code). Exactly the globals of mmengine's
  own checkpoints are allow-listed; everything else is still refused.
* :func:`import_mmcv_transformer_quietly`: mmcv-lite's ``mmcv/cnn/bricks/transformer.py`` (imported by mmpretrain and
  mmseg) warns at import that ``MultiScaleDeformableAttention`` needs full mmcv. No lgp model uses that op, and the
  warning would open the output of every tool; that one warning is silenced for that one import, every other warning
  (and that op's own error, should anything call it) is left as it is.
* :func:`fix_mmcv_adjust_hue`: mmcv 2.1's ``adjust_hue`` (used by mmpretrain's ``ColorJitter``, hence by every MoCo v3
  view) shifts the hue with ``np.uint8(hue_factor * 255)``, which numpy >= 2 refuses for a negative factor
  (``OverflowError: Python integer -5 out of bounds for uint8``); torchvision had the same line and fixed it
  (pytorch/vision#8536). The replacement wraps the shift explicitly, as numpy 1 did implicitly.
"""

import importlib.util
import pickle
import sys
import types
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def point_sample(input: torch.Tensor, points: torch.Tensor, align_corners: bool = False, **kwargs: Any) -> torch.Tensor:
    """Sample ``input`` (N, C, H, W) at normalised ``points`` (N, P, 2) or (N, Hp, Wp, 2) in [0, 1].

    The pure-PyTorch path of ``mmcv.ops.point_sample``: bilinear ``grid_sample`` at ``2 * points - 1``.
    Returns (N, C, P) or (N, C, Hp, Wp).
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    output = F.grid_sample(input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return output.squeeze(3) if add_dim else output


class _MissingOp:
    """Placeholder for a compiled mmcv op: importable (mmseg imports some at module level), fails when used."""

    def __init__(self, name: str) -> None:
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise ModuleNotFoundError(
            f'mmcv.ops.{self.__name__} needs the compiled ops of full mmcv (mmcv._ext), and this environment has '
            f'mmcv-lite. Install a full mmcv built for your torch and CUDA to use {self.__name__}.'
        )


class _MmcvOpsStandIn(types.ModuleType):
    """``mmcv.ops`` without compiled ops: ``point_sample`` works, any other op is a :class:`_MissingOp`."""

    point_sample = staticmethod(point_sample)

    def __getattr__(self, name: str) -> _MissingOp:
        if name.startswith('__'):
            raise AttributeError(name)
        return _MissingOp(name)


def install_mmcv_ops_standin() -> bool:
    """Put the stand-in at ``sys.modules['mmcv.ops']`` when mmcv's compiled ops are missing.

    Returns whether it was installed. A compiled mmcv (``mmcv._ext`` importable) is left untouched.
    """
    if 'mmcv.ops' in sys.modules or importlib.util.find_spec('mmcv._ext') is not None:
        return False
    import mmcv

    standin = _MmcvOpsStandIn('mmcv.ops', __doc__)
    sys.modules['mmcv.ops'] = standin
    mmcv.ops = standin
    return True


# What mmengine's message hub pickles: the statistics methods of HistoryBuffer, referenced as getattr(cls, name).
_HISTORY_BUFFER_METHODS = frozenset({'min', 'max', 'mean', 'current', 'data'})


def _mmengine_getattr(obj: Any, name: str) -> Any:
    """``builtins.getattr`` as seen by the safe unpickler: only ``HistoryBuffer.<statistic>`` is admitted."""
    from mmengine.logging import HistoryBuffer

    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Refusing getattr({obj!r}, {name!r}) in a checkpoint: lgp only admits HistoryBuffer statistics, as '
        f'pickled by mmengine. Re-save the checkpoint with plain tensors and built-in types.'
    )


def allow_mmengine_checkpoints() -> None:
    """Allow-list for ``torch.load(weights_only=True)`` the globals that mmengine's own checkpoints contain."""
    from mmengine.logging import HistoryBuffer

    torch.serialization.add_safe_globals(
        [
            np.dtype,
            np.ndarray,
            np._core.multiarray._reconstruct,
            np._core.multiarray.scalar,  # numpy scalars in the message hub's runtime info
            # the dtype classes that rebuilding HistoryBuffer's float and int arrays needs
            *(type(np.dtype(name)) for name in ('float64', 'float32', 'float16', 'int64', 'int32', 'bool')),
            HistoryBuffer,
            (_mmengine_getattr, 'builtins.getattr'),
        ]
    )


def import_mmcv_transformer_quietly() -> None:
    """Import ``mmcv.cnn.bricks.transformer`` without its warning about ``MultiScaleDeformableAttention``.

    The filter lives only for the import (``warnings.catch_warnings``), so no warning filter is left installed.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            'ignore', message='Fail to import ``MultiScaleDeformableAttention``', category=UserWarning
        )
        importlib.import_module('mmcv.cnn.bricks.transformer')


def adjust_hue(img: np.ndarray, hue_factor: float, backend: str | None = None) -> np.ndarray:
    """mmcv's ``adjust_hue`` (BGR uint8 image, hue_factor in [-0.5, 0.5]) with the hue shift wrapped explicitly."""
    import cv2
    import mmcv
    from PIL import Image

    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    shift = np.uint8(int(hue_factor * 255) % 256)  # a rotation of the 256 hue levels, as uint8 wrap-around did
    if (backend or mmcv.image.io.imread_backend) == 'pillow':
        h, s, v = Image.fromarray(img[..., ::-1], mode='RGB').convert('HSV').split()
        h = Image.fromarray(np.asarray(h, dtype=np.uint8) + shift, 'L')
        return np.asarray(Image.merge('HSV', (h, s, v)).convert('RGB'), dtype=img.dtype)[..., ::-1]
    h, s, v = cv2.split(cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL))
    return cv2.cvtColor(cv2.merge([h + shift, s, v]), cv2.COLOR_HSV2BGR_FULL).astype(img.dtype)


def fix_mmcv_adjust_hue() -> None:
    """Route ``mmcv.adjust_hue`` (and ``mmcv.image.adjust_hue``) to :func:`adjust_hue`."""
    import mmcv

    mmcv.adjust_hue = mmcv.image.adjust_hue = mmcv.image.photometric.adjust_hue = adjust_hue


def apply() -> None:
    """Apply every fix; safe to call more than once."""
    install_mmcv_ops_standin()
    import_mmcv_transformer_quietly()
    allow_mmengine_checkpoints()
    fix_mmcv_adjust_hue()
