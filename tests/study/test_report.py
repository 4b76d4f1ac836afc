"""The study's report (lgp.study.report): mean +- std per cell, differences counted only beyond the spread, the lr
search's verdict and heat map, and the written Markdown and JSON."""

import json
import statistics

import pytest
from mmengine.config import Config

from lgp.study import make_plan, write_report
from lgp.study.plan import FINETUNE, FROZEN_EVAL
from lgp.study.report import cell, compare, lr_search_sentence, table


def test_cell_is_the_mean_and_sample_std():
    c = cell([90.0, 92.0, 97.0])
    assert c['mean'] == pytest.approx(93.0)
    assert c['std'] == pytest.approx(statistics.stdev([90.0, 92.0, 97.0]))  # n - 1 in the denominator
    assert c['std'] == pytest.approx((((-3) ** 2 + (-1) ** 2 + 4**2) / 2) ** 0.5)
    assert cell([80.0])['std'] == 0.0


def test_a_difference_counts_only_beyond_the_larger_std():
    a, b = cell([90.0, 92.0]), cell([88.0, 88.0])  # a: mean 91, std 1.41
    assert compare(a, b) == 1 and compare(b, a) == -1
    assert compare(cell([90.0, 92.0]), cell([89.5, 90.5])) == 0  # 1.0 apart, std 1.41 and 0.71
    assert compare(cell([90.0, 92.0]), cell([89.5, 89.5])) == 1  # 1.5 apart > 1.41


def test_lr_search_sentence_compares_the_best_small_multiplier_with_both_ends():
    cells = [
        dict(lower_blocks=4, lower_lr_mult=m, top1={'13 a class': v})
        for m, v in ((0.0, 70.0), (0.1, 74.0), (0.3, 72.0), (1.0, 71.0))
    ] + [
        dict(lower_blocks=2, lower_lr_mult=m, top1={'13 a class': v})
        for m, v in ((0.0, 75.0), (0.1, 73.0), (1.0, 71.0))
    ]
    sentence = lr_search_sentence(cells, '13 a class')
    assert 'lower 4 blocks: the best small multiplier (0.1x, 74.0) beats both freezing (70.0)' in sentence
    assert 'lower 2 blocks: the best small multiplier (0.1x, 73.0) does not beat both freezing (75.0)' in sentence


def fake_results(plan, top1):
    """Results as the jobs would store them, with top-1 = top1(row, seed, column)."""
    results = {}
    for job in plan.jobs:
        row, seed = (job.key.split('/')[1], int(job.key.split('seed')[-1])) if '/seed' in job.key else (None, 0)
        if job.kind == FROZEN_EVAL:
            results[job.key] = {c: dict(top1=top1(row, seed, c)) for c in job.spec['splits']}
        elif job.kind == FINETUNE:
            results[job.key] = dict(top1=top1(row, seed, 'fine-tune'))
        elif job.kind == 'figure1':
            block = dict(n=4, median=0.1, q1=-0.1, q3=0.2, mean=0.05, negative_share=0.25)
            results[job.key] = dict(
                summary=[dict(block, block=b) for b in range(6)],
                trend=dict(sentence='The conflict does not grow with depth here.'),
            )
        elif job.kind == 'attention_distance':
            results[job.key] = dict(
                summary=[dict(method=m['label'], block=b, mean=10.0 + b) for m in job.spec['models'] for b in range(6)]
            )
        else:
            results[job.key] = dict(checkpoint='unused')
    return results


def test_report_writes_the_table_the_claims_and_every_job(tmp_path):
    study = Config.fromfile('configs/study/table1_digits.py')
    study.data.root = 'data/digits'
    from lgp.datasets import write_digits_imagenet

    study.data.root = str(tmp_path / 'digits')
    write_digits_imagenet(study.data.root)
    plan = make_plan(study, seeds=[0, 1], lr_search=dict(study.lr_search, lower_lr_mults=[0.0, 0.1, 1.0]))
    offsets = {row.key: i for i, row in enumerate(study.rows)}
    results = fake_results(plan, lambda row, seed, column: 50.0 + offsets.get(row, 0) + 2 * seed)
    for job in plan.jobs:  # what the pre-training runs log: the loss, and the kNN monitor's top-1 (the MAE row)
        if job.kind == 'pretrain' and job.spec['seed'] == 0:
            scalars = tmp_path / job.key / '20260101_000000' / 'vis_data' / 'scalars.json'
            scalars.parent.mkdir(parents=True)
            records = [dict(iter=i, loss=1.0 / i) for i in range(1, 4)]
            records += [{'knn/top1': 50.0 + i, 'step': i} for i in range(4)] if '/mae/' in job.key else []
            scalars.write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    paths = write_report(study, plan, results, {j.key: 1.0 for j in plan.jobs}, tmp_path, 'python tools/study.py')
    text = paths['md'].read_text()
    assert '![training curves](training_curves.png)' in text
    assert (tmp_path / 'training_curves.png').stat().st_size > 0
    # MAE is row 1: 51 and 53 over the two seeds -> 52.0 +- 1.4; its paper numbers beside
    assert '| MIM (MAE) | 52.0 ± 1.4 | 52.0 ± 1.4 | 52.0 ± 1.4 | 52.0 ± 1.4 | 52.0 ± 1.4 | 68.0 | 51.1 | 83.6 |' in text
    assert '| 13 a class | `meta/train_13perclass.txt` | 130 | 13.0 (13-13) |' in text
    assert '![Figure 1](figure1/gradient_conflict.png)' in text and '![lr search](lr_search.png)' in text
    assert '1. MTL fails to beat either loss alone. Here MTL vs MAE: linear above' in text  # 2 points > std 1.4
    assert '4. The order matters' in text and '5. A small lr' in text
    assert paths['lr_search'].stat().st_size > 0
    payload = json.loads(paths['json'].read_text())
    assert set(payload['jobs']) == {job.key for job in plan.jobs}
    assert payload['table']['MIM (MAE)']['linear']['values'] == [51.0, 53.0]
    assert table(plan, results, 'fine-tune')['lgp']['fine-tune']['mean'] == pytest.approx(57.0)
