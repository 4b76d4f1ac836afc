"""lgp.utils.progress: whole, throttled lines with the final one always written when the stream is not a terminal;
mmengine's bar, on the stream of the moment, when it is."""

import contextlib
import io
import re

import pytest

from lgp.utils import Progress, track
from lgp.utils import progress as progress_module

LINE = re.compile(r'^(?P<label>.+): (?P<done>\d+)/(?P<total>\d+) \((?P<percent>\d+)%\), elapsed \d+s(?:, ETA \d+s)?$')


class Clock:
    """A stand-in for ``time.monotonic`` that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(progress_module, 'monotonic', clock)
    return clock


def parsed_lines(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    assert '\r' not in text and text.endswith('\n')
    lines = text.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    return [LINE.match(line).groupdict() for line in lines]


def test_plain_lines_are_throttled_and_the_final_one_always_written(clock: Clock) -> None:
    stream = io.StringIO()
    with Progress(10, 'features', min_interval=5.0, file=stream) as progress:
        for _ in range(10):
            clock.now += 2.0  # a step every 2 s: a line at most every 5 s, so after steps 3, 6, 9, and the last
            progress.update()
    lines = parsed_lines(stream)
    assert [int(line['done']) for line in lines] == [3, 6, 9, 10]
    assert {line['label'] for line in lines} == {'features'} and {line['total'] for line in lines} == {'10'}
    assert [line['percent'] for line in lines] == ['30', '60', '90', '100']
    assert stream.getvalue().splitlines()[0] == 'features: 3/10 (30%), elapsed 6s, ETA 14s'
    assert stream.getvalue().splitlines()[-1] == 'features: 10/10 (100%), elapsed 20s'  # no ETA when done


def test_a_fast_run_writes_only_the_final_line(clock: Clock) -> None:
    stream = io.StringIO()
    with Progress(360, 'features', min_interval=5.0, file=stream) as progress:
        for _ in range(6):
            progress.update(60)  # batches of 60 images, no time passing
    assert stream.getvalue() == 'features: 360/360 (100%), elapsed 0s\n'


def test_a_run_stopped_short_still_ends_with_a_line(clock: Clock) -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError), Progress(8, 'sweep', min_interval=5.0, file=stream) as progress:
        progress.update(3)
        raise RuntimeError('interrupted')
    assert stream.getvalue() == 'sweep: 3/8 (38%), elapsed 0s\n'


def test_the_interval_comes_from_the_environment(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(progress_module.INTERVAL_ENV, '0')
    stream = io.StringIO()
    for _ in track(range(4), 'images', file=stream):
        pass
    assert [int(line['done']) for line in parsed_lines(stream)] == [1, 2, 3, 4]  # every step, the last once
    monkeypatch.setenv(progress_module.INTERVAL_ENV, 'often')
    with pytest.raises(ValueError, match="LGP_PROGRESS_INTERVAL='often' is not a number of seconds"):
        Progress(4, 'images')


def test_track_yields_every_item_and_counts_each_once_the_next_is_asked_for(clock: Clock) -> None:
    stream = io.StringIO()
    items = iter('abc')
    seen = []
    for item in track(items, 'letters', total=3, min_interval=0.0, file=stream):
        seen.append((item, stream.getvalue().count('\n')))  # lines written before the body of this item
    assert seen == [('a', 0), ('b', 1), ('c', 2)]
    assert [line['done'] for line in parsed_lines(stream)] == ['1', '2', '3']
    with pytest.raises(TypeError, match='give total= for items without a length'):
        next(track(iter('abc'), 'letters'))


def test_it_writes_to_the_stdout_of_the_moment(clock: Clock) -> None:
    redirected = io.StringIO()
    with contextlib.redirect_stdout(redirected):
        list(track([1, 2], 'pairs'))
    assert redirected.getvalue() == 'pairs: 2/2 (100%), elapsed 0s\n'


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match='total >= 0'):
        Progress(-1, 'x', file=io.StringIO())
    with pytest.raises(ValueError, match='min_interval must be >= 0'):
        Progress(1, 'x', min_interval=-1.0, file=io.StringIO())
    with pytest.raises(ValueError, match='steps must be >= 0'):
        Progress(1, 'x', file=io.StringIO()).update(-1)


def test_a_terminal_gets_mmengines_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    bars = []
    original = progress_module.ProgressBar

    def recording_bar(*args, **kwargs):
        bars.append(original(*args, **kwargs))
        return bars[-1]

    monkeypatch.setattr(progress_module, 'ProgressBar', recording_bar)
    stream = Terminal()
    with Progress(5, 'features', file=stream) as progress:
        progress.update(2)
        progress.update(3)
    (bar,) = bars
    assert bar.file is stream and bar.task_num == 5 and bar.completed == 5
    text = stream.getvalue()
    assert text.startswith('features\n') and text.endswith('\n')
    assert text.count('\r') == 2 and '5/5' in text.split('\r')[-1]  # redrawn in place, once per update
