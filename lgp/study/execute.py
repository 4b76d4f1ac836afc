"""Run a study's jobs: resumable, a progress line per job with the time left, several at once if asked.

Every job writes ``<work dir>/<key>/result.json`` (``spec``, ``result``, ``seconds``) when, and only when, it has
finished, so an interrupted study loses at most the jobs that were running. On the next start a finished job with the
same spec is skipped; one whose spec differs stops the study (its result would belong to another setting), and a folder
without a result (an interrupted job) is cleared and its job run again. Training and the analyses run as the project's
own tools in subprocesses (their output in ``<key>/output.log``); the random initialisation and the frozen-encoder
columns run in this process.
"""

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from mmengine.logging import MMLogger

from .plan import ATTENTION_DISTANCE, FIGURE1, FINETUNE, PRETRAIN, Job, StudyPlan

RESULT = 'result.json'


class SpecMismatchError(RuntimeError):
    """A finished job in the work dir was made with other settings than the study asks for now."""


def _option_args(options: dict[str, Any]) -> list[str]:
    return [f'{k}={v}' for k, v in options.items()]


def _last_checkpoint(work_dir: Path) -> Path:
    checkpoints = sorted(work_dir.glob('epoch_*.pth'), key=lambda p: int(p.stem.split('_')[1]))
    if not checkpoints:
        raise FileNotFoundError(f'{work_dir} holds no epoch_*.pth checkpoint after training.')
    return checkpoints[-1]


def last_scalar(work_dir: Path, name: str) -> float:
    """The last value of ``name`` that an mmengine run in ``work_dir`` logged (``*/vis_data/scalars.json``)."""
    values = []
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            record = json.loads(line)
            if name in record:
                values.append(record[name])
    if not values:
        raise KeyError(f'No {name!r} was logged in {work_dir}/*/vis_data/scalars.json.')
    return values[-1]


