"""The report generator on hand-made results files: content, figures, escaping, merging, bad input."""

from __future__ import annotations

import argparse
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlplayground.errors import UserInputError
from dlplayground.report import build_report
from dlplayground.report.build import MANIFEST
from dlplayground.report.cli import add_compare_parser, add_report_parser
from dlplayground.report.document import fmt_estimate
from dlplayground.report.plots import PNG_DPI
from dlplayground.report.render import md_inline
from dlplayground.results import Figure, Metrics, Table


def manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST).read_text())


def report_md(out: Path) -> str:
    """Every page of the report as Markdown, the index first (a one-page report is its index alone)."""
    return "\n".join((out / f"{page['name']}.md").read_text() for page in manifest(out)["pages"])


def report_html(out: Path) -> str:
    return "\n".join((out / f"{page['name']}.html").read_text() for page in manifest(out)["pages"])


def md_row(md: str, first_cell: str) -> str:
    """The Markdown table row whose first cell is ``first_cell`` (bold or not)."""
    for line in md.splitlines():
        cells = [c.strip().strip("*") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and cells[0] == first_cell:
            return line
    raise AssertionError(f"no table row starting with {first_cell!r}")


def cells(row: str) -> list[str]:
    return [c.strip().strip("*") for c in re.split(r"(?<!\\)\|", row)[1:-1]]


def table_row(md: str, first_cell: str, *, marked: bool = False) -> dict[str, str]:
    """The first Markdown table row whose first cell is ``first_cell`` (with ``marked``, also ``first_cell (...)``:
    a batch marked saturation or best), keyed by its table's header."""
    lines = md.splitlines()
    for i, line in enumerate(lines):
        row = cells(line) if line.startswith("|") else []
        if row and (row[0] == first_cell or (marked and row[0].startswith(f"{first_cell} ("))):
            top = i
            while top > 0 and lines[top - 1].startswith("|"):
                top -= 1
            return dict(zip(cells(lines[top]), row, strict=True))
    raise AssertionError(f"no table row starting with {first_cell!r}")


def cli(argv: list[str]) -> int:
    """The subcommands as the main CLI wires them: UserInputError -> exit 2."""
    parser = argparse.ArgumentParser(prog="dlplayground")
    sub = parser.add_subparsers(required=True)
    add_report_parser(sub)
    add_compare_parser(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserInputError as exc:
        print(f"error: {exc}")
        return 2


# ------------------------------------------------------------------------------------------ content
def test_batch_report_shows_saturation_tables_and_valid_figures(batch_result, tmp_path):
    src = batch_result("cpu-run", models=("mlp", "cnn"), seed=1)
    out = tmp_path / "report"
    index = build_report([src], out)

    assert index == out / "index.html"
    md = report_md(out)
    html_text = index.read_text()
    # Summary row per model: saturation batch 16 with its CI, best batch 64, SLO batch 16, why the range
    # stopped, no unstable point (2 % noise per call, no shift between passes), what bounds it.
    row = table_row(md, "mlp")
    assert row["saturation batch (CI)"] == "16 (CI 8–32)"
    assert row["best items/s @ batch"].endswith(" @ 64")
    assert row["p50 ms at batch 1"] == cells(md_row(md, "1"))[1]
    assert row["p50 ms at saturation"] == cells(md_row(md, "16 (saturation)"))[1]
    assert row["best within p99 budget"] == "16"
    assert row["range stopped"] == "knee"
    assert row["unstable points"] == "0 of 7"
    assert row["diagnosis"] == "overhead-bound"
    assert "- passes: 5 interleaved passes per point" in md
    # The one page answers first: each model's saturation batch with its interval.
    answer = md.index("**Answer:** On cpu (Test CPU), a bigger batch stops paying off at batch: mlp 16 (8–32), "
                      "cnn 16 (8–32) (saturation batch with its 95% interval).")
    assert answer < md.index("figures/overview/cpu.png") < md.index("**Summary**") < md.index("### mlp")
    assert "Throughput saturates at batch 16 (95% CI 8–32, 5 passes)" in md
    assert "Throughput saturates at batch 16 (95% CI 8–32, 5 passes)" in html_text
    assert "No unstable point: every between-pass spread is at most 10% (7 points, 5 passes)." in md
    # Per-point table: every batch size, the saturation row marked, 20 samples: 5 passes of 4 calls.
    for batch in (1, 2, 4, 8, 32):
        assert table_row(md, str(batch))["passes × calls"] == "5 × 4"
    assert cells(md_row(md, "16 (saturation)"))[0] == "16 (saturation)"
    assert cells(md_row(md, "64 (best)"))[0] == "64 (best)"
    # p50 at batch 1 is a + c = 0.45 ms (noise 2 %).
    assert float(cells(md_row(md, "1"))[1]) == pytest.approx(0.45, rel=0.03)

    figures = manifest(out)["figures"]
    assert figures == ["figures/overview/cpu.png", "figures/cpu-run/mlp-cpu-float32.png",
                       "figures/cpu-run/cnn-cpu-float32.png"]
    for rel in figures:
        with Image.open(out / rel) as img:
            img.verify()
        with Image.open(out / rel) as img:
            assert img.format == "PNG"
            assert img.size[0] == 11 * PNG_DPI
            assert 4.5 * PNG_DPI < img.size[1] < 6 * PNG_DPI
            assert len(img.convert("L").getcolors(maxcolors=4096) or range(4097)) > 20  # a drawing, not a blank canvas
        svg = ET.parse(out / rel.replace(".png", ".svg")).getroot()
        assert svg.tag.endswith("svg")
        assert f"]({rel})" in md  # Markdown links the file beside it
    # HTML links each figure file beside it (not inlined: the page stays small) and loads nothing from elsewhere.
    assert [f for f in re.findall(r'<img src="([^"]+)"', html_text)] == figures
    assert "img-src &#39;self&#39;" in html_text
    assert "data:" not in html_text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html_text)
    assert "<link" not in html_text
    assert "Content-Security-Policy" in html_text
    # A byte-identical copy of the input.
    assert (out / "inputs" / "cpu-run.json").read_bytes() == src.read_bytes()


def merge_models(target: Path, *others: Path) -> Path:
    """Add the models of ``others`` (points, sweeps, saturation) to the results file ``target``."""
    data = json.loads(target.read_text())
    for other in others:
        extra = json.loads(other.read_text())
        data["benchmarks"] += extra["benchmarks"]
        for key in ("sweeps", "saturation"):
            data["dlplayground"][key].update(extra["dlplayground"][key])
    target.write_text(json.dumps(data))
    return target


def edit_points(path: Path, change) -> Path:
    """Apply ``change(extra_info)`` to every point of a results file."""
    data = json.loads(path.read_text())
    for bench in data["benchmarks"]:
        change(bench["extra_info"])
    path.write_text(json.dumps(data))
    return path


def pass_cv(extra: dict) -> float:
    """Between-pass spread of a point, straight from its samples: SD / mean of the per-pass medians."""
    times, index = np.asarray(extra["times_s"]), np.asarray(extra["pass_index"])
    medians = np.array([np.median(times[index == p]) for p in np.unique(index)])
    return float(medians.std(ddof=1) / medians.mean())


def svg_text(path: Path) -> str:
    return " ".join(ET.parse(path).getroot().itertext())


def test_report_shows_between_pass_intervals_unstable_points_and_stop_reason(batch_result, tmp_path):
    steady = batch_result("run", models=("steady",), seed=1, saturation={
        "reference_throughput_items_s": 3700.0, "best_throughput_ci": [3800.0, 4100.0],
        "latency_model": {"a_ms": 0.2, "c_ms_per_item": 0.25, "r2": 0.99, "a_ci_ms": [0.15, 0.25],
                          "c_ci_ms_per_item": [0.24, 0.26]}})
    # Each pass shifted by a log-normal factor of SD 0.3: the per-pass medians spread far beyond 10 %.
    shaky = batch_result("shaky", models=("shaky",), seed=2, pass_noise=0.3)
    points = {(b["extra_info"]["model"], b["extra_info"]["batch_size"]): b["extra_info"]
              for path in (steady, shaky) for b in json.loads(path.read_text())["benchmarks"]}
    # What the sweep writes into extra_info for humans is not trusted: the report derives it from the samples.
    edit_points(shaky, lambda extra: extra.update(between_pass_cv=0.0, unstable=False, p50_ci_ms=[1.0, 1.0]))
    src = merge_models(steady, shaky)
    out = tmp_path / "r"
    build_report([src], out)
    md = report_md(out)

    cv = {key: pass_cv(extra) for key, extra in points.items()}
    flagged = sorted((b for (m, b), v in cv.items() if m == "shaky" and v > 0.10), key=lambda b: -cv["shaky", b])
    assert len(flagged) >= 5  # the fixture is as shaky as intended
    assert all(v <= 0.10 for (m, _), v in cv.items() if m == "steady")
    assert table_row(md, "steady")["unstable points"] == "0 of 7"
    assert table_row(md, "shaky")["unstable points"] == f"{len(flagged)} of 7"
    for model in ("steady", "shaky"):
        assert table_row(md, model)["range stopped"] == "knee"
        assert "- passes: 5 interleaved passes per point" in after(md, f"### {model} — cpu, float32")
    listed = ", ".join(f"batch {b} ({cv['shaky', b]:.0%})" for b in flagged)
    assert f"Unstable (between-pass spread above 10%): {listed}. Their medians moved" in md

    for model in ("steady", "shaky"):
        section = after(md, f"### {model} — cpu, float32")
        for batch in (1, 2, 4, 8, 32):
            row = table_row(section, str(batch), marked=True)
            extra = points[model, batch]
            assert row["passes × calls"] == "5 × 4"
            assert row["spread between passes"] == f"{cv[model, batch]:.1%}" + (
                " unstable" if cv[model, batch] > 0.10 else "")
            low, high = (float(v.replace(",", "")) for v in row["p50 95% CI ms"].split("–"))
            assert low <= extra["p50_ms"] * 1.005
            assert extra["p50_ms"] <= high * 1.005
            half_width = (high - low) / 2 / extra["p50_ms"]
            floor = int(row["noise floor vs. a same-noise run"].lstrip("\\+").rstrip("%"))
            if model == "steady":
                # Known answer: with a tight interval the floor is the default run-to-run drift alone,
                # exp(z_99 * sqrt(2) * 10% + log 1.05) - 1 = +51 %.
                assert half_width < 0.03
                assert floor == 51
            else:
                assert floor > 51
    shaky_rows = {b: table_row(after(md, "### shaky"), str(b), marked=True) for b in flagged}
    highs = {b: float(row["p50 95% CI ms"].split("–")[1].replace(",", "")) for b, row in shaky_rows.items()}
    assert max(highs[b] / points["shaky", b]["p50_ms"] for b in flagged) > 1.1  # the intervals widen with drift

    # The saturation callout and facts: interval and passes, the robust reference, the stop, a and c intervals.
    section = after(md, "### steady — cpu, float32")
    assert "Throughput saturates at batch 16 (95% CI 8–32, 5 passes)" in section
    assert "at batch 64 (95% CI 3,800–4,100). The knee is judged against the robust reference 3,700 items/s" in section
    assert "Range stopped: knee — no doubling past batch 16 gained more than 5%." in section
    assert "- range stopped: knee: no doubling past batch 16 gained more than 5%" in section
    assert ("- latency model: t(b) = 0.200 \\[0.150–0.250\\] ms + 0.250 \\[0.240–0.260\\] ms × b (R² 0.990); "
            "95% intervals in brackets") in section
    # A CPU run has no back-to-back figure, so neither the columns nor the basis sentence.
    assert "back-to-back" not in md.lower()
    assert "saturation analysis uses the" not in md
    # Hollow markers, and their legend entry, only where a point is unstable.
    assert "unstable (between-pass spread > 10%)" in svg_text(out / "figures/run/shaky-cpu-float32.svg")
    assert "unstable (between-pass spread > 10%)" not in svg_text(out / "figures/run/steady-cpu-float32.svg")
    assert "95% interval between passes" in svg_text(out / "figures/run/steady-cpu-float32.svg")


def test_gpu_run_shows_back_to_back_throughput_and_the_basis(batch_result, tmp_path):
    """Back-to-back blocks 20 % faster per call than the synchronized calls: throughput +25 %."""
    src = batch_result("gpu", device="cuda", saturation={"throughput_basis": "per-call synchronized median (test)"})
    edit_points(src, lambda extra: extra.update(block_times_s=[0.8 * extra["p50_ms"] / 1e3] * 5))
    out = tmp_path / "r"
    build_report([src], out)
    md = report_md(out)
    for batch in (1, 8, 32):
        row = table_row(md, str(batch))
        per_call = float(row["items/s"].replace(",", ""))
        assert float(row["back-to-back items/s"].replace(",", "")) == pytest.approx(per_call / 0.8, rel=0.01)
        gap, per_call_ms = row["back-to-back gain (launch overhead)"].split(" (")
        assert gap == "\\+25%"
        assert float(per_call_ms.removesuffix(" ms/call)")) == pytest.approx(0.2 * float(row["p50 ms"]), rel=0.01)
    assert "The saturation analysis uses the per-call synchronized median (test)." in md
    assert "back-to-back throughput (one sync per block)" in svg_text(out / "figures/gpu/mlp-cuda-float32.svg")


@pytest.mark.parametrize(("reason", "advice"), [
    ("batch cap", "raise --max-batch to let the doubling go further."),
    ("time cap", "the next doubling's call was over the --max-call-s cap; raise it to measure further."),
    ("end of the list", "extend --batch-sizes to find the real plateau."),
])
def test_sweep_edge_advice_follows_the_stop_reason(batch_result, tmp_path, reason, advice):
    src = batch_result("edge", saturation={"at_sweep_edge": True})
    data = json.loads(src.read_text())
    data["dlplayground"]["sweeps"]["mlp"].update(stop_reason=reason, stop_detail="why")
    src.write_text(json.dumps(data))
    build_report([src], tmp_path / "r")
    md = report_md(tmp_path / "r")
    assert table_row(md, "mlp")["range stopped"] == reason
    assert f"so throughput may still grow beyond it: {advice}" in md


def test_single_pass_points_have_no_spread(batch_result, tmp_path):
    build_report([batch_result("one", passes=1)], tmp_path / "r")
    md = report_md(tmp_path / "r")
    assert "One pass per point: no between-pass spread to judge stability by." in md
    row = table_row(md, "1")
    assert (row["passes × calls"], row["spread between passes"], row["noise floor vs. a same-noise run"]) == (
        "1 × 20", "—", "—")
    assert table_row(md, "mlp")["unstable points"] == "0 of 7"


def test_oom_boundary_budget_and_requested_points(batch_result, tmp_path):
    src = batch_result("gpu", device="cuda", oom_batch_size=32)
    out = tmp_path / "r"
    build_report([src], out)
    md = report_md(out)
    assert "out of memory: at batch 32 (CUDA out of memory); the sweep stopped there" in md
    assert "requested, not measured: 32, 64" in md
    assert table_row(md, "mlp")["range stopped"] == "knee"  # the fixture's range; the passes then hit the OOM
    assert "latency budget (p99): 5 ms → best-throughput batch within it: batch 16" in md
    assert "CUDA allocator peak for this point" in md


def test_optional_saturation_fields_and_an_unmeasured_model(batch_result, tmp_path):
    src = batch_result("partial", saturation={"latency_model": None, "slo_batch": None, "latency_budget_ms": None})
    data = json.loads(src.read_text())
    data["dlplayground"]["sweeps"]["ghost"] = {**data["dlplayground"]["sweeps"]["mlp"], "measured": [],
                                               "oom_batch_size": 1}
    src.write_text(json.dumps(data))
    out = tmp_path / "r"
    build_report([src], out)
    md = report_md(out)
    assert table_row(md, "mlp")["best within p99 budget"] == "—"
    assert "latency model" not in md
    assert "model 'ghost' has no measured points (out of memory at batch 1)" in md


@pytest.mark.parametrize(("entry", "change", "message"), [
    ("saturation", {"ci_high": "wide"}, r"saturation\['mlp'\] is malformed: Saturation.ci_high must be int, got"),
    ("saturation", {"gain_per_doubling": [7]}, r"saturation\['mlp'\] is malformed: GainStep: expected an object"),
    ("saturation", {"surprise": 1}, r"saturation\['mlp'\] is malformed: Saturation: unknown field\(s\) \['surprise'\]"),
    ("sweeps", {"batch_sizes": "1,2"}, r"sweeps\['mlp'\] is malformed: SweepRecord.batch_sizes must be"),
    ("sweeps", None, r"sweeps\['mlp'\] must be an object, got NoneType"),
])
def test_malformed_entries_are_refused_naming_the_file(batch_result, tmp_path, entry, change, message):
    src = batch_result("bad")
    data = json.loads(src.read_text())
    section = data["dlplayground"][entry]
    section["mlp"] = None if change is None else {**section["mlp"], **change}
    src.write_text(json.dumps(data))
    with pytest.raises(UserInputError, match=re.escape(str(src)) + ".*" + message):
        build_report([src], tmp_path / "r")
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------------------- escaping
def test_values_are_escaped_in_html_and_markdown(batch_result, tmp_path):
    evil = "<script>alert(1)</script>|`x`$y"
    src = batch_result("evil", models=(evil,), saturation={"diagnosis": {
        "bound": "overhead-bound", "batch_size": 16, "text": "<b>bold</b> | *star*"}})
    out = tmp_path / "r"
    build_report([src], out, title="<img src=x onerror=alert(2)>")
    html_text = report_html(out)
    body = html_text.split("<body>", 1)[1]
    assert "<script>alert" not in html_text
    assert "<b>bold" not in html_text
    assert "<img src=x" not in html_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;|`x`$y" in body
    assert "&lt;img src=x onerror=alert(2)&gt;" in html_text
    assert html_text.count("<script") == 0  # the page runs no script at all
    assert "script-src &#39;none&#39;" in html_text

    svgs = sorted((out / "figures" / "evil").glob("*.svg"))
    assert len(svgs) == 1
    for svg in svgs:
        assert "<script" not in svg.read_text()
        ET.parse(svg)  # still well-formed XML with the name inside
    md = report_md(out)
    assert "<script>" not in md
    assert "<b>" not in md
    assert "<img" not in md.split("\n", 1)[0]
    row = md_row(md, r"&lt;script&gt;alert(1)&lt;/script&gt;\|\`x\`$y")
    header = md_row(md, "model")
    assert len(cells(row)) == len(cells(header))  # the pipe in the name did not add a column
    assert r"- diagnosis: &lt;b&gt;bold&lt;/b&gt; \| \*star\*" in md


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a|b", r"a\|b"),
        ("`code`", r"\`code\`"),
        ("<script>", "&lt;script&gt;"),
        ("# not a heading", r"\# not a heading"),
        ("1. not a list", r"1\. not a list"),
        ("0.376", "0.376"),
        ("two\nlines", "two lines"),
        ("[link](x)", r"\[link\](x)"),
        ("snake_case & co", r"snake\_case &amp; co"),
    ],
)
def test_md_inline_escapes(text, expected):
    assert md_inline(text) == expected


