"""The roofline placement and the diagnosis rule on synthetic points with known answers, and the figure.

Ceilings used throughout: 100 GFLOP/s matmul peak, 10 GB/s bandwidth, so the ridge is 10 FLOP/byte.
Every point takes 10 ms (all samples equal), so achieved GFLOP/s = FLOPs / 1e7.
"""

from __future__ import annotations

import pytest

from dlplayground.bench.peaks import Peaks
from dlplayground.bench.roofline import (
    BANDWIDTH,
    COMPUTE,
    MATMUL,
    MEMORY,
    OVERHEAD,
    UNKNOWN,
    Diagnosis,
    RooflinePoint,
    Roofs,
    Rule,
    diagnose_record,
    place,
    roof_share_cell,
    roof_share_text,
    rule_text,
)
from dlplayground.bench.saturation import LatencyModel, Saturation
from dlplayground.report.roofline_plot import (
    DIAGNOSIS_COLUMNS,
    PCT_CEILINGS,
    POINT_COLUMNS,
    diagnosis_rows,
    plot_roofline,
    point_rows,
)
from dlplayground.results import TimingRecord

ROOFS = Roofs(peak_gflop_s=100.0, peak_gb_s=10.0)
PEAKS = Peaks(matmul_gflop_s=100.0, bandwidth_gb_s=10.0, dtype="float32", device="cpu", threads=1, matmul_n=512,
              matmul_median_gflop_s=95.0, matmul_by_n=[{"n": 512, "best_gflop_s": 100.0, "median_gflop_s": 95.0}],
              copy_bytes=1 << 26, bandwidth_median_gb_s=9.5, elapsed_s=0.5).to_dict()


def record(flops: float | None, bytes_moved: float | None, *, batch: int = 8, model: str = "m",
           latency_s: float = 0.01) -> TimingRecord:
    return TimingRecord(model=model, family="x", device="cpu", dtype="float32", batch_size=batch, threads=1,
                        warmup_calls=1, times_s=(latency_s,) * 5, flops=flops, bytes_moved=bytes_moved)


# A compute-side point: 50 GFLOP/s at intensity 50 FLOP/B (5x the ridge); 1 GB/s.
COMPUTE_POINT = record(5e8, 1e7)
# A memory-side point: intensity 2 FLOP/B, 10 GFLOP/s, 5 GB/s = 50% of the bandwidth (roof 20 GFLOP/s).
MEMORY_POINT = record(1e8, 5e7)
# Far below both roofs: 0.1 GFLOP/s (0.1% of peak) and 0.01 GB/s (0.1% of bandwidth).
IDLE_POINT = record(1e6, 1e5)


def test_roofs_ridge_and_roof():
    assert ROOFS.ridge_flop_per_byte == 10.0
    assert ROOFS.roof_gflop_s(2.0) == 20.0  # memory side: intensity x bandwidth
    assert ROOFS.roof_gflop_s(50.0) == 100.0  # compute side: flat at the peak
    assert Roofs.from_peaks(Peaks.from_dict(PEAKS)) == ROOFS
    with pytest.raises(ValueError, match="matmul_gflop_s must be a finite number > 0"):
        Peaks.from_dict({**PEAKS, "matmul_gflop_s": 0.0})
    with pytest.raises(ValueError, match="missing field 'bandwidth_gb_s'"):
        Peaks.from_dict({k: v for k, v in PEAKS.items() if k != "bandwidth_gb_s"})


def test_place_computes_achieved_figures_and_percentages():
    p = place(MEMORY_POINT, ROOFS)
    assert p.intensity_flop_per_byte == pytest.approx(2.0)
    assert p.achieved_gflop_s == pytest.approx(10.0)
    assert p.achieved_gb_s == pytest.approx(5.0)
    assert p.roof_gflop_s == pytest.approx(20.0)
    assert p.pct_of_roof == pytest.approx(50.0)
    assert p.pct_of_matmul_peak == pytest.approx(10.0)
    assert p.pct_of_bandwidth == pytest.approx(50.0)
    assert place(record(None, 1e6), ROOFS) is None
    assert place(record(1e6, None), ROOFS) is None


