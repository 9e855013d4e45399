"""The layout keeps its promises: imports point down only, and the top-level packages import cheaply.

The layers (docs/architecture.md): the foundation imports nothing of ours above it; ``nets`` and ``data``
only the foundation; the bench no study and no report; a study no bench, no report and no other study; only
``cli`` may use everything. Read from the source with ``ast``, so a violating import fails here even when it
sits inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import dlplayground

PACKAGE = Path(dlplayground.__file__).parent
FOUNDATION = {"errors", "atomic", "seeding", "devices", "results", "stats", "progress"}


def layer(module: str) -> str:
    """The layer of ``dlplayground.<module>``: foundation, nets, data, bench, studies.<name>, report or cli."""
    parts = module.split(".")
    top = parts[0]
    if top in FOUNDATION or top in ("__init__", "__version__"):  # the package itself: its version
        return "foundation"
    if top in ("cli", "__main__", "run_all"):  # run_all is the CLI's `run all`: it drives bench, studies, report
        return "cli"
    if top == "studies":  # a study's package, or the shared runner and registry
        return f"studies.{parts[1]}" if len(parts) > 1 and (PACKAGE / "studies" / parts[1]).is_dir() else "studies"
    return top


ALLOWED = {
    "foundation": {"foundation"},
    "nets": {"foundation", "nets"},
    "data": {"foundation", "data"},
    "bench": {"foundation", "nets", "bench"},
    "studies": {"foundation", "studies"},  # the registry and the runner
    "report": {"foundation", "bench", "report"},
    "cli": {"foundation", "nets", "data", "bench", "studies", "report", "cli"},
}


def imports_of(path: Path) -> set[str]:
    """``dlplayground`` submodules imported anywhere in ``path`` (relative to the package)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            candidates = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for name in candidates:
            if name.startswith("dlplayground."):
                names.add(name.removeprefix("dlplayground."))
    return names


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    here = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    own = layer(here)
    allowed = ALLOWED.get(own.split(".")[0], set()) | {own}
    if own.startswith("studies."):
        allowed |= {"foundation", "nets", "data", "studies"}
    bad = []
    for imported in imports_of(path):
        target = layer(imported)
        if target not in allowed and not (own.startswith("studies.") and target == "studies"):
            bad.append(f"{imported} ({target})")
    assert not bad, f"{here} ({own}) imports above or beside itself: {sorted(bad)}"


def test_a_study_imports_no_other_study() -> None:
    for path in (PACKAGE / "studies").glob("*/*.py"):
        study = path.parent.name
        others = {layer(i) for i in imports_of(path)} - {f"studies.{study}", "studies"}
        assert not {o for o in others if o.startswith("studies.")}, path


def test_the_packages_import_without_the_heavy_study_code() -> None:
    code = ("import sys, dlplayground.bench, dlplayground.studies; "
            "heavy = [m for m in ('dlplayground.studies.gods.study', 'transformers', 'sklearn', 'matplotlib') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout
