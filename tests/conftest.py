"""Fixtures for the report and compare tests: hand-made results files and a headless Chromium.

``write_batch_result`` builds a batch-size envelope the way the benchmark suite writes it (records in
``benchmarks[].extra_info``, per-model ``sweeps`` and ``saturation`` in the ``dlplayground`` section) from
synthetic timings t(b) = a + c*b ms with seeded log-normal noise, in 5 passes of 4 samples (``passes=``,
``pass_noise=`` adds a shift per pass), so the tests know every expected value.
Defaults a = 0.2 ms, c = 0.25 ms/item: throughput b / t(b) first reaches 95 % of the best measured (at 64)
at batch 16, the saturation entry written by default (CI 8-32). ``peaks=`` adds measured ceilings to the
environment and ``flops_per_item=``/``bytes_fixed=``/``bytes_per_item=`` a FLOP count F = f*b and a bytes
estimate B = w + v*b to every record, as the current suite writes them, so the roofline can be checked.

``quick_bench`` is the session's one real run of the batch-size suite (through ``dlplayground bench``), shared
by every test that needs what the producer really writes. ``chromium`` finds Debian's ``chromium`` (``.ci/run``
installs it); without it the browser tests are skipped with the reason.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlplayground.bench.peaks import Peaks
from dlplayground.bench.record import SweepRecord
from dlplayground.bench.roofline import Diagnosis, Roofs, diagnose_record
from dlplayground.bench.saturation import GainStep, LatencyModel, Saturation
from dlplayground.results import (
    BATCH_SIZE_STUDY,
    Figure,
    MetricLabel,
    StudyResult,
    Table,
    TimingRecord,
    make_envelope,
    write_envelope,
)

ENVIRONMENT = {
    "device": "cpu", "device_name": "Test CPU", "python": "3.11", "platform": "test", "torch": "2.0",
    "cpu_model": "Test CPU", "torch_threads": 2, "git": {"id": "0123456789abcdef", "dirty": False},
    "created": "2025-01-01T00:00:00+00:00",
}


def synthetic_record(model: str, device: str, dtype: str, batch: int, *, a_ms: float, c_ms: float,
                     noise: float, samples: int, rng: np.random.Generator, family: str = "mlp",
                     slowdown: float = 1.0, flops: float | None = None,
                     bytes_moved: float | None = None, passes: int = 5, pass_noise: float = 0.0) -> TimingRecord:
    """t(b) = (a + c*b) * slowdown with log-normal noise per sample and, with ``pass_noise``, a log-normal
    shift per pass (the drift between passes); ``samples`` are split evenly over ``passes``."""
    if samples % passes:
        raise ValueError(f"samples ({samples}) must split evenly over passes ({passes})")
    base_s = (a_ms + c_ms * batch) * slowdown / 1e3
    shifts = np.repeat(np.exp(rng.normal(0.0, pass_noise, size=passes)), samples // passes)
    times = base_s * shifts * np.exp(rng.normal(0.0, noise, size=samples))
    pass_index = tuple(np.repeat(np.arange(passes), samples // passes).tolist())
    return TimingRecord(model=model, family=family, device=device, dtype=dtype, batch_size=batch, threads=2,
                        warmup_calls=3, times_s=tuple(times), pass_index=pass_index,
                        peak_memory_bytes=100 * 2**20 + batch * 2**16,
                        memory_kind="cuda_max_allocated" if device.startswith("cuda") else "process_max_rss",
                        flops=flops, bytes_moved=bytes_moved)


def peaks_entry(**overrides: Any) -> dict[str, Any]:
    """A complete ``environment["peaks"]`` entry (a ``Peaks`` as the sweep stores it); ``overrides`` replace fields."""
    peaks = Peaks(matmul_gflop_s=5000.0, bandwidth_gb_s=50.0, dtype="float32", device="cpu", threads=2, matmul_n=1024,
                  matmul_median_gflop_s=4800.0, matmul_by_n=[{"n": 1024, "best_gflop_s": 5000.0,
                                                               "median_gflop_s": 4800.0}],
                  copy_bytes=1 << 26, bandwidth_median_gb_s=48.0, elapsed_s=1.0)
    return {**peaks.to_dict(), **overrides}


def _roofs_of(peaks: Any) -> Roofs | None:
    try:
        return Roofs.from_peaks(Peaks.from_dict(peaks))
    except (TypeError, ValueError):
        return None


def write_batch_result(
    path: Path,
    *,
    models: Sequence[str] = ("mlp",),
    device: str = "cpu",
    dtype: str = "float32",
    batch_sizes: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
    a_ms: float = 0.2,
    c_ms: float = 0.25,
    noise: float = 0.02,
    samples: int = 20,
    passes: int = 5,
    pass_noise: float = 0.0,
    seed: int = 0,
    slowdown: float = 1.0,
    oom_batch_size: int | None = None,
    saturation: dict[str, Any] | None = None,
    environment: dict[str, Any] | None = None,
    peaks: dict[str, Any] | None = None,
    flops_per_item: float | None = None,
    bytes_fixed: float = 0.0,
    bytes_per_item: float = 0.0,
) -> Path:
    """Write a batch-size envelope; ``saturation`` overrides the default per-model entry (None = default).

    ``peaks`` (fields of ``peaks_entry`` to override) becomes ``environment["peaks"]``; with ``flops_per_item``
    every record at batch b carries ``flops = flops_per_item * b`` and ``bytes_moved = bytes_fixed +
    bytes_per_item * b``, and the saturation entry carries the diagnosis the rule gives at batch 16.
    ``saturation`` keys replace the default entry's fields in its JSON form (to write malformed files).
    """
    rng = np.random.default_rng(seed)
    env = {**ENVIRONMENT, "device": device, **(environment or {})}
    if peaks is not None:
        env["peaks"] = {**peaks_entry(device=device, dtype=dtype), **peaks}
    benchmarks, sweeps, sats = [], {}, {}
    for model in models:
        measured = [b for b in batch_sizes if oom_batch_size is None or b < oom_batch_size]
        counted = flops_per_item is not None
        records = [synthetic_record(model, device, dtype, b, a_ms=a_ms, c_ms=c_ms, noise=noise, samples=samples,
                                    rng=rng, slowdown=slowdown, flops=flops_per_item * b if counted else None,
                                    bytes_moved=bytes_fixed + bytes_per_item * b if counted else None,
                                    passes=passes, pass_noise=pass_noise)
                   for b in measured]
        for r in records:
            benchmarks.append({"name": f"test_inference[{model}-b{r.batch_size}]",
                               "fullname": f"benchmarks/test_batch_size.py::test_inference[{model}-b{r.batch_size}]",
                               "params": {"model_name": model, "batch_size": r.batch_size},
                               "stats": {"median": r.quantile_s(0.5), "rounds": len(r.times_s)},
                               "extra_info": r.to_dict()})
        sweeps[model] = SweepRecord(family="mlp", description="synthetic", batch_sizes=tuple(batch_sizes),
                                    measured=tuple(measured), stop_reason="knee",
                                    stop_detail="no doubling past batch 16 gained more than 5%",
                                    oom_batch_size=oom_batch_size,
                                    oom_message="CUDA out of memory" if oom_batch_size else None).to_dict()
        best = max(records, key=lambda r: r.throughput_items_s)
        sat = Saturation(
            model=model, device=device, dtype=dtype, eps=0.05, saturation_batch=16, ci_low=8, ci_high=32,
            ci_level=0.95, best_batch=best.batch_size, best_throughput_items_s=best.throughput_items_s,
            at_sweep_edge=False,
            gain_per_doubling=tuple(GainStep(x.batch_size, y.batch_size, y.throughput_items_s / x.throughput_items_s)
                                    for x, y in zip(records, records[1:], strict=False)),
            latency_budget_ms=5.0, slo_batch=16,
            latency_model=LatencyModel(a_ms=a_ms * slowdown, c_ms_per_item=c_ms * slowdown, r2=0.99),
            bootstrap_resamples=300,
        )
        # The diagnosis as the sweep makes it: by the rule, when the run has peaks and the points FLOP counts.
        at_sat = next((r for r in records if r.batch_size == sat.saturation_batch), None)
        roofs = _roofs_of(env.get("peaks"))
        diagnosis = (diagnose_record(at_sat, batch_size=16, roofs=roofs, fixed_ms=a_ms * slowdown,
                                     per_item_ms=c_ms * slowdown)
                     if roofs is not None and counted else
                     Diagnosis(bound="overhead-bound", batch_size=16, text="overhead-bound at small batch"))
        sats[model] = {**replace(sat, diagnosis=diagnosis).to_dict(), **(saturation or {})}
    envelope = make_envelope(study=BATCH_SIZE_STUDY, environment=env, config={"device": device, "quick": True},
                             benchmarks=benchmarks, sweeps=sweeps, saturation=sats)
    return write_envelope(path, envelope)


def write_experiment_result(folder: Path, *, study: str = "eigenfaces", verdict: str = "The claim holds.",
                            data_source: str = "Olivetti faces", figure_names: Sequence[str] = ("curve.png",),
                            extra_figures: Sequence[Figure] = (), question: str = "Does PCA find faces?",
                            metrics: dict[str, Any] | None = None, tables: Sequence[Table] | None = None,
                            labels: dict[str, MetricLabel] | None = None, answer: str = "") -> Path:
    """An experiment's output folder: PNG figures and ``result.json``; returns the JSON path."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    figures = []
    for i, name in enumerate(figure_names):
        Image.new("RGB", (64 + i, 48), (200, 30 * i % 255, 40)).save(folder / name)
        figures.append(Figure(f"Figure {i}", name, f"caption {i}"))
    result = StudyResult(
        study=study, question=question, verdict=verdict, data_source=data_source,
        metrics=metrics if metrics is not None else {"accuracy": 0.9375, "components": 40},
        tables=list(tables) if tables is not None else [
            Table("Accuracy by components", ["components", "accuracy"], [[10, 0.8125], [40, 0.9375]])],
        figures=figures + list(extra_figures), elapsed_s=1.5, labels=dict(labels or {}), answer=answer,
    )
    envelope = make_envelope(study=study, environment=ENVIRONMENT, config={"seed": 0, "quick": True}, result=result)
    return write_envelope(folder / "result.json", envelope)


