"""End to end: the real benchmark suite in --quick mode writes the JSON, the report renders it.

The session's one real quick run (``quick_bench``: the MLP and LSTM at batch sizes 1-8 on the CPU, through
``dlplayground bench --report``) checks that the generator reads what the producer actually writes, not just
what the hand-made fixtures say it writes.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from dlplayground.report import compare_envelopes
from dlplayground.report.build import MANIFEST
from dlplayground.results import read_envelope

ROOT = Path(__file__).resolve().parents[1]


def test_report_from_the_real_quick_suite(quick_bench):
    quick_run, out = quick_bench.json_path, quick_bench.report_dir
    envelope = read_envelope(quick_run)
    assert envelope.study == "batch_size"
    assert sorted(r.batch_size for r in envelope.records if r.model == "mlp") == [1, 2, 4, 8]
    sat = envelope.saturation["mlp"]
    assert f"bench: report written to {out / 'index.html'}" in quick_bench.proc.stdout

    md = (out / "index.md").read_text()
    html_text = (out / "index.html").read_text()
    summary = next(line for line in md.splitlines() if line.startswith("| mlp | cpu | float32 |"))
    cells = [c.strip() for c in summary.split("|")[1:-1]]
    assert cells[3].split(" ")[0] == str(sat["saturation_batch"])
    assert f"({sat['ci_low']}–{sat['ci_high']})" in cells[3].replace("CI ", "")
    assert cells[4] == str(sat["best_batch"])
    assert cells[6] == (str(sat["slo_batch"]) if sat["slo_batch"] is not None else "—")
    assert f"Throughput saturates at batch {sat['saturation_batch']}" in html_text
    for batch in (1, 2, 4, 8):
        assert any(line.startswith(f"| {batch} |") or line.startswith(f"| **{batch} (") for line in md.splitlines())

    figures = json.loads((out / MANIFEST).read_text())["figures"]
    # The suite measures the device's peaks and counts FLOPs, so the run gets its roofline too.
    assert figures == ["figures/quick/mlp-cpu-float32.png", "figures/quick/lstm-cpu-float32.png",
                       "figures/quick/roofline-cpu-float32.png"]
    for rel in figures:
        with Image.open(out / rel) as img:
            img.verify()
    assert html_text.count('<img src="data:image/png;base64,') == 3
    assert "### Where the time goes (roofline)" in md
    assert (out / "inputs" / "quick.json").read_bytes() == quick_run.read_bytes()

    # The same file against itself: identical samples, identical intervals, nothing to flag.
    same = compare_envelopes(envelope, read_envelope(quick_run))
    assert same.counts()["unchanged"] == 8
    assert not same.has_regression
