"""End to end: the real benchmark suite in --quick mode writes the JSON, the report renders it.

The session's one real quick run (``quick_bench``: the MLP and LSTM on the CPU, each model's batches found by
doubling from 1 up to 64, measured in the quick profile's interleaved passes, each in a worker process,
through ``dlplayground bench --report``) checks that the generator reads what the producer actually writes,
not just what the hand-made fixtures say it writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from conftest import QUICK_MODELS
from dlplayground.bench.config import QUICK_PASSES
from dlplayground.bench.explore import KNEE, LIST_END, STOP_REASONS
from dlplayground.report import compare_envelopes
from dlplayground.report.build import MANIFEST
from dlplayground.results import read_envelope

ROOT = Path(__file__).resolve().parents[1]


def md_table_row(md: str, prefix: str) -> dict[str, str]:
    """The Markdown table row starting with ``prefix``, keyed by its table's header."""
    lines = md.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    top = i
    while lines[top - 1].startswith("|"):
        top -= 1
    split = [[c.strip() for c in line.split("|")[1:-1]] for line in (lines[top], lines[i])]
    return dict(zip(*split, strict=True))


def test_report_from_the_real_quick_suite(quick_bench):
    quick_run, out = quick_bench.json_path, quick_bench.report_dir
    envelope = read_envelope(quick_run)
    assert envelope.study == "batch_size"
    raw = json.loads(quick_run.read_text())
    sweep = raw["dlplayground"]["sweeps"]["mlp"]
    batches = sorted(r.batch_size for r in envelope.records if r.model == "mlp")
    # No --batch-sizes: the range is a doubling from 1, ended by a stated reason, never past the quick cap.
    assert batches == list(sweep["measured"]) == [2**i for i in range(len(batches))]
    assert batches[-1] <= 64
    assert sweep["stop_reason"] in STOP_REASONS
    assert sweep["stop_reason"] != LIST_END
    if sweep["stop_reason"] == KNEE:
        assert len(batches) >= 3  # two doublings past the reference batch
    assert {r.passes for r in envelope.records} == {QUICK_PASSES.passes}
    sat = envelope.saturation["mlp"]
    assert f"bench: report written to {out / 'index.html'}" in quick_bench.proc.stdout

    md = (out / "index.md").read_text()
    html_text = (out / "index.html").read_text()
    row = md_table_row(md, "| mlp |")
    edge = " (edge)" if sat["at_sweep_edge"] else ""
    assert row["saturation batch (CI)"] == f"{sat['saturation_batch']} (CI {sat['ci_low']}–{sat['ci_high']}){edge}"
    assert row["best items/s @ batch"].endswith(f" @ {sat['best_batch']}")
    assert row["best within p99 budget"] == (str(sat["slo_batch"]) if sat["slo_batch"] is not None else "—")
    assert row["range stopped"] == sweep["stop_reason"]
    assert (f"- passes: {QUICK_PASSES.passes} interleaved passes per point (visiting order seed 0), each pass in a "
            "fresh worker process") in md
    # The report derives stability from the samples; the sweep wrote its own verdict into extra_info: they agree.
    flagged = [b["extra_info"]["unstable"] for b in raw["benchmarks"] if b["extra_info"]["model"] == "mlp"]
    assert row["unstable points"] == f"{sum(flagged)} of {len(flagged)}"
    assert f"Throughput saturates at batch {sat['saturation_batch']}" in html_text
    assert f"{QUICK_PASSES.passes} passes): " in md
    for batch in batches:
        assert any(line.startswith(f"| {batch} |") or line.startswith(f"| **{batch} (")
                   or line.startswith(f"| {batch} (") for line in md.splitlines())
    assert "back-to-back" not in md.lower()  # a CPU run: every call is synchronous

    figures = json.loads((out / MANIFEST).read_text())["figures"]
    # One figure per model with a measured point (on a loaded machine the LSTM's first call can already be
    # over the quick time cap, and it then has none); the suite measures the device's peaks and counts
    # FLOPs, so the run gets its roofline too.
    measured = [m for m in QUICK_MODELS if any(r.model == m for r in envelope.records)]
    assert figures == ["figures/overview/cpu.png"] + [
        f for m in measured for f in (f"figures/quick/{m}-cpu-float32.png",
                                      f"figures/quick/{m}-cpu-float32-memory.png")] + [
        "figures/quick/roofline-cpu-float32.png"]  # the overview, each model's curves and memory, the roofline
    for rel in figures:
        with Image.open(out / rel) as img:
            img.verify()
    assert re.findall(r'<img src="([^"]+)"', html_text) == figures
    assert "### Where the time goes (roofline)" in md
    assert (out / "inputs" / "quick.json").read_bytes() == quick_run.read_bytes()

    # The same file against itself: identical samples, identical intervals, nothing to flag.
    same = compare_envelopes(envelope, read_envelope(quick_run))
    assert same.counts()["unchanged"] == len(envelope.records)
    assert not same.has_regression