@pytest.fixture
def batch_result(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``batch_result("name", **kwargs)`` writes ``tmp_path/name.json`` (see ``write_batch_result``)."""
    def make(name: str = "run", **kwargs: Any) -> Path:
        return write_batch_result(tmp_path / f"{name}.json", **kwargs)

    return make


@pytest.fixture
def experiment_result(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``experiment_result("folder", **kwargs)`` writes an experiment folder under tmp_path."""
    def make(name: str = "exp", **kwargs: Any) -> Path:
        return write_experiment_result(tmp_path / name, **kwargs)

    return make


# ------------------------------------------------------------------------------------ the real suite
@dataclass(frozen=True)
class QuickBench:
    """The one real batch-size run the tests share: ``dlplayground bench --quick`` in a fresh process."""

    json_path: Path
    report_dir: Path
    proc: subprocess.CompletedProcess


QUICK_MODELS = ("mlp", "lstm")
QUICK_BATCHES = (1, 2, 4, 8)
QUICK_BUDGET_MS = 50
QUICK_MEMORY_BUDGET_GB = 2


@pytest.fixture(scope="session")
def quick_bench(tmp_path_factory: pytest.TempPathFactory) -> QuickBench:
    """Run the packaged suite once per session through the CLI (results JSON + report), as a user would.

    Every test that needs what the producer really writes reads this run instead of starting its own: the
    suite's envelope, pytest-benchmark's view of it, the CLI's atomic output and the report built from it.
    """
    base = tmp_path_factory.mktemp("quick-bench")
    out, report = base / "results" / "quick.json", base / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "dlplayground", "bench", "--quick", "--models", ",".join(QUICK_MODELS),
         "--latency-budget-ms", str(QUICK_BUDGET_MS), "--memory-budget-gb", str(QUICK_MEMORY_BUDGET_GB),
         "-o", str(out), "--report", str(report)],
        cwd=base, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return QuickBench(out, report, proc)


# ---------------------------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium; the browser tests are skipped, with the reason, without one.

    Tests install nothing: ``.ci/run`` installs Debian's ``chromium`` before running them.
    """
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    return found


@pytest.fixture
def sigint_delivered() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt here and in the processes a test starts, as at a terminal, even when this
    test process inherited SIGINT ignored (a CI runner started under nohup or in the background): a child
    inherits an ignored signal, and a Python started with SIGINT ignored never raises KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
