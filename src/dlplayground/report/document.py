"""The report as a tree of sections and blocks, formatted once and rendered by both templates.

Everything a reader sees is decided here (which tables, which numbers, how they are rounded); the Markdown
and HTML templates only lay the blocks out and escape them. Values are plain text: escaping is the
templates' job, so no block ever holds markup built from data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Paragraph:
    text: str
    kind: str = "paragraph"


@dataclass
class Callout:
    """A highlighted statement: a verdict, a warning, a regression."""

    title: str
    text: str
    tone: str = "info"  # info | good | warn | bad
    kind: str = "callout"


@dataclass
class KeyValues:
    """A two-column list of facts (environment, headline metrics)."""

    items: list[tuple[str, str]]
    title: str = ""
    kind: str = "keyvalues"


@dataclass
class TableBlock:
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    highlight: set[int] = field(default_factory=set)  # row indices to emphasize (the saturation point)
    numeric: set[int] = field(default_factory=set)  # column indices to right-align
    collapsed: bool = False  # long detail tables: folded in HTML
    kind: str = "table"


@dataclass
class FigureBlock:
    """A figure file in the report folder (``path`` relative to it, POSIX), with optional SVG twin."""

    title: str
    path: str
    caption: str = ""
    svg_path: str | None = None
    kind: str = "figure"


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list[Any] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]
    warnings: list[str] = field(default_factory=list)
    generator: str = ""

    def figures(self) -> list[FigureBlock]:
        out: list[FigureBlock] = []

        def walk(sections: list[Section]) -> None:
            for section in sections:
                out.extend(b for b in section.blocks if isinstance(b, FigureBlock))
                walk(section.children)

        walk(self.sections)
        return out


# ----------------------------------------------------------------------------------------- numbers
def fmt_num(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant figures, thousands separated; text passes through."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        magnitude = math.floor(math.log10(abs(value)))
        decimals = max(0, digits - 1 - magnitude)
        return f"{value:,.{decimals}f}"
    return str(value)


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "—"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def fmt_cell(value: Any) -> str:
    """A cell or metric of an experiment's result: numbers to 4 significant figures, None as a dash, an
    interval (a ``[low, high]`` pair of numbers) as ``[low, high]``. Results store raw values; this is the
    only place they are rounded."""
    if isinstance(value, float):
        return fmt_num(value, 4)
    if value is None:
        return "—"
    if isinstance(value, list | tuple) and len(value) == 2 and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in value):
        return f"[{fmt_cell(value[0])}, {fmt_cell(value[1])}]"
    return str(value)