# ------------------------------------------------------------------------------------ merged views
def test_cross_device_view(batch_result, tmp_path):
    cpu = batch_result("cpu", device="cpu", seed=1)
    gpu = batch_result("cuda", device="cuda", slowdown=0.25, seed=2, environment={"device_name": "Fake GPU"})
    out = tmp_path / "r"
    build_report([cpu, gpu], out)
    md = report_md(out)
    assert "## Across devices" in md
    assert "## Across runs" not in md  # two runs, but they share no (model, device, dtype)
    assert "figures/across-devices/mlp.png" in manifest(out)["figures"]
    cpu_row, gpu_row = cells(md_row(md, r"cpu, float32 \[cpu\]")), cells(md_row(md, r"cuda, float32 \[cuda\]"))
    assert cpu_row[1] == "Test CPU"
    assert gpu_row[1] == "Fake GPU"
    assert cpu_row[4] == "×1.00"
    assert float(gpu_row[4].lstrip("×")) == pytest.approx(4.0, rel=0.03)  # 4x faster at every point


def test_cross_run_view_calls_regressions(batch_result, tmp_path):
    base = batch_result("base", seed=1)
    # Twice as slow: beyond compare's default noise (10 % run-to-run drift on each side, at 99 %) plus 5 %.
    slow = batch_result("slow", seed=2, slowdown=2.0)
    same = batch_result("same", seed=3)
    out = tmp_path / "r"
    build_report([base, slow, same], out)
    md = report_md(out)
    assert "### mlp — cpu, float32 across runs" in md
    assert "> **slow vs. base:** 7 regression(s), 0 improvement(s), 0 unchanged, " in md
    assert "> **same vs. base:** 0 regression(s), 0 improvement(s), 7 unchanged, " in md
    assert "figures/across-runs/mlp-cpu-float32.png" in manifest(out)["figures"]
    html_text = report_html(out)
    assert 'class="callout bad"><span class="title">slow vs. base:' in html_text


