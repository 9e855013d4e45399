"""Installed from a wheel, outside any checkout, the command finds its own suite and studies.

The wheel is built from this checkout (``pip wheel . --no-deps``) and installed into a fresh virtual
environment in a temporary folder. Its dependencies (torch, scikit-learn, ...) are borrowed from the
environment running the tests through a ``.pth`` line -- a plain path entry, so the editable install of this
checkout that lives there is *not* picked up: ``dlplayground`` must come from the wheel. Then ``bench``,
``report``, ``compare`` and ``run`` are run from an empty folder, as a user who ran ``pip install`` would.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the fresh environment's bin folder, an empty working folder outside the checkout)."""
    base = tmp_path_factory.mktemp("wheel")
    dist, venv, work = base / "dist", base / "venv", base / "work"
    work.mkdir()
    run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist)], cwd=base)
    wheel = next(dist.glob("dlplayground-*.whl"))
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         str(wheel)], cwd=base)
    target = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                      cwd=base).stdout.strip())
    borrowed = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), *site.getsitepackages()}
    (target / "borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    return bin_dir, work


def test_the_package_comes_from_the_wheel(installed):
    bin_dir, work = installed
    where = run([str(bin_dir / "python"), "-c", "import dlplayground, dlplayground.bench, dlplayground.studies; "
                 "print(dlplayground.__file__)"], cwd=work).stdout.strip()
    assert Path(where).is_relative_to(bin_dir.parent), where
    assert not Path(where).is_relative_to(ROOT)


def test_bench_report_and_compare_from_the_wheel(installed):
    bin_dir, work = installed
    cli = str(bin_dir / "dlplayground")
    proc = run([cli, "bench", "--quick", "--models", "mlp", "-o", "cpu.json", "--report", "report"], cwd=work)
    assert "bench: results written to cpu.json" in proc.stdout
    raw = json.loads((work / "cpu.json").read_text())
    measured = sorted(b["extra_info"]["batch_size"] for b in raw["benchmarks"] if "extra_info" in b)
    assert measured == raw["dlplayground"]["sweeps"]["mlp"]["measured"]
    assert measured == [2**i for i in range(len(measured))]  # found by doubling from 1 (up to --quick's 64)
    assert (work / "report" / "index.html").is_file()
    assert run([cli, "compare", "cpu.json", "cpu.json"], cwd=work).returncode == 0
    assert not (work / ".pytest_cache").exists()  # the suite ran with its own configuration, no cache


def test_a_study_runs_from_the_wheel(installed):
    bin_dir, work = installed
    proc = run([str(bin_dir / "dlplayground"), "run", "edge_operators", "--quick", "--out", "edges"], cwd=work)
    assert "edge_operators: results written to edges" in proc.stdout
    assert json.loads((work / "edges" / "result.json").read_text())["dlplayground"]["study"] == "edge_operators"
