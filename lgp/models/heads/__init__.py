"""Classification heads for transfer: linear probe, a sweep of linear probes, and the projector-initialised head."""

from .linear_probe_head import LinearProbeHead
from .multi_linear_probe_head import MultiLinearProbeHead
from .projector_cls_head import ProjectorClsHead, read_projector_first_layer

__all__ = ['LinearProbeHead', 'MultiLinearProbeHead', 'ProjectorClsHead', 'read_projector_first_layer']
