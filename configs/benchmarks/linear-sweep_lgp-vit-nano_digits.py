# CPU twin of linear-sweep_lgp-vit-b_8xb128-90e_in1k.py: 16 probes (lr = b x 10^s x batch / 256 for b in (1, 3) and
# s in -2..1, times weight decay in (0, 1e-4)) on the frozen nano LGPViT and the digits, 10 epochs.
#
#   python tools/train.py configs/benchmarks/linear-sweep_lgp-vit-nano_digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-nano_digits/epoch_4.pth
#
# The encoder comes from `pretrained` below; override it with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
from mmengine.config import read_base
from mmpretrain.models import CrossEntropyLoss

from lgp.evaluation import MultiHeadAccuracy
from lgp.models.heads import MultiLinearProbeHead

with read_base():
    from .._base_.default_runtime import *
    from ._base_.datasets.digits_linear import *
    from ._base_.models.lgp_vit_b_linear import *
    from ._base_.schedules.linear_sgd_coslr_90e import *

pretrained = 'work_dirs/grafted_vit-nano_digits/epoch_4.pth'
model.backbone.update(arch='nano', img_size=32, patch_size=4, frozen_stages=6)
model.backbone.init_cfg.checkpoint = pretrained

sweep_lrs = [b * s for s in (1e-2, 1e-1, 1.0, 10.0) for b in (1, 3)]  # at batch 256
sweep_wds = [0.0, 1e-4]
probe_lrs = [lr * 1024 / 256 for lr in sweep_lrs for wd in sweep_wds]  # at batch 1024, auto_scale_lr's base
probe_wds = [wd for lr in sweep_lrs for wd in sweep_wds]
reference_wd = 1e-4

model.head = dict(
    type=MultiLinearProbeHead,
    num_classes=num_classes,
    in_channels=48,
    lrs=probe_lrs,
    weight_decays=probe_wds,
    loss=dict(type=CrossEntropyLoss),
)
optim_wrapper.optimizer.weight_decay = reference_wd
optim_wrapper.paramwise_cfg = dict(
    custom_keys={
        f'head.probes.{k}.': dict(lr_mult=probe_lrs[k] / base_lr, decay_mult=probe_wds[k] / reference_wd)
        for k in range(len(probe_lrs))
    }
)
val_evaluator = dict(type=MultiHeadAccuracy, topk=(1, 5), lrs=probe_lrs, weight_decays=probe_wds)
test_evaluator = val_evaluator
max_epochs = 10
param_scheduler[0].update(T_max=max_epochs, end=max_epochs)
train_cfg.update(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks.logger.interval = 10
default_hooks.checkpoint.update(interval=max_epochs, max_keep_ckpts=1)
randomness = dict(seed=0)
