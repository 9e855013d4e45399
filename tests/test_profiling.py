"""Profiler traces per point, and the sweep's use of traces, FLOP counts and peaks (peaks faked)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import dlplayground.bench.sweep as sweep_mod
from dlplayground.bench.config import BenchConfig, BenchOptions
from dlplayground.bench.peaks import Peaks
from dlplayground.bench.profiling import TraceSchedule, safe_name, trace_point, worker_name
from dlplayground.bench.summary import summary_lines

FAKE_PEAKS = Peaks(matmul_gflop_s=100.0, bandwidth_gb_s=10.0, dtype="float32", device="cpu", threads=1,
                   matmul_n=512, matmul_median_gflop_s=90.0, matmul_by_n=[], copy_bytes=1 << 20,
                   bandwidth_median_gb_s=9.0, elapsed_s=0.0)


def read_trace(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_trace_file_is_written_in_tensorboard_layout_and_parses(tmp_path):
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU()).eval()
    path = trace_point(model, torch.randn(2, 8), tmp_path, model_name="tiny", batch_size=2,
                       device=torch.device("cpu"), sched=TraceSchedule(wait=0, warmup=1, active=2))
    assert path.parent == tmp_path / "tiny"  # one TensorBoard run per model
    assert path.name.startswith("tiny-b2.")
    assert path.name.endswith(".pt.trace.json")
    events = read_trace(path)["traceEvents"]
    names = [e.get("name", "") for e in events]
    assert names.count("tiny-b2 forward") == 2  # the recorded (active) steps only
    assert any(n in ("aten::addmm", "aten::linear") for n in names)


def test_user_model_names_become_safe_file_names():
    assert safe_name("pkg.mod:factory") == "pkg.mod_factory"
    assert worker_name("a/b c", 16) == "a_b_c-b16"


def test_a_second_trace_of_the_same_point_is_a_new_file(tmp_path):
    model = nn.Linear(4, 4).eval()
    kwargs = dict(model_name="m", batch_size=1, device=torch.device("cpu"), sched=TraceSchedule(warmup=1, active=1))
    first = trace_point(model, torch.randn(1, 4), tmp_path, **kwargs)
    second = trace_point(model, torch.randn(1, 4), tmp_path, **kwargs)
    assert first != second
    assert first.is_file()
    assert second.is_file()


@pytest.fixture
def fake_peaks(monkeypatch):
    calls = []

    def measure(device, dtype, config, *, threads=None):
        calls.append((device, dtype, threads))
        return FAKE_PEAKS

    monkeypatch.setattr(sweep_mod, "measure_peaks", measure)
    return calls


def make_sweep(tmp_path, trace: bool, *, in_process: bool = False) -> sweep_mod.Sweep:
    options = BenchOptions(models="mlp", batch_sizes="1,2,4", quick=True, trace=str(tmp_path / "tr") if trace else "",
                           in_process_passes=in_process)
    return sweep_mod.Sweep(BenchConfig.from_options(options))


def test_sweep_counts_each_point_once_in_its_exploration_and_traces_only_after_every_timed_pass(
        tmp_path, fake_peaks, monkeypatch):
    order = []
    real_visit, real_peak, real_trace = sweep_mod.visit_point, sweep_mod.forward_peak_bytes, sweep_mod.trace_point
    real_time_call = sweep_mod.time_call
    monkeypatch.setattr(sweep_mod, "visit_point", lambda *a, **k: order.append("time") or real_visit(*a, **k))
    monkeypatch.setattr(sweep_mod, "time_call", lambda *a, **k: order.append("explore") or real_time_call(*a, **k))
    monkeypatch.setattr(sweep_mod, "forward_peak_bytes",
                        lambda *a, **k: order.append("count") or real_peak(*a, **k))
    monkeypatch.setattr(sweep_mod, "count_forward", lambda *a, **k: pytest.fail("FLOPs counted on a forward of "
                                                                                 "their own"))
    monkeypatch.setattr(sweep_mod, "trace_point", lambda *a, **k: order.append("trace") or real_trace(*a, **k))
    sweep = make_sweep(tmp_path, trace=True, in_process=True)  # timed here, so the order can be watched
    for b in (1, 2, 4):
        record = sweep.outcome("mlp", b)
        assert record.flops == b * 2 * (784 * 1024 + 2 * 1024 * 1024 + 1024 * 10)
        assert record.bytes_moved > 0
        assert record.peak_memory_bytes > 0
        assert record.passes == sweep.config.passes.passes
    # Each point's memory and FLOPs come from one forward in its exploration: after the timing at the model's
    # first point (its first forward pays one-time allocations), as the warm-up before it at the others.
    # Counting never runs inside a timed call; the traces come only after every pass.
    assert order == (["explore", "count", "count", "explore", "count", "explore"]
                     + ["time"] * (3 * sweep.config.passes.passes) + ["trace"] * 3)
    traces = sorted((tmp_path / "tr" / "mlp").glob("*.pt.trace.json"))
    assert [t.name.split(".")[0] for t in traces] == ["mlp-b1", "mlp-b2", "mlp-b4"]
    assert all("traceEvents" in read_trace(t) for t in traces)
    assert len(sweep.models["mlp"].traces) == 3
    assert sweep.models["mlp"].record().traces == tuple(sweep.models["mlp"].traces)
    assert len(fake_peaks) == 1  # peaks measured once per run


def test_sweep_without_trace_dir_never_profiles(tmp_path, fake_peaks, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("profiled without --trace-dir")

    monkeypatch.setattr(sweep_mod, "trace_point", boom)
    sweep = make_sweep(tmp_path, trace=False)
    for b in (1, 2, 4):
        sweep.outcome("mlp", b)
    section = sweep.envelope_section()
    assert section["environment"]["peaks"]["matmul_gflop_s"] == 100.0
    assert section["environment"]["peaks"]["ridge_flop_per_byte"] == 10.0
    assert section["sweeps"]["mlp"]["stop_reason"] == "end of the list"
    entry = section["saturation"]["mlp"]["diagnosis"]
    assert entry["bound"] in ("overhead-bound", "memory-bound", "compute-bound")
    diagnosis = entry["text"]
    assert diagnosis.startswith(f"{entry['bound']} at batch {entry['batch_size']}")
    record = sweep.models["mlp"].records[0]
    extras = sweep.point_extras(record)
    assert extras["pct_of_matmul_peak"] == pytest.approx(extras["achieved_gflop_s"])  # peak is 100 GFLOP/s
    low, high = extras["p50_ci_ms"]
    assert 0 < low <= high  # the median's interval from the passes
    assert extras["unstable"] == (extras["between_pass_cv"] > 0.10)
    assert not (tmp_path / "tr").exists()
    lines = summary_lines(sweep)
    assert lines[0].startswith("measured peaks on cpu (float32")
    assert "100.0 GFLOP/s" in lines[0]
    assert diagnosis in lines[1]
    assert "range stopped: end of the list" in lines[1]
    assert any(line.startswith("noise floor") for line in lines)
    assert lines[-1].startswith("Diagnosis rule")


def test_a_model_the_counter_cannot_follow_keeps_its_timing(tmp_path, fake_peaks, monkeypatch):
    def fail(*args, **kwargs):
        raise TypeError("unsupported operator")

    class FailingCounter:  # the counter fails on the shared forward, and again on a forward of its own
        def __init__(self, model):
            pass

        def __enter__(self):
            fail()

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(sweep_mod, "ForwardCounter", FailingCounter)
    monkeypatch.setattr(sweep_mod, "count_forward", fail)
    sweep = make_sweep(tmp_path, trace=False)
    record = sweep.outcome("mlp", 1)
    assert record.flops is None
    assert record.peak_memory_bytes > 0  # measured on a forward of its own, without the counter
    assert record.times_s
    assert sweep.models["mlp"].flop_count_error == "TypeError: unsupported operator"
    assert sweep.models["mlp"].record().flop_count_error == "TypeError: unsupported operator"
    assert "bound unknown" in sweep.saturation()["mlp"].diagnosis.text
