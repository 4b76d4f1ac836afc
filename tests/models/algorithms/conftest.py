"""The momentum schedule of every algorithm test reads the run length from the message hub, as the runner sets it."""

import pytest
from mmengine.logging import MessageHub


@pytest.fixture(autouse=True)
def max_iters():
    MessageHub.get_current_instance().update_info('max_iters', 100)
