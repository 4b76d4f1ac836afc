# The paper's study on the digits (tools/study.py): every Table 1 row, Layer Grafted Pre-training and a random-
# initialisation reference, over seeds; the frozen-encoder columns, fine-tuning, Figure 1, the mean attention distance
# and the lr search. Every pre-training shares one optimiser setting (AdamW lr 1e-3 at batch 64, the row configs);
# step-2 runs keep the paper's proportions (100 epochs of step 2 against 300 of MoCo v3: 5 against 15).
# A method joins the study by adding a row here (or in a config that derives from this one).
#   python tools/study.py configs/study/table1_digits.py [--quick] [--lr-search] [--seeds 3]

from mmengine.config import read_base

with read_base():
    from .._base_.models.conmim_vit_b import beit_style

# where the data is, and how tools/study.py writes it if it is missing ('digits': from scikit-learn)
data = dict(root='data/digits', prepare='digits')
seeds = 3

# key: folder name; name: in the table; config: the pre-training (None: the random initialisation, no pre-training);
# init: the row whose checkpoint (same seed) the run starts from, set through the config option ``option``;
# encoder: backbone options of an encoder built otherwise than the evaluation configs' LGPViT (ConMIM's BEiT style),
# applied to every evaluation of the row; paper: ViT-B/16 on ImageNet-1k (docs/recipes.md); made: how the row was
# made, for the report.
rows = [
    dict(key='random', name='random init', config=None, made='no pre-training: the initialisation of the encoder'),
    dict(
        key='mae',
        name='MIM (MAE)',
        config='configs/study/mae_vit_nano_digits.py',
        paper={'linear': 68.0, '1% few-shot': 51.1, 'fine-tune': 83.6},
        made='MAE from scratch (paper: 1600 epochs)',
    ),
    dict(
        key='mocov3',
        name='CL (MoCo v3)',
        config='configs/study/mocov3_vit_nano_digits.py',
        paper={'linear': 76.7, '1% few-shot': 63.4, 'fine-tune': 83.2},
        made='MoCo v3 from scratch (paper: 300 epochs)',
    ),
    dict(
        key='mtl',
        name='MTL combination',
        config='configs/study/mtl_vit_nano_digits.py',
        paper={'linear': 68.4, '1% few-shot': 47.6, 'fine-tune': 81.0},
        made='L_MIM + L_CL on one encoder from scratch (paper: 300 epochs)',
    ),
    dict(
        key='cl2mim',
        name='CL -> MIM grafting',
        config='configs/study/graft_cl2mim_vit_nano_digits.py',
        init=dict(row='mocov3', option='model.backbone.init_cfg.checkpoint'),
        paper={'linear': 65.5, '1% few-shot': 32.5, 'fine-tune': 82.5},
        made='MAE from the MoCo v3 row, embeddings and blocks 0-3 of 6 frozen (paper: 100 epochs)',
    ),
    dict(
        key='mim2cl_frozen',
        name='MIM -> CL grafting, lower fixed',
        config='configs/study/graft_mim2cl_frozen_vit_nano_digits.py',
        init=dict(row='mae', option='model.step1.checkpoint'),
        paper={'linear': 74.5, '1% few-shot': 56.5, 'fine-tune': 83.6},
        made='MoCo v3 from the MAE row, cls_token and blocks 0-3 of 6 frozen (paper: 100 epochs)',
    ),
    dict(
        key='lgp',
        name='Layer Grafted (lower at 0.1x)',
        config='configs/study/grafted_vit_nano_digits.py',
        init=dict(row='mae', option='model.step1.checkpoint'),
        paper={'1% few-shot': 65.5},
        made='MoCo v3 from the MAE row, cls_token and blocks 0-3 of 6 at 0.1x the lr (paper: 300 epochs)',
    ),
    # CMAE (Huang et al., 2022), which trains MIM and CL jointly, and Layer Grafted Pre-training with CMAE as step 1
    # in place of MAE.
    dict(
        key='cmae',
        name='CMAE',
        config='configs/study/cmae_vit_nano_digits.py',
        paper={'fine-tune': 84.7},
        made="CMAE from scratch, as long as the MAE row (paper: CMAE's own, 1600 epochs, fine-tune only)",
    ),
    dict(
        key='lgp_cmae',
        name='Layer Grafted from CMAE',
        config='configs/study/grafted_vit_nano_digits.py',
        init=dict(row='cmae', option='model.step1.checkpoint'),
        made='MoCo v3 from the CMAE row, cls_token and blocks 0-3 of 6 at 0.1x the lr',
    ),
    # ConMIM (Yi et al., ICLR 2023), MIM as patch-level contrast inside each image, its encoder in BEiT's style (hence
    # ``encoder``), with the random initialisation of that encoder as its reference; Layer Grafted Pre-training with
    # ConMIM as step 1; and a miniature of the paper's ablations. Its paper's numbers: ViT-B/16 fine-tuning after 300
    # epochs (ConMIM's own).
    dict(
        key='random_beit',
        name='random init, BEiT style',
        config=None,
        encoder=beit_style,
        made="no pre-training: the initialisation of ConMIM's encoder (no absolute positions, a zero relative bias)",
    ),
    dict(
        key='conmim',
        name='ConMIM',
        config='configs/study/conmim_vit_nano_digits.py',
        encoder=beit_style,
        paper={'fine-tune': 83.5},
        made="ConMIM from scratch, as long as the MAE row (paper: ConMIM's own, 300 epochs, fine-tune only)",
    ),
    dict(
        key='lgp_conmim',
        name='Layer Grafted from ConMIM',
        config='configs/study/grafted_conmim_vit_nano_digits.py',
        init=dict(row='conmim', option='model.step1.checkpoint'),
        encoder=beit_style,
        made='MoCo v3 from the ConMIM row, cls_token and blocks 0-3 of 6 at 0.1x the lr',
    ),
    dict(
        key='conmim_instance',
        name='ConMIM, instance-level contrast',
        config='configs/study/conmim_instance_vit_nano_digits.py',
        encoder=beit_style,
        paper={'fine-tune': 82.26},
        made='ConMIM with the mean token of each image contrasted across the batch (ablation)',
    ),
    dict(
        key='conmim_switched',
        name='ConMIM, perturbations switched',
        config='configs/study/conmim_switched_vit_nano_digits.py',
        encoder=beit_style,
        paper={'fine-tune': 82.62},
        made='ConMIM with the strong perturbation on the corrupted view, the basic one on the full view (ablation)',
    ),
    dict(
        key='conmim_noslow',
        name='ConMIM, no slow model',
        config='configs/study/conmim_noslow_vit_nano_digits.py',
        encoder=beit_style,
        paper={'fine-tune': 81.53},
        made='ConMIM with the keys from the online model (no EMA; ablation)',
    ),
]