# ------------------------------------------------------------------------------------- experiments
def test_experiment_section_renders_the_study_result(experiment_result, tmp_path):
    metrics = Metrics()
    metrics.add("accuracy", 0.93751, "Held-out accuracy", percent=True, ci=(0.9112, 0.9561), key_number=True)
    metrics.add("components", 40, "Components kept", unit="components", key_number=True)
    metrics.add("fit_s", 12.3456, "Fitting time", unit="s")
    folder = experiment_result(
        "eig", verdict="Holds: 40 components reach 93.75 % accuracy, by the rule in the docs.",
        answer="Yes: 40 components reach 93.8 % accuracy.", metrics={**metrics.values, "legacy_key": 7},
        labels=metrics.labels,
        data_source="digits (offline fallback; pass --olivetti PATH for the real data)",
        tables=[Table("Accuracy by components", ["components", "accuracy"], [[10, 0.8125], [40, 0.9375]],
                      note="5-fold CV")],
        extra_figures=[Figure("escape", "../outside.png"), Figure("gone", "missing.png")],
    ).parent
    (folder.parent / "outside.png").write_bytes(b"secret")
    out = tmp_path / "r"
    build_report([folder], out)  # a folder input means its result.json
    md = report_md(out)
    html_text = report_html(out)
    assert "# DL-Playground: Eigenfaces: face vs. no-face detection with PCA" in md
    # The order: question, answer, lead figure, key numbers, the details folded, provenance.
    order = ["Does PCA find faces?", "> **Answer:** Yes: 40 components reach 93.8 % accuracy.",
             "figures/eig/curve.png", "**Key numbers**", "<details><summary>How the answer was reached</summary>",
             "<details><summary>Other metrics (2)</summary>", "<summary>Accuracy by components (2 rows)</summary>",
             "**Provenance**"]
    assert [md.index(text) for text in order] == sorted(md.index(text) for text in order)
    assert "Holds: 40 components reach 93.75 % accuracy, by the rule in the docs." in md  # the reasoning, folded
    # Labels, units and the precision the interval supports; the keys stay in the JSON only.
    assert cells(md_row(md, "Held-out accuracy")) == ["Held-out accuracy", "93.8 %", "91.1–95.6 %"]
    assert cells(md_row(md, "Components kept")) == ["Components kept", "40 components", ""]
    assert cells(md_row(md, "Fitting time")) == ["Fitting time", "12.3 s", ""]
    assert cells(md_row(md, "legacy key")) == ["legacy key", "7", ""]  # an undeclared metric: its key de-snaked
    assert "accuracy_ci" not in md
    assert "fit_s" not in md
    assert "> **Offline fallback data:** digits (offline fallback; pass --olivetti PATH for the real data)" in md
    assert cells(md_row(md, "40")) == ["40", "0.9375"]
    assert "_5-fold CV_" in md
    assert "figure '../outside.png' points outside the results folder; not copied" in md
    assert "figure 'missing.png' is listed but missing; not shown" in md
    assert manifest(out)["figures"] == ["figures/eig/curve.png"]
    with Image.open(out / "figures/eig/curve.png") as img:
        assert img.size == (64, 48)
    assert html_text.count("<img ") == 1
    assert 'alt="Figure 0"' in html_text
    assert '<div class="callout info"><span class="title">Answer:</span>Yes: 40 components' in html_text
    assert "<details><summary>How the answer was reached</summary>" in html_text


