# Linear-probe sweep of an LGP ViT-B/16 on ImageNet-1k, as the original release's main_lincls_sweep.py: 70 probes
# (parameter-free BatchNorm + linear each) trained in one pass over the frozen features, lr = b x 10^s x batch / 256 for
# b in (1, 3, 5, 7, 9) and s in -5..1, times weight decay in (0, 1e-6); SGD momentum 0.9, cosine over 90 epochs. The
# metric reports every probe's top-1 and the best probe's top-1 / top-5 / lr / wd (chosen on the val set, as the
# original). Each probe gets its own lr and wd through GraftedOptimWrapperConstructor's custom_keys (relative to the
# optimiser's lr 12 and a reference weight decay 1e-6; see lgp/models/heads/multi_linear_probe_head.py).
#
#   tools/dist_train.sh configs/benchmarks/linear-sweep_lgp-vit-b_8xb128-90e_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-b/epoch_300.pth
#
# The encoder comes from `pretrained` below; override it with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
from mmengine.config import read_base
from mmpretrain.models import CrossEntropyLoss

from lgp.evaluation import MultiHeadAccuracy
from lgp.models.heads import MultiLinearProbeHead

with read_base():
    from .._base_.default_runtime import *
    from ._base_.datasets.imagenet_linear import *
    from ._base_.models.lgp_vit_b_linear import *
    from ._base_.schedules.linear_sgd_coslr_90e import *

pretrained = 'checkpoints/lgp_vit-b.pth'
model.backbone.init_cfg.checkpoint = pretrained

# the original grid, lrs at batch 256; probe k = (lr index k // 2, wd index k % 2)
sweep_lrs = [b * s for s in (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0) for b in (1, 3, 5, 7, 9)]
sweep_wds = [0.0, 1e-6]
probe_lrs = [lr * 1024 / 256 for lr in sweep_lrs for wd in sweep_wds]  # at batch 1024, auto_scale_lr's base
probe_wds = [wd for lr in sweep_lrs for wd in sweep_wds]
reference_wd = 1e-6

model.head = dict(
    type=MultiLinearProbeHead,
    num_classes=num_classes,
    in_channels=768,
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
default_hooks.checkpoint.update(interval=10, max_keep_ckpts=2, save_best='multi_head/top1', rule='greater')