class StudyExecutor:
    """Runs a :class:`StudyPlan` in ``work_dir``.

    Args:
        plan: the jobs.
        work_dir: where every job's folder goes.
        repo: the project root (its ``tools/`` run the subprocesses).
        jobs: how many jobs may run at once; each then gets ``cpu_count // jobs`` threads.
        in_process: how the in-process kinds run, ``{kind: fn(job, work_dir, results) -> result}``.
        log: where progress lines go.
    """

    def __init__(
        self,
        plan: StudyPlan,
        work_dir: Path,
        repo: Path,
        jobs: int = 1,
        in_process: dict[str, Callable[[Job, Path, dict], dict]] | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        if jobs < 1:
            raise ValueError(f'jobs must be at least 1, got {jobs}.')
        self.plan, self.work_dir, self.repo, self.jobs = plan, work_dir, repo, jobs
        self.in_process = in_process or {}
        self.log = log
        self.threads = max(1, (os.cpu_count() or 1) // jobs)
        self.results: dict[str, dict] = {}
        self.seconds: dict[str, float] = {}
        self.started = 0

    # -- resume ---------------------------------------------------------------------------------------------------
    def finished(self, job: Job) -> dict | None:
        """The stored result of ``job`` if it finished with the same spec; raises if it finished with another."""
        path = self.work_dir / job.key / RESULT
        if not path.is_file():
            return None
        stored = json.loads(path.read_text())
        if stored['spec'] != json.loads(json.dumps(job.spec)):
            raise SpecMismatchError(
                f'{path} was made with other settings:\n  stored: {stored["spec"]}\n  now:    {job.spec}\n'
                f'Use another --work-dir, or delete {path.parent} to run it again with the new settings.'
            )
        self.seconds[job.key] = stored['seconds']
        return stored['result']

    def _store(self, job: Job, result: dict, seconds: float) -> None:
        path = self.work_dir / job.key / RESULT
        tmp = path.with_suffix('.tmp')
        tmp.write_text(json.dumps(dict(spec=job.spec, result=result, seconds=seconds), indent=1))
        tmp.replace(path)  # atomic: a result file is always whole
        self.results[job.key], self.seconds[job.key] = result, seconds

    # -- subprocess jobs ------------------------------------------------------------------------------------------
    def command(self, job: Job) -> list[str]:
        """The tool command line that runs ``job``."""
        spec, folder = job.spec, self.work_dir / job.key
        python = [sys.executable]
        if job.kind == PRETRAIN:
            options = {'randomness.seed': spec['seed'], 'train_dataloader.dataset.data_root': spec['data_root']}
            if spec['init_option']:
                options[spec['init_option']] = self.results[job.deps[0]]['checkpoint']
            options.update(spec['options'])
            return [*python, 'tools/train.py', spec['config'], '--work-dir', str(folder), '--cfg-options',
                    *_option_args(options)]  # fmt: skip
        if job.kind == FINETUNE:
            options = {
                'randomness.seed': spec['seed'],
                'model.backbone.init_cfg.checkpoint': self.results[job.deps[0]]['checkpoint'],
                **{f'{s}_dataloader.dataset.data_root': spec['data_root'] for s in ('train', 'val', 'test')},
                **spec['options'],
            }
            return [*python, 'tools/train.py', spec['config'], '--work-dir', str(folder), '--cfg-options',
                    *_option_args(options)]  # fmt: skip
        if job.kind == FIGURE1:
            return [*python, 'tools/analysis_tools/gradient_conflict.py', spec['config'],
                    self.results[job.deps[0]]['checkpoint'], '--num-batches', str(spec['num_batches']),
                    '--batch-size', str(spec['batch_size']), '--device', 'cpu', '--out-dir', str(folder),
                    '--cfg-options', f'train_dataloader.dataset.data_root={spec["data_root"]}']  # fmt: skip
        if job.kind == ATTENTION_DISTANCE:
            models = []
            for model, dep in zip(spec['models'], job.deps, strict=True):
                models += ['--model', model['label'], model['config'], self.results[dep]['checkpoint']]
            roots = [f'{s}_dataloader.dataset.data_root={spec["data_root"]}' for s in ('val', 'test')]
            return [*python, 'tools/analysis_tools/attention_distance.py', spec['data_config'], *models,
                    '--num-images', str(spec['num_images']), '--device', 'cpu', '--out-dir', str(folder),
                    '--cfg-options', *roots]  # fmt: skip
        raise ValueError(f'No command runs a {job.kind!r} job.')

    def collect(self, job: Job) -> dict:
        """The result of a finished subprocess job, read from what its tool wrote."""
        folder = self.work_dir / job.key
        if job.kind == PRETRAIN:
            return dict(checkpoint=str(_last_checkpoint(folder)))
        if job.kind == FINETUNE:
            return dict(top1=last_scalar(folder, 'accuracy/top1'), checkpoint=str(_last_checkpoint(folder)))
        name = 'gradient_conflict.json' if job.kind == FIGURE1 else 'attention_distance.json'
        return dict(json.loads((folder / name).read_text()), files=sorted(p.name for p in folder.iterdir()))

    # -- the loop -------------------------------------------------------------------------------------------------
    def _eta(self, left_jobs: list[Job]) -> str:
        """The time ``left_jobs`` will take: each at the mean duration of the finished jobs of its kind (of all
        finished jobs for a kind none has finished yet), divided among the parallel jobs."""
        if not self.seconds:
            return 'time left known after the first job'
        by_kind: dict[str, list[float]] = {}
        for key, seconds in self.seconds.items():
            by_kind.setdefault(self.plan.job(key).kind, []).append(seconds)
        overall = [s for values in by_kind.values() for s in values]
        left = sum(statistics.fmean(by_kind.get(job.kind, overall)) for job in left_jobs)
        return f'about {left / 60 / self.jobs:.0f} min left'

    def run(self) -> dict[str, dict]:
        """Run every unfinished job; returns ``{key: result}`` of all jobs."""
        start = time.time()
        torch.set_num_threads(self.threads)  # the in-process jobs share the cores with the subprocesses
        # mmengine's logger binds its stream when first created: create it here, on the real stdout, and not inside
        # an in-process job whose stdout (progress bars) goes to the job's log file and is closed afterwards
        MMLogger.get_current_instance()
        pending = []
        for job in self.plan.jobs:
            result = self.finished(job)
            if result is None:
                pending.append(job)
            else:
                self.results[job.key] = result
        total, skipped = len(self.plan.jobs), len(self.plan.jobs) - len(pending)
        self.started = skipped
        if skipped:
            self.log(f'{skipped} of {total} jobs already finished in {self.work_dir}: reused, not run again.')
        running: dict[str, tuple[subprocess.Popen, float, Any]] = {}
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        try:
            while pending or running:
                ready = [j for j in pending if all(d in self.results for d in j.deps)]
                local = [j for j in ready if j.kind in self.in_process]
                # with in-process jobs waiting, one slot is kept for them (this process runs them one at a time)
                slots = self.jobs - len(running) - (1 if local and self.jobs > 1 else 0)
                for job in [j for j in ready if j.kind not in self.in_process][: max(slots, 0)]:
                    pending.remove(job)
                    self._progress(job, total, start, pending, running)
                    folder = self._prepare(job)
                    out = (folder / 'output.log').open('w')
                    process = subprocess.Popen(
                        self.command(job), cwd=self.repo, stdout=out, stderr=subprocess.STDOUT, env=env
                    )
                    running[job.key] = (process, time.time(), out)
                if local and len(running) < self.jobs:  # a free slot: run one in-process job, then look again
                    job = local[0]
                    pending.remove(job)
                    self._progress(job, total, start, pending, running)
                    folder = self._prepare(job)
                    t0 = time.time()
                    with open(folder / 'output.log', 'w') as out, contextlib.redirect_stdout(out):
                        result = self.in_process[job.kind](job, folder, self.results)
                    self._store(job, result, time.time() - t0)
                    self._collect_finished(running)
                    continue
                if not running:
                    if pending:
                        raise RuntimeError(f'No job can start: unmet dependencies of {[j.key for j in pending]}.')
                    break
                self._wait(running)
        except BaseException:
            for process, _, out in running.values():
                process.terminate()
                process.wait()
                out.close()
            raise
        self.log(f'all {total} jobs finished in {self.work_dir} ({(time.time() - start) / 60:.1f} min this time).')
        return self.results

    def _prepare(self, job: Job) -> Path:
        """An empty folder for ``job`` (what an interrupted attempt left there is removed)."""
        folder = self.work_dir / job.key
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def _collect_finished(self, running: dict[str, tuple[subprocess.Popen, float, Any]]) -> bool:
        """Store the results of the running jobs that have ended; raise with its output's tail if one failed."""
        ended = False
        for key, (process, t0, out) in list(running.items()):
            if process.poll() is None:
                continue
            out.close()
            del running[key]
            job = self.plan.job(key)
            if process.returncode != 0:
                log = self.work_dir / key / 'output.log'
                tail = ''.join(log.read_text().splitlines(keepends=True)[-30:])
                raise RuntimeError(
                    f'{job.label} failed (exit code {process.returncode}); the end of {log}:\n{tail}\n'
                    'Finished jobs are kept: run the same command again to go on from here.'
                )
            self._store(job, self.collect(job), time.time() - t0)
            ended = True
        return ended

    def _wait(self, running: dict[str, tuple[subprocess.Popen, float, Any]]) -> None:
        """Block until a running job ends (see :meth:`_collect_finished`)."""
        while not self._collect_finished(running):
            time.sleep(0.2)

    def _progress(self, job: Job, total: int, start: float, pending: list[Job], running: dict) -> None:
        self.started += 1
        left = [job, *pending, *(self.plan.job(k) for k in running)]
        elapsed = (time.time() - start) / 60
        self.log(f'[{self.started}/{total}] {job.label} · {elapsed:.1f} min so far, {self._eta(left)}')
