# Runtime shared by every lgp config: hooks, environment, logging and visualisation.
from mmengine.hooks import CheckpointHook, DistSamplerSeedHook, IterTimerHook, LoggerHook, ParamSchedulerHook
from mmengine.visualization import LocalVisBackend
from mmpretrain.visualization import UniversalVisualizer

from lgp.engine import EpochSeedHook, StrictRunner

default_scope = 'mmpretrain'
# load_from / resume refuse checkpoints that do not fit the model (mmengine's Runner loads them non-strictly)
runner_type = StrictRunner

default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=100),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(type=CheckpointHook, interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type=DistSamplerSeedHook),
    # reseed per epoch: a run resumed at an epoch boundary draws what an uninterrupted one would
    epoch_seed=dict(type=EpochSeedHook),
)

# tools/train.py and tools/test.py switch the backend to gloo when no GPU is present.
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(window_size=10, by_epoch=True)

vis_backends = [dict(type=LocalVisBackend)]
visualizer = dict(type=UniversalVisualizer, vis_backends=vis_backends)
# TensorBoard as well (`pip install tensorboard`; event files beside scalars.json in <work_dir>/<time>/vis_data/):
# in a config deriving from this one, `from mmengine.visualization import TensorboardVisBackend`, then
#     visualizer.vis_backends.append(dict(type=TensorboardVisBackend))
# (not `vis_backends.append`: the visualizer holds its own copy of the list). On the command line,
# `--cfg-options visualizer.vis_backends.0.type=TensorboardVisBackend` logs to TensorBoard instead of scalars.json.

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
