"""The batch-size suite end to end: the session's shared quick run, and real ``pytest benchmarks`` runs.

These check the shape and invariants of what the suite writes (never wall-clock thresholds): one JSON
complete on its own, readable by our reader and by pytest-benchmark, OOM handled as a boundary, bad
options rejected in one line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import QUICK_BUDGET_MS, QUICK_MEMORY_BUDGET_GB, QUICK_MODELS
from dlplayground.bench.config import QUICK_PASSES
from dlplayground.bench.explore import OUT_OF_MEMORY, STOP_REASONS
from dlplayground.bench.record import BatchSizeRun
from dlplayground.results import SCHEMA_VERSION, read_envelope

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
    assert env.raw["dlplayground"]["schema"] == SCHEMA_VERSION == 2
    assert env.config["batch_sizes"] is None  # --quick explores each model's range by doubling
    passes = env.config["passes"]["passes"]
    assert passes == QUICK_PASSES.passes
    run = BatchSizeRun.from_envelope(env)  # the typed view the report reads
    doublings = (1, 2, 4, 8, 16, 32, 64)
    for model in QUICK_MODELS:
        sweep = run.sweeps[model]
        assert sweep.stop_reason in STOP_REASONS
        assert sweep.stop_detail
        assert sweep.measured == sweep.batch_sizes
        assert sweep.batch_sizes == doublings[:len(sweep.batch_sizes)]  # doubled from 1, within the cap of 64
        assert sweep.batch_sizes, f"{model}: no batch measured ({sweep.stop_reason}: {sweep.stop_detail})"
        assert sweep.oom_batch_size is None
    points = {(r.model, r.batch_size) for r in env.records}
    assert points == {(m, b) for m in QUICK_MODELS for b in run.sweeps[m].measured}
    for record in env.records:
        assert record.device == "cpu"
        assert record.dtype == "float32"
        assert record.passes == passes
        assert len(record.pass_index) == len(record.times_s) >= passes * QUICK_PASSES.min_calls
        assert record.block_times_s == ()  # CPU calls are synchronous: no separate back-to-back figure
        assert record.threads == env.config["threads"]
        assert record.p50_ms <= record.p90_ms <= record.p99_ms
    for model in QUICK_MODELS:
        measured = run.sweeps[model].measured
        sat = run.saturation[model]
        assert sat.saturation_batch in measured
        assert sat.ci_low <= sat.saturation_batch <= sat.ci_high
        assert {sat.ci_low, sat.ci_high} <= set(measured)
        assert sat.passes == passes
        assert sat.latency_budget_ms == QUICK_BUDGET_MS
        assert len(sat.gain_per_doubling) == len(measured) - 1
        assert sat.diagnosis is not None
        assert sat.diagnosis.batch_size == sat.saturation_batch
        # Memory per point, not the process's monotonic peak: it grows with every doubling of the batch, and the
        # batch that fills the budget is extrapolated from it.
        memory = [r.peak_memory_bytes for r in sorted((r for r in env.records if r.model == model),
                                                      key=lambda r: r.batch_size)]
        assert all(m is not None for m in memory)
        assert all(b > a for a, b in zip(memory, memory[1:], strict=False)), memory
        fill = run.sweeps[model].memory_fill
        assert fill is not None
        assert fill.budget_bytes == QUICK_MEMORY_BUDGET_GB * 10**9
        assert fill.fill_batch_size > max(measured)
        assert run.sweeps[model].memory_check.startswith("Unresolved")  # no OOM was hit to check it against
    assert run.peaks is not None
    assert run.peaks.device == "cpu"
    for key in ("torch", "cpu_model", "torch_threads", "git", "cuda", "cudnn"):
        assert key in env.environment
    assert "saturates at batch" in proc.stdout
    assert "range stopped: " in proc.stdout
    assert "noise floor" in proc.stdout
    # One test per candidate point: the measured ones pass, the rest are skipped with the reason (pytest's
    # summary leaves out ", 0 skipped" when every model reached the cap of 64).
    measured = len(env.records)
    summary = re.findall(r"(\d+) passed(?:, (\d+) skipped)?", proc.stdout)[-1]
    assert (int(summary[0]), int(summary[1] or 0)) == (measured, len(QUICK_MODELS) * len(doublings) - measured)


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


def test_out_of_memory_ends_the_doubling_as_a_boundary(tmp_path):
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
    proc = run_suite("--quick", "--models", "oom_models:hungry", f"--benchmark-json={out}",
                     tmp_path=tmp_path, extra_path=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # Candidates are the doublings 1..64: 1 and 2 are measured; 4 ran out of memory in the exploration,
    # so it and every larger candidate is skipped with the boundary as the reason.
    assert "2 passed, 5 skipped" in proc.stdout
    assert "SKIPPED [5]" in proc.stdout
    assert "at or beyond the OOM boundary (batch 4 ran out of memory)" in proc.stdout
    env = read_envelope(out)
    sweep = env.sweeps["oom_models:hungry"]
    assert sweep["oom_batch_size"] == 4
    assert "out of memory" in sweep["oom_message"]
    assert (sweep["stop_reason"], sweep["batch_sizes"], sweep["measured"]) == (OUT_OF_MEMORY, [1, 2], [1, 2])
    assert sorted(r.batch_size for r in env.records) == [1, 2]
    assert all(r.passes == QUICK_PASSES.passes for r in env.records)
    assert "range stopped: out of memory" in proc.stdout


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
