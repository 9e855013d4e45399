"""Progress output for long runs: one-line messages for logs, and tqdm bars on a terminal.

``progress(message)`` writes one flushed ``[dlplayground]`` line to stderr, so CI logs and ``pytest -s`` show
where a long run is. ``track(items, desc)`` wraps a loop in a tqdm bar on stderr when stderr is a terminal
(tqdm's ``disable=None``) and is a plain pass-through elsewhere, so logs are not flooded with redraws.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(message: str) -> None:
    """One progress line to stderr, flushed."""
    print(f"[dlplayground] {message}", file=sys.stderr, flush=True)


def track(items: Iterable[T], desc: str, *, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate ``items`` under a tqdm progress bar on a terminal; no output when stderr is not a terminal."""
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, total=total, unit=unit, file=sys.stderr, disable=None, leave=False,
                    dynamic_ncols=True)
