"""The one exception type for bad user input.

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