def test_fmt_estimate_rounds_to_the_interval():
    assert fmt_estimate(0.7342, [0.701, 0.770]) == ("0.734", "0.701–0.770")
    assert fmt_estimate(0.7342, [0.701, 0.770], percent=True) == ("73.4 %", "70.1–77.0 %")
    assert fmt_estimate(12345.6, [11000, 13900], unit="items/s") == ("12,300 items/s", "11,000–13,900")
    assert fmt_estimate(40, unit="images") == ("40 images", "")
    assert fmt_estimate(0.1234, percent=True) == ("12.3 %", "")
    assert fmt_estimate("holds") == ("holds", "")
    assert fmt_estimate(None) == ("—", "")
    assert fmt_estimate(3.0, [3.0, 3.0]) == ("3.00", "3.00–3.00")  # no width: 3 significant figures
    assert fmt_estimate(0.0, [0.0, 0.0], percent=True) == ("0 %", "0–0 %")
    assert fmt_estimate(-0.495, [-0.563, -0.418], percent=True) == ("-49.5 %", "-56.3 to -41.8 %")
    assert fmt_estimate(0.68923) == ("0.689", "")


def test_mixed_report_title_and_unknown_study(batch_result, experiment_result, tmp_path):
    out = tmp_path / "r"
    build_report([batch_result("b"), experiment_result("x", study="my_new_study")], out)
    md = report_md(out)
    assert md.startswith("# DL-Playground report\n")
    assert "## [My new study](my-new-study.md)" in md  # its card on the index
    assert "# My new study\n" in md  # its page
    assert [i["label"] for i in manifest(out)["inputs"]] == ["b", "x"]


