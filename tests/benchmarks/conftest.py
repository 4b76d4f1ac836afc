"""The momentum schedule of MoCo v3 reads the run length from the message hub, as the runner sets it; the helpers
the benchmark tests share are in benchmark_helpers.py (importable: pytest puts this folder on sys.path)."""

import pytest
from mmengine.logging import MessageHub


@pytest.fixture(autouse=True)
def max_iters():
    MessageHub.get_current_instance().update_info('max_iters', 100)
