# Runtime of the mmseg transfer configs: the project's runtime (configs/_base_/default_runtime.py: hooks, env_cfg,
# log level) in mmseg's scope, with iteration-based logging and checkpoints and mmseg's visualiser.
from mmengine.config import read_base
from mmengine.hooks import CheckpointHook, LoggerHook
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.visualization import SegLocalVisualizer

with read_base():
    from ..._base_.default_runtime import *

default_scope = 'mmseg'

default_hooks.logger = dict(type=LoggerHook, interval=50, log_metric_by_epoch=False)
# by iteration; schedules set the interval to their validation interval
default_hooks.checkpoint = dict(type=CheckpointHook, by_epoch=False, interval=16000, max_keep_ckpts=3)
# draws nothing unless draw=True (e.g. --cfg-options default_hooks.visualization.draw=True)
default_hooks.visualization = dict(type=SegVisualizationHook)

log_processor = dict(window_size=10, by_epoch=False)
visualizer = dict(type=SegLocalVisualizer, vis_backends=vis_backends, name='visualizer')
