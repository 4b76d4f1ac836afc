"""The paper's study in one command (``tools/study.py``): a study config's rows over seeds, their evaluation,
Figure 1, the attention distance and the lr search, run as resumable jobs and written up as one report."""

from .execute import SpecMismatchError, StudyExecutor, last_scalar
from .plan import Job, StudyPlan, make_plan, scaled_schedule
from .report import write_report
from .steps import IN_PROCESS

__all__ = [
    'IN_PROCESS',
    'Job',
    'SpecMismatchError',
    'StudyExecutor',
    'StudyPlan',
    'last_scalar',
    'make_plan',
    'scaled_schedule',
    'write_report',
]
