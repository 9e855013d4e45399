"""Results JSON -> Markdown and HTML reports with plots (an index of answers, a page per study and device);
merge and compare runs.

``build_report`` renders any mix of batch-size runs (several devices, several runs) and experiment
results; ``compare_envelopes`` tests two batch-size runs point by point against their run-to-run noise.
The command-line entry points (``dlplayground report`` / ``compare``) live in ``report.cli``.

Names are imported on first use, so ``dlplayground --help`` (which registers the subcommands) does not pay
for matplotlib and jinja2.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_report": "dlplayground.report.build",
    "write_report": "dlplayground.report.build",
    "CompareResult": "dlplayground.report.compare",
    "PointComparison": "dlplayground.report.compare",
    "compare_envelopes": "dlplayground.report.compare",
    "ReportInputs": "dlplayground.report.loading",
    "load_inputs": "dlplayground.report.loading",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dlplayground.report' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
