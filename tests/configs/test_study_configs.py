"""The study configs (configs/study/): every row's pre-training builds, shares the study's one optimiser setting, and
keeps the paper's step-2 proportions; the Fashion-MNIST study derives from the digits one."""

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

from lgp.engine import load_config

STUDY = Config.fromfile('configs/study/table1_digits.py')
ROWS = [row for row in STUDY.rows if row.config]


@pytest.mark.parametrize('row', ROWS, ids=[row.key for row in ROWS])
def test_every_row_builds_with_the_one_optimiser_setting(row):
    cfg = load_config(row.config)  # sets the default scope: an earlier test may have left mmseg's
    MODELS.build(cfg.model)
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.auto_scale_lr.enable is False


def test_step_2_runs_keep_the_papers_proportions():
    epochs = {row.key: Config.fromfile(row.config).train_cfg.max_epochs for row in ROWS}
    assert epochs['mocov3'] == epochs['mtl'] == epochs['lgp']  # 300 epochs each in the paper
    assert epochs['cl2mim'] * 3 == epochs['mim2cl_frozen'] * 3 == epochs['mocov3']  # 100 against 300
    frozen = Config.fromfile('configs/study/graft_mim2cl_frozen_vit_nano_digits.py')
    assert frozen.model.lower_lr_mult == 0.0
    assert frozen.optim_wrapper.paramwise_cfg.weight_decay_rule == 'all'  # the release without layer-wise lrs


def test_fashion_mnist_study_changes_only_data_seeds_and_scale():
    fashion = Config.fromfile('configs/study/table1_fashion-mnist.py')
    keys = (set(fashion) | set(STUDY)) - {'read_base'}  # the import a derived config holds
    changed = {k for k in keys if fashion.get(k) != STUDY.get(k)}
    assert changed == {'data', 'seeds', 'schedule_scale', 'finetune_scale'}
    assert fashion.data.root == 'data/fashion-mnist'
