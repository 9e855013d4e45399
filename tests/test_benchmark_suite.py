"""The batch-size suite end to end: the session's shared quick run, and real ``pytest benchmarks`` runs.

These check the shape and invariants of what the suite writes (never wall-clock thresholds): one JSON
complete on its own, readable by our reader and by pytest-benchmark, OOM handled as a boundary, bad
options rejected in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlplayground.bench.record import BatchSizeRun
from dlplayground.results import read_envelope

ROOT = Path(__file__).resolve().parents[1]


def run_suite(*args: str, tmp_path: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "benchmarks"), "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def test_quick_run_writes_a_complete_envelope(quick_bench):
    out, proc = quick_bench.json_path, quick_bench.proc
    env = read_envelope(out)
    assert env.study == "batch_size"
    points = {(r.model, r.batch_size) for r in env.records}
    assert points == {(m, b) for m in ("mlp", "lstm") for b in (1, 2, 4, 8)}
    for record in env.records:
        assert record.device == "cpu"
        assert record.dtype == "float32"
        assert len(record.times_s) >= 5
        assert record.threads == env.config["threads"]
        assert record.p50_ms <= record.p90_ms <= record.p99_ms
    run = BatchSizeRun.from_envelope(env)  # the typed view the report reads
    for model in ("mlp", "lstm"):
        sat = run.saturation[model]
        assert sat.saturation_batch in (1, 2, 4, 8)
        assert sat.ci_low <= sat.saturation_batch <= sat.ci_high
        assert sat.latency_budget_ms == 50
        assert len(sat.gain_per_doubling) == 3
        assert sat.diagnosis is not None
        assert sat.diagnosis.batch_size == sat.saturation_batch
        assert run.sweeps[model].oom_batch_size is None
        assert run.sweeps[model].measured == (1, 2, 4, 8)
    assert run.peaks is not None
    assert run.peaks.device == "cpu"
    for key in ("torch", "cpu_model", "torch_threads", "git", "cuda", "cudnn"):
        assert key in env.environment
    assert "saturates at batch" in proc.stdout


def test_quick_run_is_readable_by_pytest_benchmark(quick_bench):
    out = quick_bench.json_path
    raw = json.loads(out.read_text())
    for key in ("machine_info", "commit_info", "benchmarks", "datetime", "version"):
        assert key in raw
    bench = raw["benchmarks"][0]
    assert bench["stats"]["rounds"] == len(bench["extra_info"]["times_s"])
    assert bench["stats"]["median"] == pytest.approx(bench["extra_info"]["p50_ms"] / 1e3)
    cli = "import sys; from pytest_benchmark.cli import main; sys.argv[0] = 'pytest-benchmark'; main()"
    proc = subprocess.run([sys.executable, "-c", cli, "compare", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test_inference[mlp-b1]" in proc.stdout


def test_out_of_memory_ends_the_sweep_as_a_boundary(tmp_path):
    (tmp_path / "oom_models.py").write_text(
        "import torch\n"
        "class Hungry(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        if x.shape[0] >= 4:\n"
        "            raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 9 GiB')\n"
        "        return x * 2\n"
        "def hungry():\n"
        "    return Hungry(), lambda b: torch.randn(b, 8)\n"
    )
    out = tmp_path / "oom.json"
    proc = run_suite("--quick", "--models", "oom_models:hungry", "--batch-sizes", "1,2,4,8",
                     f"--benchmark-json={out}", tmp_path=tmp_path, extra_path=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "2 passed, 2 skipped" in proc.stdout
    env = read_envelope(out)
    assert env.sweeps["oom_models:hungry"]["oom_batch_size"] == 4
    assert "out of memory" in env.sweeps["oom_models:hungry"]["oom_message"]
    assert sorted(r.batch_size for r in env.records) == [1, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["--device", "cuda:7"], "--device 'cuda:7'"),
        (["--batch-sizes", "0"], "positive integer, got 0"),
        (["--dtype", "float16"], "not supported on cpu"),
        (["--models", "missing_pkg.x:f"], "cannot import module 'missing_pkg.x'"),
    ],
)
def test_bad_options_stop_before_anything_runs(tmp_path, args, message):
    out = tmp_path / "never.json"
    proc = run_suite(*args, f"--benchmark-json={out}", tmp_path=tmp_path)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