def test_compute_bound_above_the_ridge():
    d = diagnose_record(COMPUTE_POINT, batch_size=8, roofs=ROOFS, fixed_ms=1.0)
    assert d.bound == COMPUTE
    assert d.overhead_share == pytest.approx(0.1)
    assert d.text.startswith("compute-bound at batch 8")
    assert "50.0% of the 100 GFLOP/s matmul peak" in d.text


def test_memory_bound_below_the_ridge():
    d = diagnose_record(MEMORY_POINT, batch_size=8, roofs=ROOFS, fixed_ms=None)
    assert d.bound == MEMORY
    assert "50.0% of the 10 GB/s copy bandwidth" in d.text
    assert "intensity 2 FLOP/B vs ridge 10 FLOP/B" in d.text


def test_exactly_at_the_ridge_counts_as_compute_bound():
    at_ridge = record(5e8, 5e7)  # intensity 10 = ridge
    assert diagnose_record(at_ridge, batch_size=8, roofs=ROOFS).bound == COMPUTE


def test_overhead_bound_when_the_fixed_latency_dominates():
    # t(b_sat) = 10 ms; a = 6 ms is 60% of it (> 50%), even though the point is compute-side.
    d = diagnose_record(COMPUTE_POINT, batch_size=8, roofs=ROOFS, fixed_ms=6.0)
    assert d.bound == OVERHEAD
    assert d.overhead_share == pytest.approx(0.6)
    assert "a = 6 ms is 60% of t(8) = 10 ms" in d.text
    # a = 5 ms is exactly 50%: not more than half, so the roofline decides.
    assert diagnose_record(COMPUTE_POINT, batch_size=8, roofs=ROOFS, fixed_ms=5.0).bound == COMPUTE


def test_the_fixed_latency_only_counts_when_the_fit_describes_the_point():
    # a = 6 ms, c = 0.5 ms/item: the fit predicts 6 + 0.5*8 = 10 ms = t(8), so a counts -> overhead-bound.
    described = diagnose_record(COMPUTE_POINT, batch_size=8, roofs=ROOFS, fixed_ms=6.0, per_item_ms=0.5)
    assert described.bound == OVERHEAD
    assert described.fit_used
    # A fit dragged by a disturbed point: it predicts 30 ms where 10 ms was measured -> a is ignored, and
    # the roofline decides (compute-bound); the text says why.
    dragged = diagnose_record(COMPUTE_POINT, batch_size=8, roofs=ROOFS, fixed_ms=30.0, per_item_ms=0.0)
    assert dragged.bound == COMPUTE
    assert not dragged.fit_used
    assert "predicts 30 ms here, not the measured 10 ms, so its a is not used" in dragged.text
    # 24% off is within the 25% tolerance.
    assert diagnose_record(COMPUTE_POINT, batch_size=8, roofs=ROOFS, fixed_ms=6.0, per_item_ms=0.2).fit_used


def test_overhead_bound_when_far_below_both_roofs():
    d = diagnose_record(IDLE_POINT, batch_size=8, roofs=ROOFS, fixed_ms=None)
    assert d.bound == OVERHEAD
    assert "below 5% of both roofs" in d.text
    # Low on one roof only is not enough: 4 GFLOP/s (4%) but 4 GB/s (40% of bandwidth) -> memory-bound.
    assert diagnose_record(record(4e7, 4e7), batch_size=8, roofs=ROOFS).bound == MEMORY


def test_thresholds_come_from_the_rule():
    strict = Rule(overhead_share=0.05, low_utilisation=0.2)
    assert diagnose_record(COMPUTE_POINT, batch_size=8, roofs=ROOFS, fixed_ms=1.0, rule=strict).bound == OVERHEAD
    assert diagnose_record(record(1.5e8, 1.5e6), batch_size=8, roofs=ROOFS, rule=strict).bound == OVERHEAD
    assert "10%" in rule_text(Rule(overhead_share=0.1))
    assert "within 25%" in rule_text()
    assert "50%" in rule_text()


