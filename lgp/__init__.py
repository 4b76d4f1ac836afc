"""lgp: Layer Grafted Pre-training of Vision Transformers, composed from mmengine, mmpretrain and mmseg parts.

``import lgp`` applies the compatibility fixes of :mod:`lgp.compat` and registers lgp's modules with mmpretrain's
and mmseg's registries, so configs and scripts of either library can use them.
"""

from . import compat

compat.apply()

from . import datasets, engine, evaluation, models  # noqa: E402  (registration needs the fixes above)

__version__ = '0.1.0'
__all__ = ['compat', 'datasets', 'engine', 'evaluation', 'models', '__version__']
