"""Reading what a training run logged (a helper module for the tests, not a test file)."""

import json
from pathlib import Path


def logged_scalars(work_dir: Path) -> list[dict]:
    """Every record of every run's ``vis_data/scalars.json`` in ``work_dir``, in time order."""
    records = []
    for path in sorted(work_dir.glob('*/vis_data/scalars.json')):
        records += [json.loads(line) for line in path.read_text().splitlines()]
    return records
