"""Model variants (eager, compile, cudagraphs, channels_last): selection, skipping, speed-ups and the remedy line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlplayground.bench import variants
from dlplayground.bench.config import BenchConfig, BenchOptions
from dlplayground.bench.variants import (
    CHANNELS_LAST,
    COMPILE,
    CUDAGRAPHS,
    EAGER,
    Speedup,
    VariantSkipped,
    build_variant,
    parse_variants,
    remedy_text,
    speedups,
    swept_name,
)
from dlplayground.errors import UserInputError
from dlplayground.results import TimingRecord

CPU = torch.device("cpu")


def no_sync(device: torch.device) -> None:
    pass


def test_parse_variants_puts_eager_first_and_names_bad_input():
    assert parse_variants("") == (EAGER,)
    assert parse_variants("compile, eager") == (EAGER, COMPILE)
    assert parse_variants("channels_last") == (CHANNELS_LAST,)
    with pytest.raises(UserInputError, match="unknown variant 'jit'; choose 'eager', 'compile', 'cudagraphs' or "
                                             "'channels_last'"):
        parse_variants("eager,jit")
    with pytest.raises(UserInputError, match="names a variant twice"):
        parse_variants("compile,compile")


def test_each_variant_is_swept_as_a_model_of_its_own():
    config = BenchConfig.from_options(BenchOptions(models="mlp,cnn", variants="eager,compile", quick=True))
    assert [m.name for m in config.models] == ["mlp", "mlp[compile]", "cnn", "cnn[compile]"]
    assert [(m.variant, m.base_name) for m in config.models] == [
        (EAGER, "mlp"), (COMPILE, "mlp"), (EAGER, "cnn"), (COMPILE, "cnn")]
    assert config.to_dict()["variants"] == [EAGER, COMPILE]
    assert swept_name("mlp", EAGER) == "mlp"


def test_cuda_graphs_elsewhere_and_channels_last_on_flat_inputs_are_skipped_with_the_reason():
    model = nn.Linear(4, 2).eval()
    with pytest.raises(VariantSkipped, match="CUDA graphs need a CUDA device; this run is on cpu"):
        build_variant(CUDAGRAPHS, model, torch.zeros(1, 4), CPU, no_sync)
    with pytest.raises(VariantSkipped, match=r"channels_last applies to 4-D \(image\) inputs; this model's input "
                                             r"is \(1, 4\)"):
        build_variant(CHANNELS_LAST, model, torch.zeros(1, 4), CPU, no_sync)


def test_channels_last_keeps_the_answer_and_changes_the_layout():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.inference_mode():
        expected = model(x)
        built = build_variant(CHANNELS_LAST, model, x[:1], CPU, no_sync)
        prepared = built.prepare(x)
        assert prepared.is_contiguous(memory_format=torch.channels_last)
        assert torch.allclose(built.model(prepared), expected, atol=1e-5)
    assert built.compile_s is None
    assert not built.compiles_per_shape


def test_a_compile_that_fails_at_its_first_call_is_skipped_not_failed(monkeypatch):
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("InductorError: CppCompileError: C++ compile error\nlong compiler log")

    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: Broken())
    with pytest.raises(VariantSkipped, match="compile could not be built here: RuntimeError: InductorError: "
                                             "CppCompileError: C\\+\\+ compile error$"):
        build_variant(COMPILE, nn.Linear(4, 2).eval(), torch.zeros(1, 4), CPU, no_sync)


def test_compile_records_its_build_time_and_raises_the_recompile_limit(monkeypatch):
    import torch._dynamo.config as dynamo_config

    seen = {}

    def fake_compile(model, **kwargs):
        seen.update(kwargs)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(dynamo_config, "recompile_limit", 8, raising=False)
    built = build_variant(COMPILE, nn.Linear(4, 2).eval(), torch.zeros(1, 4), CPU, no_sync)
    assert seen == {"mode": "default", "dynamic": False}
    assert built.compile_s is not None
    assert built.compile_s >= 0
    assert built.compiles_per_shape
    assert dynamo_config.recompile_limit >= variants.RECOMPILE_LIMIT


def record(batch: int, median_s: float, shifts: np.ndarray, rng: np.random.Generator, *, model: str) -> TimingRecord:
    """Five passes of 8 samples: median_s times a per-pass shift (the drift both points share) and noise."""
    times = np.concatenate([median_s * shift * np.exp(rng.normal(0, 0.02, 8)) for shift in shifts])
    return TimingRecord(model=model, family="mlp", device="cpu", dtype="float32", batch_size=batch, threads=1,
                        warmup_calls=1, times_s=tuple(times), pass_index=tuple(np.repeat(np.arange(5), 8).tolist()))


@pytest.mark.parametrize(("true_speedup", "resolved"), [(2.0, True), (1.0, False)])
def test_speedups_cover_the_true_ratio_and_resolve_only_a_real_one(true_speedup, resolved):
    rng = np.random.default_rng(3)
    shifts = np.exp(rng.normal(0, 0.3, 5))  # strong drift between passes, the same for both variants
    eager = [record(b, 1e-3 * b, shifts, rng, model="mlp") for b in (1, 2, 4)]
    fast = [record(b, 1e-3 * b / true_speedup, shifts, rng, model="mlp[compile]") for b in (1, 2, 4, 8)]
    found = speedups(eager, fast, resamples=500)
    assert [s.batch_size for s in found] == [1, 2, 4]  # only batches both measured
    for s in found:
        assert s.ci_low <= true_speedup <= s.ci_high
        assert s.resolved is resolved
        # Pairing by pass removes the shared drift: the interval is far narrower than the 30 % drift.
        assert s.ci_high / s.ci_low < 1.15


def test_the_remedy_names_what_was_measured_and_what_was_not():
    faster = Speedup(16, 1.8, 1.6, 2.0, 0.95)
    text = remedy_text("overhead-bound", "cuda", {COMPILE: faster})
    assert "torch.compile (fuses operators: fewer, larger kernels): measured x1.80 [1.60-2.00] at batch 16 (faster)" \
        in text
    assert "CUDA graphs (replays the whole forward with one launch): not measured (add --variants eager,cudagraphs)" \
        in text
    unresolved = remedy_text("overhead-bound", "cpu", {COMPILE: Speedup(16, 1.02, 0.9, 1.1, 0.95)})
    assert "(no resolved change)" in unresolved
    assert "CUDA graphs" not in unresolved  # not a remedy on the CPU
    assert "measured, but not at this batch" in remedy_text("overhead-bound", "cpu", {COMPILE: None})
    assert remedy_text("memory-bound", "cuda", {COMPILE: faster}) == ""


def test_the_report_overlays_variants_with_speed_ups_and_skips(batch_result, tmp_path):
    import json

    from dlplayground.report import build_report

    path = batch_result("run", models=("mlp", "mlp[compile]", "mlp[cudagraphs]"))
    data = json.loads(path.read_text())
    sweeps = data["dlplayground"]["sweeps"]
    for name, variant in (("mlp[compile]", COMPILE), ("mlp[cudagraphs]", CUDAGRAPHS)):
        sweeps[name].update(variant=variant, base_model="mlp", variant_detail=f"{variant} build",
                            compile_s=12.5 if variant == COMPILE else None,
                            first_call_s={"1": 12.5, "2": 3.0, "4": 4.5} if variant == COMPILE else {})
    sweeps["mlp[cudagraphs]"]["variant_skipped"] = "CUDA graphs need a CUDA device; this run is on cpu"
    data["benchmarks"] = [b for b in data["benchmarks"] if b["extra_info"]["model"] != "mlp[cudagraphs]"]
    path.write_text(json.dumps(data))
    build_report([path], tmp_path / "r")
    out = tmp_path / "r"
    pages = [p["name"] for p in json.loads((out / "report-manifest.json").read_text())["pages"]]
    assert pages == ["index", "batch-size-cpu", "variants"]
    assert "## [Batch size: variants](variants.md)" in (out / "index.md").read_text()  # its card
    md = (out / "variants.md").read_text()
    assert "## Variants: compiled, graph-captured, channels-last" in md
    # The answer, computed from the speed-up intervals: none excludes x1 on these A/A timings.
    assert "> **Answer:** mlp\\[compile\\] is faster than eager at 0 of 7 batches" in md
    assert "> **mlp\\[cudagraphs\\] skipped:** CUDA graphs need a CUDA device; this run is on cpu" in md
    assert "figures/variants/run-mlp.png" in md
    # Same synthetic timings for both: every speed-up is about 1 and none is resolved (the files are A/A).
    rows = [line for line in md.splitlines() if line.startswith("| compile |")]
    assert len(rows) == 7
    assert all(line.endswith("| not resolved |") for line in rows), rows
    assert "mlp\\[compile\\]: compile build; building it (first call at batch 1) took 12.5 s; the first call at " \
           "each further batch (a recompile or capture) took 3.00–4.50 s. None of this is in the timings." in md