# -------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json {", "is not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"benchmarks": []}', "no 'dlplayground' section"),
        ('{"dlplayground": {"study": "batch_size", "schema": 99}}', "schema version 99"),
    ],
)
def test_bad_input_names_the_file_and_writes_nothing(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "out"
    assert cli(["report", str(bad), "-o", str(out)]) == 2
    printed = capsys.readouterr().out
    assert printed.startswith("error: ")
    assert str(bad) in printed
    assert message in printed
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.json"]  # no partial folder left behind


def test_empty_input_list_and_missing_file(tmp_path, capsys):
    assert cli(["report", "-o", str(tmp_path / "o")]) == 2
    assert "no results files given" in capsys.readouterr().out
    assert cli(["report", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().out
    assert not (tmp_path / "o").exists()


def test_unwritable_or_foreign_output_folder(batch_result, tmp_path):
    src = batch_result("b")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(UserInputError, match="cannot be created"):
        build_report([src], blocker / "report")
    with pytest.raises(UserInputError, match="is a file, not a folder"):
        build_report([src], blocker)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(UserInputError,
                       match="holds files that are not a DL-Playground output .no report-manifest.json.; refusing"):
        build_report([src], foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_failure_midway_keeps_the_previous_report(batch_result, tmp_path, monkeypatch):
    src = batch_result("b")
    out = tmp_path / "r"
    build_report([src], out, title="first")
    before = (out / "index.html").read_text()

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("dlplayground.report.build.render_html", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_report([src], out, title="second")
    assert (out / "index.html").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "r"]
    monkeypatch.undo()
    build_report([src], out, title="second")  # an earlier report is replaced whole
    assert "<title>second</title>" in (out / "index.html").read_text()


def test_main_cli_report(batch_result, tmp_path, capsys):
    from dlplayground.cli import main

    out = tmp_path / "r"
    assert main(["report", str(batch_result("b")), "-o", str(out), "--title", "T"]) == 0
    assert f"report: {out / 'index.html'}" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "none.json"), "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith("error: results file")


# ---------------------------------------------------------------------------------------- roofline
# Ceilings of the roofline fixtures: ridge at 5000 / 50 = 100 FLOP/B. The fixture's t(16) = 0.2 + 0.25*16 =
# 4.2 ms, so 1 GFLOP per item is 16e9 FLOP / 4.2 ms = 3810 GFLOP/s (76 % of the peak) at the saturation batch.
PEAKS = {"matmul_gflop_s": 5000.0, "bandwidth_gb_s": 50.0, "dtype": "float32", "device": "cpu", "threads": 2}
COMPUTE_SIDE = {"flops_per_item": 1e9, "bytes_fixed": 1e6, "bytes_per_item": 1e4}  # intensity ~1.4e4 FLOP/B
MEMORY_SIDE = {"flops_per_item": 1e6, "bytes_fixed": 1e8}  # 0.16 FLOP/B; 1e8 B / 4.2 ms = 23.8 GB/s = 48 %
IDLE = {"flops_per_item": 1e3, "bytes_fixed": 1e3}  # far below both roofs


def after(md: str, heading: str) -> str:
    """The Markdown from ``heading`` on (so ``md_row`` finds rows of the tables under it)."""
    assert heading in md, heading
    return md[md.index(heading):]


def test_roofline_section_figure_and_diagnosis(batch_result, tmp_path):
    from html import unescape

    from dlplayground.report.roofline_plot import CAPTION, DIAGNOSIS_COLUMNS

    src = batch_result("run", models=("mlp", "cnn"), peaks=PEAKS, **COMPUTE_SIDE)
    out = tmp_path / "r"
    build_report([src], out)
    md = report_md(out)
    html_text = report_html(out)

    rel = "figures/run/roofline-cpu-float32.png"
    assert manifest(out)["figures"] == ["figures/overview/cpu.png", "figures/run/mlp-cpu-float32.png",
                                        "figures/run/cnn-cpu-float32.png", rel]
    with Image.open(out / rel) as img:
        img.verify()
    with Image.open(out / rel) as img:
        assert img.format == "PNG"
        assert len(img.convert("L").getcolors(maxcolors=4096) or range(4097)) > 20
    assert ET.parse(out / rel.replace(".png", ".svg")).getroot().tag.endswith("svg")
    # Markdown: its own subsection of the batch-size section, the figure beside it, the rule as caption.
    assert "### Where the time goes (roofline)" in md
    assert f"![Roofline: Test CPU (cpu, float32)]({rel})" in md
    assert md_inline("Diagnosis rule, at each model's saturation batch") in md
    # HTML: the PNG linked beside the page (4 figures: the overview, two series and the roofline), caption escaped.
    assert html_text.count("<img ") == 4
    assert f'<img src="{rel}"' in html_text
    assert unescape(html_text).count(CAPTION) == 1
    assert 'id="where-the-time-goes-roofline"' in html_text

    diagnosis = after(md, "**What bounds each model at its saturation batch**")
    header = cells(md_row(diagnosis, "model"))
    assert header == DIAGNOSIS_COLUMNS
    row = dict(zip(header, cells(md_row(diagnosis, "mlp")), strict=True))
    assert row["saturation batch"] == "16"
    assert row["FLOPs / item"] == "1,000,000,000"
    assert float(row["intensity (FLOP/B)"].replace(",", "")) == pytest.approx(16e9 / 1.16e6, rel=1e-3)
    assert float(row["GFLOP/s"].replace(",", "")) == pytest.approx(16e9 / 4.2e-3 / 1e9, rel=0.03)
    assert float(row["% of matmul peak"].rstrip("%")) == pytest.approx(76.2, abs=2.5)
    assert row["bound"] == "compute-bound"
    assert row["diagnosis"].startswith("compute-bound at batch 16: intensity")
    assert cells(md_row(diagnosis, "cnn"))[8] == "compute-bound"
    # Every point, folded in the HTML: 7 batch sizes x 2 models.
    points = after(md, "<details><summary>Every point on the roofline (14 rows)</summary>")
    assert cells(md_row(points, "mlp"))[1] == "1"
    assert "<summary>Every point on the roofline (14 rows)</summary>" in html_text


@pytest.mark.parametrize(
    ("counts", "bound"),
    [(MEMORY_SIDE, "memory-bound"), (IDLE, "overhead-bound"),
     ({**COMPUTE_SIDE, "a_ms": 20.0}, "overhead-bound")],  # a = 20 ms of t(16) = 24 ms: the fixed part dominates
    ids=["memory", "idle", "fixed-cost"],
)
def test_roofline_diagnosis_bounds(batch_result, tmp_path, counts, bound):
    out = tmp_path / "r"
    build_report([batch_result("run", peaks=PEAKS, batch_sizes=(1, 4, 16), **counts)], out)
    md = report_md(out)
    row = cells(md_row(after(md, "**What bounds each model at its saturation batch**"), "mlp"))
    assert row[8] == bound
    assert row[9].startswith(f"{bound} at batch 16")


def test_no_roofline_without_peaks_or_flops(batch_result, tmp_path):
    cases = {
        "old": {},  # an older file: neither peaks nor FLOPs
        "flopless": {"peaks": PEAKS},  # peaks, but no model has a FLOP count
        "counted": COMPUTE_SIDE,  # FLOPs, but no peaks
        "other-dtype": {"peaks": {**PEAKS, "dtype": "float16"}, **COMPUTE_SIDE},
    }
    for name, kwargs in cases.items():
        out = tmp_path / name
        build_report([batch_result(name, **kwargs)], out)
        md = report_md(out)
        html_text = report_html(out)
        assert "Where the time goes" not in md, name
        assert "Where the time goes" not in html_text, name
        assert manifest(out)["figures"] == ["figures/overview/cpu.png", f"figures/{name}/mlp-cpu-float32.png"], name
        assert manifest(out)["warnings"] == [], name
        notes = [" ".join(line.split()) for line in md.splitlines() if line.startswith("No roofline for")]
        if name == "flopless":
            assert notes == ["No roofline for flopless (cpu, float32): its points carry no FLOP counts (an older "
                             "benchmark suite, or models the FLOP counter does not cover)."]
        elif name == "other-dtype":
            assert notes == ["No roofline for other-dtype: its peaks were measured on cpu at float16, which none "
                             "of its series ran on."]
        else:
            assert notes == [], name


def test_roofline_per_run_and_escaped(batch_result, tmp_path):
    evil = "<script>alert(1)</script>$x"
    cpu = batch_result("cpu", models=(evil,), peaks=PEAKS, **COMPUTE_SIDE)
    # Peaks measured on "cuda:0" are the ceilings of records on "cuda"; no peaks on the third run.
    gpu = batch_result("gpu", device="cuda", slowdown=0.25, peaks={**PEAKS, "device": "cuda:0"}, **MEMORY_SIDE)
    out = tmp_path / "r"
    build_report([cpu, gpu, batch_result("plain", seed=3)], out)
    md = report_md(out)
    html_text = report_html(out)
    assert "### Where the time goes (roofline): cpu, float32 \\[cpu\\]" in md
    assert "### Where the time goes (roofline): cuda, float32 \\[gpu\\]" in md
    assert md.count("### Where the time goes") == 2
    figures = manifest(out)["figures"]
    assert "figures/cpu/roofline-cpu-float32.png" in figures
    assert "figures/gpu/roofline-cuda-float32.png" in figures
    assert not any(f.startswith("figures/plain/roofline") for f in figures)
    assert "<script>alert" not in html_text
    assert "<script>" not in md
    escaped = r"&lt;script&gt;alert(1)&lt;/script&gt;$x"
    row = cells(md_row(after(md, "### Where the time goes (roofline): cpu"), escaped))
    assert row[8] == "compute-bound"
    assert cells(md_row(after(md, "### Where the time goes (roofline): cuda"), "mlp"))[8] == "memory-bound"
    ET.parse(out / "figures/cpu/roofline-cpu-float32.svg")  # the name inside is still well-formed XML


@pytest.mark.parametrize(("peaks", "message"), [
    ({"matmul_gflop_s": "fast"}, "Peaks.matmul_gflop_s must be float, got 'fast'"),
    ({"bandwidth_gb_s": -1}, "bandwidth_gb_s must be a finite number > 0, got -1"),
])
def test_malformed_peaks_are_refused_naming_the_file(batch_result, tmp_path, peaks, message):
    src = batch_result("bad-peaks", peaks=peaks, **COMPUTE_SIDE)
    with pytest.raises(UserInputError, match=re.escape(str(src)) + ".*environment.peaks is malformed: .*"
                       + re.escape(message)):
        build_report([src], tmp_path / "r")
