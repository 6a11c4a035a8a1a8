"""One progress-bar style for long work (rich), or a callback, or nothing: for terminals, notebooks, tests, logs.

Long work takes a `progress` argument (`ProgressOption`): True draws the rich bar below, False reports nothing,
and a callable receives `(description, completed, total)` after each step, so a caller (a GUI, a log, a test)
can follow the work without rich. Core loops only call `.advance(n)`; rich is imported only when a bar is drawn.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Iterator, Union

ProgressCallback = Callable[[str, int, int], None]  # (what is being done, units completed, total units)
ProgressOption = Union[bool, ProgressCallback]


class _Bar:
    """What long work advances: a rich task, a callback, or nothing."""

    def __init__(self, advance: Callable[[int], None] | None = None):
        self._advance = advance

    def advance(self, n: int = 1) -> None:
        if self._advance is not None:
            self._advance(n)


def _callback_bar(callback: ProgressCallback, description: str, total: int, completed: int) -> _Bar:
    state, lock = [completed], threading.Lock()  # advanced from worker threads too

    def advance(n: int) -> None:
        with lock:
            state[0] += n
            done = state[0]
        callback(description, done, total)

    return _Bar(advance)


@contextlib.contextmanager
def progress_bar(description: str, total: int, completed: int = 0, enabled: ProgressOption = True) -> Iterator[_Bar]:
    """A context yielding an object with `.advance(n)`: a rich bar when `enabled` is True, calls of
    `enabled(description, completed, total)` when it is a callable, a no-op when it is False."""
    if callable(enabled):
        yield _callback_bar(enabled, description, total, completed)
        return
    if not enabled:
        yield _Bar()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(description, total=total, completed=completed)
        yield _Bar(lambda n: progress.advance(task, n))
