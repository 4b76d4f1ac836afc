"""tools/study.py end to end on a two-row study (the random initialisation and a short MTL run): every job runs, the
report has the table, Figure 1 and the attention distance, and a second start runs nothing."""

import json

STUDY = """
data = dict(root={root!r}, prepare='digits')
seeds = 1
rows = [
    dict(key='random', name='random init', config=None, made='no pre-training'),
    dict(key='mtl', name='MTL combination', config='configs/study/mtl_vit_nano_digits.py',
         paper={{'linear': 68.4, '1% few-shot': 47.6, 'fine-tune': 81.0}}, made='L_MIM + L_CL'),
]
frozen_eval = dict(
    config='configs/benchmarks/linear_lgp-vit-nano_digits.py',
    splits={{'linear': 'meta/train.txt', '13 a class': 'meta/train_13perclass.txt'}},
)
finetune = dict(config='configs/benchmarks/finetune_lgp-vit-nano_digits.py', column='fine-tune')
figure1 = dict(row='mtl', num_batches=2, batch_size=4)
attention_distance = dict(num_images=16)
lr_search = dict(row='mtl', lower_lr_mults=[0.0, 1.0], lower_blocks=[2], columns=['13 a class'])
schedule_scale = 0.1
finetune_scale = 0.1
quick = dict()
"""


def test_the_study_runs_every_job_once_and_writes_its_report(tmp_path, digits_root, run_tool):
    config = tmp_path / 'tiny_study.py'
    config.write_text(STUDY.format(root=str(digits_root)))
    work_dir = tmp_path / 'study'
    first = run_tool(['tools/study.py', str(config), '--work-dir', str(work_dir), '--jobs', '2'])
    assert '[8/8]' in first.stdout  # 2 rows x (pre-training, frozen columns, fine-tuning), Figure 1, attention
    assert 'Logging error' not in first.stdout + first.stderr  # the logger outlives the in-process jobs' log files

    report = (work_dir / 'report.md').read_text()
    table = [line for line in report.splitlines() if line.startswith('| MTL combination |')]
    assert len(table) == 3  # the Table 1 row, how it was made, its attention distance
    cells = table[0].split(' | ')[1:4]  # linear, 13 a class, fine-tune: one seed, no spread
    assert all(0.0 <= float(c) <= 100.0 for c in cells)
    assert '| 13 a class | `meta/train_13perclass.txt` | 130 | 13.0 (13-13) |' in report
    assert (work_dir / 'figure1' / 'gradient_conflict.png').is_file()
    assert (work_dir / 'attention_distance' / 'attention_distance.png').is_file()
    assert '2. The gradients conflict' in report
    study = json.loads((work_dir / 'study.json').read_text())
    assert len(study['jobs']) == 8
    assert study['table']['MTL combination']['fine-tune']['n'] == 1

    second = run_tool(['tools/study.py', str(config), '--work-dir', str(work_dir)])
    assert '8 of 8 jobs already finished' in second.stdout
    assert '] MTL combination, seed 0: pre-training' not in second.stdout
