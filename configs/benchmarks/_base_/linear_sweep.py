# The linear-probe sweep of the original release's main_lincls_sweep.py, wired into a frozen LGP ViT-B/16: 70 linear
# probes on the CLS feature (no BatchNorm: the release's default) trained in one pass over the frozen features,
# lr = b x 10^s x batch / 256 for b in (1, 3, 5, 7, 9) and s in -5..1, times weight decay in (0, 1e-6) on every probe
# tensor, plain SGD (no momentum), cosine. Each probe gets its own lr and weight decay through
# GraftedOptimWrapperConstructor's custom_keys (relative to the optimiser's lr 12 and a reference weight decay 1e-6;
# see lgp/models/heads/multi_linear_probe_head.py); the metric reports every probe's
# top-1 and the best probe's top-1 / top-5 / lr / wd (chosen on the val set, as the original).
from mmengine.config import read_base
from mmpretrain.models import CrossEntropyLoss

from lgp.evaluation import MultiHeadAccuracy
from lgp.models.heads import MultiLinearProbeHead

with read_base():
    from .models.lgp_vit_b_linear import *
    from .schedules.linear_sgd_coslr_90e import *

# the original grid, lrs at batch 256; probe k = (lr index k // 2, wd index k % 2)
sweep_lrs = [b * s for s in (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0) for b in (1, 3, 5, 7, 9)]
sweep_wds = [0.0, 1e-6]
probe_lrs = [lr * 1024 / 256 for lr in sweep_lrs for wd in sweep_wds]  # at batch 1024, auto_scale_lr's base
probe_wds = [wd for lr in sweep_lrs for wd in sweep_wds]
reference_wd = 1e-6

model.head = dict(
    type=MultiLinearProbeHead,
    num_classes=1000,
    in_channels=768,
    lrs=probe_lrs,
    weight_decays=probe_wds,
    loss=dict(type=CrossEntropyLoss),
)
optim_wrapper.optimizer.update(momentum=0.0, weight_decay=reference_wd)
optim_wrapper.paramwise_cfg.weight_decay_rule = 'all'
optim_wrapper.paramwise_cfg.custom_keys = {
    f'head.probes.{k}.': dict(lr_mult=probe_lrs[k] / base_lr, decay_mult=probe_wds[k] / reference_wd)
    for k in range(len(probe_lrs))
}
val_evaluator = dict(type=MultiHeadAccuracy, topk=(1, 5), lrs=probe_lrs, weight_decays=probe_wds)
test_evaluator = val_evaluator
