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
class Details:
    """Blocks folded away under a summary line (``<details>`` in HTML and in GitHub's Markdown)."""

    title: str
    blocks: list[Any]
    kind: str = "details"


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list[Any] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)


@dataclass
class Card:
    """A page as the index shows it: its answer in a sentence or two and a thumbnail of its lead figure."""

    title: str
    answer: str
    tone: str = "info"
    thumbnail: str | None = None  # a small PNG in the report folder
    figure: str | None = None  # the full-size figure it was made from


@dataclass
class Page:
    """One file pair of the report (``<name>.html`` and ``<name>.md``); the first page of a document is the
    index (``name`` "index")."""

    name: str
    title: str
    sections: list[Section]
    card: Card | None = None
    cards: list[tuple[Page, Card]] = field(default_factory=list)  # the index's links to the other pages

    def blocks(self) -> list[Any]:
        """Every block of the page, depth first, folded ones included."""
        out: list[Any] = []

        def walk(blocks: list[Any]) -> None:
            for b in blocks:
                out.append(b)
                if isinstance(b, Details):
                    walk(b.blocks)

        def visit(sections: list[Section]) -> None:
            for section in sections:
                walk(section.blocks)
                visit(section.children)

        visit(self.sections)
        return out


@dataclass
class Document:
    title: str
    subtitle: str
    pages: list[Page]
    warnings: list[str] = field(default_factory=list)
    generator: str = ""

    @property
    def index(self) -> Page:
        return self.pages[0]

    def figures(self) -> list[FigureBlock]:
        return [b for page in self.pages for b in page.blocks() if isinstance(b, FigureBlock)]


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


def fmt_estimate(value: Any, ci: Any = None, *, percent: bool = False, unit: str = "") -> tuple[str, str]:
    """A metric and its interval as text, rounded to the precision the interval supports: the last digit
    shown is the second significant digit of the interval's half-width (``0.7342 [0.701, 0.770]`` ->
    ``0.734`` and ``0.701–0.770``). Without an interval (or with one of zero width), 3 significant figures;
    integers in full. ``percent`` shows a fraction as a percentage; ``unit`` follows the value. Returns
    ``(value, interval)``; the interval is "" without one, and reads "low to high" when a bound is negative."""
    scale, suffix = (100.0, " %") if percent else (1.0, f" {unit}" if unit else "")
    usable = (isinstance(ci, list | tuple) and len(ci) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in ci))
    if not (isinstance(value, int | float) and not isinstance(value, bool)):
        shown = fmt_cell(value) + (suffix if value is not None and not isinstance(value, str) else "")
        return shown, (f"{fmt_cell(ci[0])}–{fmt_cell(ci[1])}" if usable else "")
    if not math.isfinite(value):
        return str(value), ""
    half = abs(ci[1] - ci[0]) * scale / 2 if usable else 0.0
    if half > 0:
        digits = min(6, 1 - math.floor(math.log10(half)))  # negative: round to tens, hundreds

        def text(v: float) -> str:
            return f"{round(v * scale, digits):,.{max(0, digits)}f}"
    else:
        def text(v: float) -> str:
            return fmt_num(v, 3) if isinstance(v, int) and not percent else fmt_num(float(v) * scale, 3)
    if not usable:
        return text(value) + suffix, ""
    low, high = text(ci[0]), text(ci[1])
    between = " to " if min(ci) < 0 else "–"
    return text(value) + suffix, f"{low}{between}{high}" + (" %" if percent else "")


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
