"""The one exception type for bad user input, and how any error is shown in one line.

Every check on a user-supplied value (a CLI flag, a pytest option, a data path, a CSV column) raises
``UserInputError`` with a one-line message naming the input and what was expected. Entry points catch it
and print ``error: <message>`` with a non-zero exit, so a user never sees a traceback from deep inside.
"""

from __future__ import annotations

from collections.abc import Iterable


class UserInputError(ValueError):
    """A user-supplied value is invalid; the message names the input and the valid choices."""


def choices_text(choices: Iterable[object]) -> str:
    """Render valid choices for an error message: ``'a', 'b' or 'c'``."""
    items = [repr(str(c)) for c in choices]
    if not items:
        return "(none)"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def first_line(exc: BaseException, limit: int | None = 300) -> str:
    """The first line of an error's message, at most ``limit`` characters (None: all of it; "" for an empty
    message, such as a bare ``MemoryError()``): what a record or a one-line report keeps of an error raised by
    code we do not own."""
    return (str(exc).strip().splitlines() or [""])[0][:limit]


def error_text(exc: BaseException) -> str:
    """An error in one line: its type and the first line of its message (just the type when that is empty)."""
    line = first_line(exc)
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