# Above a roof: 150 GFLOP/s against the 100 GFLOP/s peak; 20 GB/s against the 10 GB/s copy (intensity 0.5).
FAST_POINT = record(1.5e9, 1e7)
CACHED_POINT = record(1e8, 2e8)


def test_roof_share_is_a_percentage_only_up_to_the_roof():
    assert roof_share_text(5.0, 10.0, BANDWIDTH) == "5 GB/s = 50.0% of the 10 GB/s copy bandwidth"
    assert roof_share_text(10.0, 10.0, BANDWIDTH) == "10 GB/s = 100.0% of the 10 GB/s copy bandwidth"
    assert roof_share_text(14.7, 10.0, BANDWIDTH) == (
        "14.7 GB/s, above the measured 10 GB/s copy bandwidth (cache-resident working set)")
    assert roof_share_text(150.0, 100.0, MATMUL) == (
        "150 GFLOP/s, above the measured 100 GFLOP/s matmul peak (the peak measurement was disturbed or the "
        "kernel beats the square-matmul ceiling)")
    assert roof_share_cell(50.0, BANDWIDTH) == "50.0%"
    assert roof_share_cell(100.0, MATMUL) == "100.0%"
    assert roof_share_cell(147.0, BANDWIDTH) == "above roof (cache-resident)"
    assert roof_share_cell(150.0, MATMUL) == "above measured peak"
    assert roof_share_cell(None, MATMUL) == "—"


def test_place_flags_points_above_a_roof():
    below = place(MEMORY_POINT, ROOFS)
    assert not below.above_bandwidth_roof
    assert not below.above_matmul_roof
    cached = place(CACHED_POINT, ROOFS)
    assert cached.pct_of_bandwidth == pytest.approx(200.0)  # the number is kept as measured...
    assert cached.above_bandwidth_roof  # ...and flagged for what it is
    assert not cached.above_matmul_roof
    fast = place(FAST_POINT, ROOFS)
    assert fast.above_matmul_roof
    assert not fast.above_bandwidth_roof
    # The flags go into the JSON for its readers, and are recomputed (not trusted) on reading.
    data = cached.to_dict()
    assert data["above_bandwidth_roof"] is True
    assert data["above_matmul_roof"] is False
    assert RooflinePoint.from_dict(data) == cached
    assert RooflinePoint.from_dict({**data, "above_bandwidth_roof": False}).above_bandwidth_roof
    old = {k: v for k, v in data.items() if not k.startswith("above_")}  # written before the flags
    assert RooflinePoint.from_dict(old) == cached
    with pytest.raises(ValueError, match="unknown field"):
        RooflinePoint.from_dict({**data, "above_roof": True})
    diagnosis = diagnose_record(CACHED_POINT, batch_size=8, roofs=ROOFS)
    assert diagnosis.to_dict()["point"]["above_bandwidth_roof"] is True
    assert Diagnosis.from_dict(diagnosis.to_dict()) == diagnosis


def test_a_point_above_a_roof_is_labelled_not_given_as_a_percentage():
    fast = diagnose_record(FAST_POINT, batch_size=8, roofs=ROOFS)
    assert fast.bound == COMPUTE
    assert fast.text == ("compute-bound at batch 8: intensity 150 FLOP/B vs ridge 10 FLOP/B; 150 GFLOP/s, above "
                         "the measured 100 GFLOP/s matmul peak (the peak measurement was disturbed or the kernel "
                         "beats the square-matmul ceiling)")
    cached = diagnose_record(CACHED_POINT, batch_size=8, roofs=ROOFS)
    assert cached.bound == MEMORY
    assert ("20 GB/s, above the measured 10 GB/s copy bandwidth (cache-resident working set) "
            "(10 GFLOP/s = 10.0% of the 100 GFLOP/s matmul peak)") in cached.text
    assert "200" not in cached.text
    # Overhead-bound texts give both figures through the same rule.
    busy = diagnose_record(CACHED_POINT, batch_size=8, roofs=ROOFS, fixed_ms=9.0)
    assert busy.bound == OVERHEAD
    assert "20 GB/s, above the measured 10 GB/s copy bandwidth" in busy.text
    # Below both roofs: plain percentages, no label.
    below = diagnose_record(MEMORY_POINT, batch_size=8, roofs=ROOFS)
    assert "5 GB/s = 50.0% of the 10 GB/s copy bandwidth (10 GFLOP/s = 10.0% of the 100 GFLOP/s" in below.text
    assert "above" not in below.text
    assert "above a measured ceiling is labelled" in rule_text()


