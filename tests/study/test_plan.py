"""The study's plan (lgp.study.plan): the jobs of every row and seed with their dependencies, the schedule scaling and
the lr-search grid."""

import pytest
from mmengine.config import Config

from lgp.study import make_plan, scaled_schedule
from lgp.study.plan import FINETUNE, FROZEN_EVAL, PRETRAIN, RANDOM_INIT

STUDY = 'configs/study/table1_digits.py'


@pytest.fixture(scope='module')
def study() -> Config:
    return Config.fromfile(STUDY)


def test_every_row_and_seed_is_pretrained_evaluated_and_fine_tuned(study):
    plan = make_plan(study, seeds=[0, 1, 2])
    keys = [job.key for job in plan.jobs]
    assert len(keys) == len(set(keys))
    for seed in (0, 1, 2):
        for row in study.rows:
            pretrain = plan.job(f'{PRETRAIN}/{row.key}/seed{seed}')
            assert pretrain.kind == (RANDOM_INIT if row.config is None else PRETRAIN)
            assert plan.job(f'{FROZEN_EVAL}/{row.key}/seed{seed}').deps == (pretrain.key,)
            assert plan.job(f'{FINETUNE}/{row.key}/seed{seed}').deps == (pretrain.key,)
    # a grafted row starts from its step-1 row's checkpoint of the same seed, set through its own option
    lgp_row = plan.job(f'{PRETRAIN}/lgp/seed2')
    assert lgp_row.deps == (f'{PRETRAIN}/mae/seed2',) and lgp_row.spec['init_option'] == 'model.step1.checkpoint'
    cl2mim = plan.job(f'{PRETRAIN}/cl2mim/seed1')
    assert cl2mim.deps == (f'{PRETRAIN}/mocov3/seed1',)
    assert cl2mim.spec['init_option'] == 'model.backbone.init_cfg.checkpoint'
    # every dependency comes earlier in the list
    seen = set()
    for job in plan.jobs:
        assert set(job.deps) <= seen, job.key
        seen.add(job.key)
    assert plan.columns == ['linear', '1% few-shot', '13 a class', '10% few-shot', 'fine-tune']


def test_figure1_and_attention_distance_read_the_first_seed(study):
    plan = make_plan(study, seeds=[3, 4])
    assert plan.job('figure1').deps == (f'{PRETRAIN}/mtl/seed3',)
    attention = plan.job('attention_distance')
    assert attention.deps == tuple(f'{PRETRAIN}/{r.key}/seed3' for r in study.rows if r.config)
    assert [m['label'] for m in attention.spec['models']] == [r.name for r in study.rows if r.config]


def test_scaled_schedule_keeps_a_warm_up_shorter_than_the_run():
    cfg = Config.fromfile('configs/study/mae_vit_nano_digits.py')  # 20 epochs, 2 of warm-up
    assert scaled_schedule(cfg, 1.0) == {}
    assert scaled_schedule(cfg, 0.25) == {
        'train_cfg.max_epochs': 5,
        'param_scheduler.0.end': 1,
        'param_scheduler.1.begin': 1,
    }
    short = Config.fromfile('configs/study/graft_cl2mim_vit_nano_digits.py')  # 5 epochs, 1 of warm-up
    options = scaled_schedule(short, 0.1)
    assert options['train_cfg.max_epochs'] == 2 and options['param_scheduler.0.end'] == 1
    finetune = Config.fromfile('configs/benchmarks/finetune_lgp-vit-nano_digits.py')
    assert (
        scaled_schedule(finetune, 0.5)['train_cfg.val_interval']
        == scaled_schedule(finetune, 0.5)['train_cfg.max_epochs']
    )


def test_lr_grid_reuses_the_row_and_runs_multiplier_one_once(study):
    grid = dict(study.lr_search)
    plan = make_plan(study, seeds=[0], lr_search=grid)
    cells = plan.lr_grid
    assert len(cells) == len(grid['lower_lr_mults']) * len(grid['lower_blocks'])
    by_cell = {(c['lower_blocks'], c['lower_lr_mult']): c for c in cells}
    # the row's own setting (blocks 0-3 at 0.1x) is the row's run
    assert by_cell[(4, 0.1)]['pretrain'] == f'{PRETRAIN}/lgp/seed0'
    assert by_cell[(4, 0.1)]['evaluation'] == f'{FROZEN_EVAL}/lgp/seed0'
    # at multiplier 1 every split point trains the same way: one run
    assert by_cell[(2, 1.0)]['pretrain'] == by_cell[(4, 1.0)]['pretrain']
    # the other cells are runs of their own with the row's config, their options and the row's step 1
    frozen_2 = plan.job(by_cell[(2, 0.0)]['pretrain'])
    assert frozen_2.spec['config'] == 'configs/study/grafted_vit_nano_digits.py'
    assert frozen_2.spec['options'] == {'model.lower_blocks': 2, 'model.lower_lr_mult': 0.0}
    assert frozen_2.deps == (f'{PRETRAIN}/mae/seed0',)
    grid_runs = {c['pretrain'] for c in cells}
    assert len(grid_runs) == len(cells) - 1  # one run serves both split points at multiplier 1
    assert all(plan.job(c['evaluation']).deps == (c['pretrain'],) for c in cells)


def test_rows_must_start_from_an_earlier_row(study):
    rows = list(study.rows)
    lgp_row = next(r for r in rows if r.key == 'lgp')
    broken = Config(dict(study.to_dict(), rows=[lgp_row, *[r for r in rows if r.key != 'lgp']]))
    with pytest.raises(ValueError, match="starts from row 'mae', which is not an earlier row"):
        make_plan(broken, seeds=[0])


def test_a_row_with_its_own_encoder_has_it_in_every_evaluation_and_other_rows_are_unchanged(study):
    plan = make_plan(study, seeds=[0])
    conmim = next(r for r in study.rows if r.key == 'conmim')
    assert conmim.encoder['rel_pos_bias'] is True
    assert plan.job(f'{FROZEN_EVAL}/conmim/seed0').spec['encoder'] == conmim.encoder
    finetune = plan.job(f'{FINETUNE}/conmim/seed0').spec['options']
    assert {k: v for k, v in finetune.items() if k.startswith('model.backbone.')} == {
        f'model.backbone.{k}': v for k, v in conmim.encoder.items()
    }
    # a row without one keeps the spec it had before rows could name an encoder (finished jobs stay reusable)
    assert 'encoder' not in plan.job(f'{FROZEN_EVAL}/mae/seed0').spec
    assert not any(k.startswith('model.backbone.') for k in plan.job(f'{FINETUNE}/mae/seed0').spec['options'])
