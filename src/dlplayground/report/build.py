"""``build_report``: results files in, a complete report folder out (or nothing at all).

The folder is assembled in a temporary sibling and moved into place only once every file is written, so
a failure (bad input, a figure that cannot be drawn, a full disk) leaves the previous report untouched and
no half-written one behind. A folder that exists and is not a report is never replaced.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from dlplayground import __version__
from dlplayground.atomic import atomic_directory, check_output_dir
from dlplayground.errors import UserInputError
from dlplayground.report.loading import ReportInputs, load_inputs
from dlplayground.report.render import render_html, render_markdown
from dlplayground.report.sections import DocumentBuilder

MANIFEST = "report-manifest.json"  # marks a folder as ours, so re-running may replace it


def check_report_dir(out_dir: Path) -> Path:
    """Refuse, before any work, a report folder that holds other files (no manifest): see ``check_output_dir``."""
    return check_output_dir(out_dir, marker=MANIFEST, what="report folder")


def write_report(inputs: ReportInputs, out_dir: Path, *, title: str | None = None) -> Path:
    """Render already-loaded inputs into ``out_dir``; returns the path of ``index.html``."""
    out_dir = check_report_dir(out_dir)
    try:
        with atomic_directory(out_dir) as tmp:
            copies = tmp / "inputs"
            copies.mkdir()
            for run in inputs.runs:
                shutil.copyfile(run.path, copies / f"{run.label}.json")
            doc = DocumentBuilder(inputs, tmp, title).build()
            for page in doc.pages:
                (tmp / f"{page.name}.md").write_text(render_markdown(doc, page), encoding="utf-8")
                (tmp / f"{page.name}.html").write_text(render_html(doc, page), encoding="utf-8")
            manifest = {
                "generator": f"dlplayground {__version__}", "title": doc.title,
                "pages": [{"name": page.name, "title": page.title, "answer": page.card.answer if page.card else ""}
                          for page in doc.pages],
                "inputs": [{"label": r.label, "source": str(r.path), "study": r.envelope.study,
                            "copy": f"inputs/{r.label}.json"} for r in inputs.runs],
                "figures": [f.path for f in doc.figures()], "warnings": doc.warnings,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot write the report to {str(out_dir)!r}: {exc.strerror or exc}") from None
    return out_dir / "index.html"


def build_report(inputs: Sequence[Path | str], out_dir: Path, *, title: str | None = None) -> Path:
    """Read results files (or experiment folders) and write the report's pages (``index.md``/``index.html``,
    and one pair per study, device and view when there is more than one), figures and copies of the inputs to
    ``out_dir``; returns ``out_dir / "index.html"``.

    Raises ``UserInputError`` (naming the file and the problem) for unreadable or malformed input, an
    empty input list, or an output folder that cannot be written or is not a report.
    """
    loaded = load_inputs(inputs)
    return write_report(loaded, Path(out_dir), title=title)