# Columns read on the frozen encoder (CLS token after the final norm, test transform): a logistic regression with an
# L2 penalty on the features of each split file, lambda swept, top-1 on val. ImageNet's 1 % holds 12-13 images a
# class; 1 % of the digits holds 1-2, so "13 a class" measures what the paper's 1 % column does.
frozen_eval = dict(
    config='configs/benchmarks/linear_lgp-vit-nano_digits.py',
    splits={
        'linear': 'meta/train.txt',
        '1% few-shot': 'meta/train_1percent.txt',
        '13 a class': 'meta/train_13perclass.txt',
        '10% few-shot': 'meta/train_10percent.txt',
    },
)
# The fine-tuning column: all weights, one recipe for every row (docs/recipes.md).
finetune = dict(config='configs/benchmarks/finetune_lgp-vit-nano_digits.py', column='fine-tune')

# Figure 1: C_MIM,CL per sample and block on the first seed's MTL model.
figure1 = dict(row='mtl', num_batches=16, batch_size=16)
# Mean attention distance of every pre-trained row (first seed) on the first val images.
attention_distance = dict(num_images=256)
# The lr search of the paper on the Layer Grafted row (first seed): lower blocks' lr multiplier x split point.
lr_search = dict(
    row='lgp',
    lower_lr_mults=[0.0, 0.01, 0.03, 0.1, 0.3, 1.0],
    lower_blocks=[2, 4],
    columns=['1% few-shot', '13 a class'],
)

# --quick: one seed, every run at a fifth of its length, a smaller lr grid; every part runs, a report is written.
quick = dict(
    seeds=1,
    schedule_scale=0.2,
    finetune_scale=0.2,
    lr_search=dict(lower_lr_mults=[0.0, 0.1, 1.0], lower_blocks=[2, 4]),
)
del beit_style
