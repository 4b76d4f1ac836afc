"""Progress of a long offline step (feature extraction, a data set written image by image, a lambda sweep).

On a terminal it is mmengine's :class:`~mmengine.utils.ProgressBar`, redrawn in place. Anywhere else (a log file,
a pipe, CI) carriage-return redraws would pile up on one line, so whole lines are written instead, at most one every
``min_interval`` seconds, plus the final one, e.g. ``features: 120/360 (33%), elapsed 4s, ETA 8s``.

Both write to the ``sys.stdout`` of the moment the progress starts, not of import time (mmengine's default), so a
``contextlib.redirect_stdout`` around the step reaches them.
"""

import os
import sys
from collections.abc import Iterable, Iterator, Sized
from time import monotonic
from types import TracebackType
from typing import TextIO, TypeVar

from mmengine.utils import ProgressBar

T = TypeVar('T')
# seconds between two plain lines; the environment variable sets it for every progress that is not given one
INTERVAL_ENV = 'LGP_PROGRESS_INTERVAL'
DEFAULT_INTERVAL = 10.0


def _duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    seconds = round(seconds)
    if seconds < 60:
        return f'{seconds}s'
    if seconds < 3600:
        return f'{seconds // 60}m{seconds % 60:02d}s'
    return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'


def _interval_from_env() -> float:
    """``LGP_PROGRESS_INTERVAL`` as seconds, else the default."""
    value = os.environ.get(INTERVAL_ENV, str(DEFAULT_INTERVAL))
    try:
        return float(value)
    except ValueError:
        raise ValueError(f'{INTERVAL_ENV}={value!r} is not a number of seconds.') from None


class Progress:
    """Progress of ``total`` steps: a bar on a terminal, throttled whole lines elsewhere.

    Use it as a context manager (or call :meth:`close`), which ends the bar's line and makes sure the final plain
    line is written::

        with Progress(len(dataset), 'features') as progress:
            for batch in loader:
                ...
                progress.update(len(batch))

    Args:
        total: the number of steps (e.g. images), >= 0.
        label: what is progressing; starts every plain line.
        min_interval: seconds between two plain lines (the final one is always written); defaults to the environment
            variable ``LGP_PROGRESS_INTERVAL``, else 10.
        file: the stream; defaults to the current ``sys.stdout``. A bar is drawn when ``file.isatty()``.
    """

    def __init__(self, total: int, label: str, min_interval: float | None = None, file: TextIO | None = None) -> None:
        if total < 0:
            raise ValueError(f'Progress of {label!r} needs a total >= 0 steps, got {total}.')
        if min_interval is None:
            min_interval = _interval_from_env()
        if min_interval < 0:
            raise ValueError(f'min_interval must be >= 0 seconds, got {min_interval}.')
        self.total, self.label, self.min_interval = total, label, min_interval
        self.file = sys.stdout if file is None else file
        self.done = 0
        self._start = self._last_line = monotonic()
        self._final_written = self._closed = False
        self._bar = None
        if self.file.isatty():
            self.file.write(f'{label}\n')
            self._bar = ProgressBar(total, file=self.file)

    def update(self, steps: int = 1) -> None:
        """Count ``steps`` more done (>= 0) and show the progress when it is due."""
        if steps < 0:
            raise ValueError(f'steps must be >= 0, got {steps}.')
        if steps == 0:
            return
        self.done += steps
        if self._bar is not None:
            self._bar.update(steps)
            return
        now = monotonic()
        if self.done >= self.total or now - self._last_line >= self.min_interval:
            self._write_line(now)

    def close(self) -> None:
        """End the progress: the bar's line on a terminal, else the final plain line if not yet written."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self.file.write('\n')
            self.file.flush()
        elif not self._final_written:
            self._write_line(monotonic(), eta=False)  # stopped short of the total: no ETA

    def _write_line(self, now: float, eta: bool = True) -> None:
        elapsed = now - self._start
        percent = 100 * self.done / self.total if self.total else 100
        line = f'{self.label}: {self.done}/{self.total} ({percent:.0f}%), elapsed {_duration(elapsed)}'
        if eta and 0 < self.done < self.total:
            line += f', ETA {_duration(elapsed * (self.total - self.done) / self.done)}'
        self.file.write(line + '\n')
        self.file.flush()
        self._last_line = now
        self._final_written = self.done >= self.total

    def __enter__(self) -> 'Progress':
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def track(
    items: Iterable[T],
    label: str,
    total: int | None = None,
    min_interval: float | None = None,
    file: TextIO | None = None,
) -> Iterator[T]:
    """Yield ``items`` one by one, each counted as a step of a :class:`Progress` once the next one is asked for.

    ``total`` defaults to ``len(items)``; the other arguments are :class:`Progress`'s. The progress starts with the
    first item asked for and ends when the items run out or the loop is left.
    """
    if total is None:
        if not isinstance(items, Sized):
            raise TypeError(f'{label}: give total= for items without a length (a {type(items).__name__}).')
        total = len(items)
    with Progress(total, label, min_interval, file) as progress:
        for item in items:
            yield item
            progress.update()


__all__ = ['DEFAULT_INTERVAL', 'INTERVAL_ENV', 'Progress', 'track']
