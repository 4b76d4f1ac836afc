"""The study's executor (lgp.study.execute): finished jobs are never run again, a changed setting is refused, an
interrupted job's folder is cleared, a failed tool run stops the study with its output."""

import json
from pathlib import Path

import pytest

from lgp.study import SpecMismatchError, StudyExecutor, last_scalar
from lgp.study.plan import FROZEN_EVAL, PRETRAIN, RANDOM_INIT, Job, StudyPlan

REPO = Path(__file__).resolve().parents[2]


def counting_plan(calls: list[str]) -> tuple[StudyPlan, dict]:
    """Two rows of two in-process jobs each (a 'pre-training' and its 'evaluation'), recording each call."""
    jobs = []
    for row in ('a', 'b'):
        jobs.append(Job(f'{PRETRAIN}/{row}/seed0', RANDOM_INIT, dict(row=row)))
        jobs.append(Job(f'{FROZEN_EVAL}/{row}/seed0', FROZEN_EVAL, dict(row=row), (f'{PRETRAIN}/{row}/seed0',)))

    def pretrain(job, folder, results):
        calls.append(job.key)
        (folder / 'weights.txt').write_text(job.spec['row'])
        return dict(checkpoint=str(folder / 'weights.txt'))

    def evaluate(job, folder, results):
        calls.append(job.key)
        return dict(top1=len(Path(results[job.deps[0]]['checkpoint']).read_text()))

    return StudyPlan(jobs, [0], [], []), {RANDOM_INIT: pretrain, FROZEN_EVAL: evaluate}


def test_a_second_run_skips_every_finished_job(tmp_path):
    calls, lines = [], []
    plan, functions = counting_plan(calls)
    first = StudyExecutor(plan, tmp_path, REPO, in_process=functions, log=lines.append).run()
    assert calls == [job.key for job in plan.jobs]
    assert first[f'{FROZEN_EVAL}/a/seed0'] == {'top1': 1}
    stored = json.loads((tmp_path / PRETRAIN / 'a' / 'seed0' / 'result.json').read_text())
    assert stored['spec'] == {'row': 'a'} and stored['seconds'] >= 0

    calls.clear()
    second = StudyExecutor(plan, tmp_path, REPO, in_process=functions, log=lines.append).run()
    assert calls == []
    assert second == first
    assert any('4 of 4 jobs already finished' in line for line in lines)


def test_an_interrupted_study_runs_only_what_did_not_finish(tmp_path):
    calls = []
    plan, functions = counting_plan(calls)
    StudyExecutor(plan, tmp_path, REPO, in_process=functions, log=lambda _: None).run()
    # b's evaluation "was interrupted": no result, a partial file left behind
    unfinished = tmp_path / FROZEN_EVAL / 'b' / 'seed0'
    (unfinished / 'result.json').unlink()
    (unfinished / 'partial.txt').write_text('half')
    calls.clear()
    StudyExecutor(plan, tmp_path, REPO, in_process=functions, log=lambda _: None).run()
    assert calls == [f'{FROZEN_EVAL}/b/seed0']
    assert not (unfinished / 'partial.txt').exists()


def test_a_finished_job_with_other_settings_is_refused(tmp_path):
    plan, functions = counting_plan([])
    StudyExecutor(plan, tmp_path, REPO, in_process=functions, log=lambda _: None).run()
    changed = StudyPlan([Job(f'{PRETRAIN}/a/seed0', RANDOM_INIT, dict(row='a', epochs=3))], [0], [], [])
    with pytest.raises(SpecMismatchError, match='(?s)other settings.*delete .*pretrain/a/seed0'):
        StudyExecutor(changed, tmp_path, REPO, in_process=functions, log=lambda _: None).run()


def test_progress_lines_count_the_jobs_and_estimate_the_time_left(tmp_path):
    lines = []
    plan, functions = counting_plan([])
    StudyExecutor(plan, tmp_path, REPO, in_process=functions, log=lines.append).run()
    progress = [line for line in lines if line.startswith('[')]
    assert [line.split(']')[0] for line in progress] == ['[1/4', '[2/4', '[3/4', '[4/4']
    assert 'after the first job' in progress[0] and 'min left' in progress[1]


def test_a_failed_training_run_stops_the_study_with_its_output(tmp_path):
    job = Job(
        f'{PRETRAIN}/broken/seed0',
        PRETRAIN,
        dict(config='configs/study/mae_vit_nano_digits.py', seed=0, data_root=str(tmp_path / 'no-data'),
             options={}, init_option=None),
    )  # fmt: skip
    executor = StudyExecutor(StudyPlan([job], [0], [], []), tmp_path, REPO, log=lambda _: None)
    with pytest.raises(RuntimeError, match=r'(?s)failed \(exit code \d+\).*no-data.*run the same command again'):
        executor.run()
    assert not (tmp_path / PRETRAIN / 'broken' / 'seed0' / 'result.json').exists()


def test_last_scalar_reads_the_last_logged_value(tmp_path):
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    records = [{'loss': 1.0, 'step': 1}, {'accuracy/top1': 50.0, 'step': 2}, {'accuracy/top1': 75.0, 'step': 3}]
    (vis / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in records))
    assert last_scalar(tmp_path, 'accuracy/top1') == 75.0
    with pytest.raises(KeyError, match='accuracy/top5'):
        last_scalar(tmp_path, 'accuracy/top5')