def test_every_percentage_column_has_its_ceiling():
    pct_columns = {c for c in (*DIAGNOSIS_COLUMNS, *POINT_COLUMNS) if "%" in c}
    assert pct_columns == set(PCT_CEILINGS)
    assert PCT_CEILINGS["% of bandwidth"] is BANDWIDTH
    assert PCT_CEILINGS["% of matmul peak"] is MATMUL


def test_unknown_without_flops_or_peaks():
    assert diagnose_record(record(None, None), batch_size=4, roofs=ROOFS).bound == UNKNOWN
    assert diagnose_record(COMPUTE_POINT, batch_size=4, roofs=None).bound == UNKNOWN
    assert diagnose_record(None, batch_size=4, roofs=ROOFS).text == "bound unknown at batch 4 (no FLOP count)"


def _saturation(model: str, batch: int, records: list[TimingRecord], fit: LatencyModel | None) -> Saturation:
    """A model's saturation at ``batch`` carrying the diagnosis the sweep gives it (the rule, at that point)."""
    at = next(r for r in records if r.model == model and r.batch_size == batch)
    diagnosis = diagnose_record(at, batch_size=batch, roofs=ROOFS, fixed_ms=fit.a_ms if fit else None,
                                per_item_ms=fit.c_ms_per_item if fit else None)
    return Saturation(model=model, device="cpu", dtype="float32", eps=0.05, saturation_batch=batch, ci_low=batch,
                      ci_high=batch, ci_level=0.95, best_batch=batch, best_throughput_items_s=1.0,
                      at_sweep_edge=False, latency_model=fit, diagnosis=diagnosis)


def test_diagnosis_rows_read_the_sweeps_diagnosis():
    records = [record(5e7 * b, 1e7, batch=b, model="a") for b in (1, 2, 4)] + [MEMORY_POINT]
    saturation = {"a": _saturation("a", 4, records, LatencyModel(a_ms=1.0, c_ms_per_item=1.0, r2=1.0)),
                  "m": _saturation("m", 8, records, None)}
    # What the report reads back from the JSON is what the sweep wrote: the same typed value.
    assert {m: Saturation.from_dict(s.to_dict()) for m, s in saturation.items()} == saturation
    rows = diagnosis_rows(records, saturation)
    assert [r[0] for r in rows] == ["a", "m"]
    assert all(len(r) == len(DIAGNOSIS_COLUMNS) for r in rows)
    a, m = rows
    assert a[1] == 4
    assert a[2] == pytest.approx(5e7)
    assert a[4] == pytest.approx(20.0)
    assert a[8] == COMPUTE
    assert m[8] == MEMORY
    assert m[7] == pytest.approx(50.0)
    assert len(point_rows(records, ROOFS)) == 4


def test_plot_roofline_writes_a_png(tmp_path):
    records = [record(5e7 * b, 1e6 * (10 + b), batch=b, model="a") for b in (1, 2, 4, 8)]
    records += [record(1e6 * b, 1e6, batch=b, model="b$") for b in (1, 2)]  # '$' must not start mathtext
    records += [record(1e8, 2e8, batch=1, model="cached"), record(1.5e9, 1e7, batch=2, model="cached")]  # ringed
    out = plot_roofline(records, ROOFS, tmp_path / "fig" / "roofline.png", "roofline test",
                        saturation={"a": _saturation("a", 4, records, None), "b$": _saturation("b$", 2, records, None)})
    assert out == tmp_path / "fig" / "roofline.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no record"):
        plot_roofline([record(None, None)], ROOFS, tmp_path / "y.png", "t")
