# CPU twin of upernet_lgp-vit-b_8xb2-160k_ade20k-512x512.py: the same model, pipeline and schedule shapes on the nano
# LGPViT (48 dims, 6 blocks, patch 4) and the 64x64 digits segmentation set (10 classes, ADE20K's layout and label
# convention), a few hundred iterations, fp32 with the plain OptimWrapper (tools/train.py --amp adds bf16 autocast).
#   python tools/dataset_converters/digits_to_ade20k.py data/digits_ade
#   python tools/train.py configs/segmentation/upernet_lgp-vit-nano_digits-seg.py
#   python tools/test.py configs/segmentation/upernet_lgp-vit-nano_digits-seg.py WORK_DIR/iter_200.pth
from mmengine.config import read_base
from mmengine.optim import OptimWrapper

with read_base():
    from ._base_.datasets.digits_ade20k import *
    from ._base_.default_runtime import *
    from ._base_.models.upernet_lgp_vit_b import *
    from ._base_.schedules.adamw_layer_decay_160k import *

# an lgp pre-training checkpoint of the nano LGPViT: the last one of configs/grafted_vit-nano_digits.py (trained at
# 32 px: its position embedding is resized from 8x8 to 16x16 patches on load), online encoder, strict key checking
pretrained = 'work_dirs/grafted_vit-nano_digits/epoch_4.pth'
val_interval = 100

num_classes = 10
model.data_preprocessor.size = crop_size
model.backbone.update(
    arch='nano',
    img_size=64,
    patch_size=4,
    out_indices=[1, 2, 3, 5],
    init_cfg=dict(type='Pretrained', checkpoint=pretrained, source='auto', encoder='online'),
)
model.neck.update(in_channels=[48, 48, 48, 48], out_channels=48)
model.decode_head.update(in_channels=[48, 48, 48, 48], channels=32, num_classes=num_classes)
model.auxiliary_head.update(in_channels=48, channels=32, num_classes=num_classes)
# 48-px windows at stride 32: 4 overlapping windows per 64x64 image
model.test_cfg = dict(mode='slide', crop_size=(48, 48), stride=(32, 32))

optim_wrapper.type = OptimWrapper
optim_wrapper.pop('dtype')
optim_wrapper.optimizer.lr = 1e-3
param_scheduler[0].end = param_scheduler[1].begin = 20
train_cfg.update(max_iters=200, val_interval=val_interval)
default_hooks.checkpoint.interval = val_interval
default_hooks.logger.interval = 10
auto_scale_lr.base_batch_size = 8
randomness = dict(seed=0, diff_rank_seed=True)
