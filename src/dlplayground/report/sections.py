"""Build the report document from the loaded runs: what each section says, shows and tabulates.

Figures are drawn (batch-size study) or copied (experiments) into ``figures/`` under the output folder
as the document is built, so every ``FigureBlock`` names a file that exists.
"""

from __future__ import annotations

import datetime as _dt
import math
import shutil
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from PIL import Image

from dlplayground import __version__
from dlplayground.bench.explore import BATCH_CAP, KNEE, LATENCY_BUDGET, OUT_OF_MEMORY, TIME_CAP
from dlplayground.bench.noise import DEFAULT_RUN_SIGMA, POINT_LEVEL, UNSTABLE_CV, noise_floor
from dlplayground.bench.peaks import Peaks
from dlplayground.bench.record import SweepRecord
from dlplayground.bench.roofline import MATMUL, Roofs, roof_share_cell
from dlplayground.bench.variants import EAGER, speedups
from dlplayground.report import plots, roofline_plot
from dlplayground.report.compare import IMPROVEMENT, REGRESSION, compare_envelopes
from dlplayground.report.document import (
    Callout,
    Card,
    Details,
    Document,
    FigureBlock,
    KeyValues,
    Page,
    Paragraph,
    Section,
    TableBlock,
    fmt_bytes,
    fmt_cell,
    fmt_estimate,
    fmt_num,
)
from dlplayground.report.loading import ReportInputs, Run, Series, back_to_back_s, slug
from dlplayground.results import BATCH_SIZE_STUDY, MetricLabel, StudyResult, TimingRecord
from dlplayground.results import Figure as ResultFigure

STUDY_TITLES = {
    BATCH_SIZE_STUDY: "Batch size vs. inference time",
    "dropout_overfitting": "Dropout at evaluation: does it predict prunability and distillability beyond cheaper "
                           "scores?",
    "edge_operators": "Edge detection operators compared",
    "eigenfaces": "Eigenfaces: face vs. no-face detection with PCA",
    "gods_longformer": "Longformer on long-document classification (GODS)",
}
EMBEDDABLE = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
MEMORY_KINDS = {
    "cuda_max_allocated": "CUDA allocator peak for this point",
    "mps_driver_allocated": "MPS driver allocation after this point",
    "process_max_rss": "process peak resident memory so far (monotonic over the run, not per point)",
}
ROOFLINE_TITLE = "Where the time goes (roofline)"
INDEX = "index"
THUMBNAIL_WIDTH = 360  # px: an index card's figure
THUMBNAIL_SOURCES = {".png", ".jpg", ".jpeg"}


def study_title(study: str) -> str:
    """A readable section title for a study name; unknown studies get their name de-snaked."""
    return STUDY_TITLES.get(study) or study.replace("_", " ").strip().capitalize() or "Unnamed study"


def metric_rows(result: StudyResult) -> tuple[list[list[str]], list[list[str]]]:
    """``[label, value, interval]`` rows of a study's metrics: the key numbers, then the rest. Labels and units
    are the study's declarations (``StudyResult.labels``); a metric without one (an older file, another
    tool's) shows its key de-snaked, and an interval no label claims shows as a metric of its own."""
    claimed = {label.ci for label in result.labels.values() if label.ci}
    key_rows, other_rows = [], []
    for key, value in result.metrics.items():
        if key in claimed:
            continue
        label = result.labels.get(key) or MetricLabel(key.replace("_", " "))
        ci = result.metrics.get(label.ci) if label.ci else None
        shown, interval = fmt_estimate(value, ci, percent=label.percent, unit=label.unit)
        if not interval and isinstance(value, list | tuple) and len(value) == 2:
            shown, interval = "", fmt_estimate(None, value, percent=label.percent)[1]
        (key_rows if label.key else other_rows).append([label.label, shown, interval])
    return key_rows, other_rows


def _ci_text(lo: int | None, hi: int | None, level: float | None, extra: str = "") -> str:
    if lo is None or hi is None:
        return ""
    return f" ({level:.0%} CI {lo}–{hi}{extra})" if level else f" (CI {lo}–{hi}{extra})"


def _range_text(low: float, high: float) -> str:
    return f"{fmt_num(low)}–{fmt_num(high)}"


def _unstable_line(s: Series) -> str:
    """The short line under a model's heading: which points moved between passes, by the ``UNSTABLE_CV`` rule."""
    flagged = sorted(s.unstable, key=lambda r: -(s.noise[r.batch_size].between_pass_cv or 0.0))
    if s.passes < 2:
        return "One pass per point: no between-pass spread to judge stability by."
    if not flagged:
        return (f"No unstable point: every between-pass spread is at most {UNSTABLE_CV:.0%} "
                f"({len(s.records)} points, {s.passes} passes).")
    listed = ", ".join(f"batch {r.batch_size} ({s.noise[r.batch_size].between_pass_cv:.0%})" for r in flagged)
    return (f"Unstable (between-pass spread above {UNSTABLE_CV:.0%}): {listed}. Their medians moved while they "
            "were measured; read their intervals rather than their medians.")


def _edge_advice(sweep: SweepRecord) -> str:
    """What would extend the range, from why it stopped (``dlplayground.bench.explore.STOP_REASONS``)."""
    return {
        BATCH_CAP: "raise --max-batch to let the doubling go further.",
        TIME_CAP: "the next doubling's call was over the --max-call-s cap; raise it to measure further.",
        LATENCY_BUDGET: "the latency budget ended the range; larger batches would only be slower per call.",
        OUT_OF_MEMORY: "the next batch ran out of memory, so this is as far as this device goes.",
        KNEE: "the exploratory doubling saw the knee, but the passes measured more gain at the last batch; "
              "re-run, or pass --batch-sizes past it.",
    }.get(sweep.stop_reason, "extend --batch-sizes to find the real plateau.")


def _back_to_back_cells(record: TimingRecord) -> list[str]:
    """Back-to-back items/s and its gain over the per-call figure (the launch overhead), or dashes."""
    block_s = back_to_back_s(record)
    if block_s is None:
        return ["—", "—"]
    per_call_s = record.quantile_s(0.5)
    return [fmt_num(record.batch_size / block_s),
            f"{per_call_s / block_s - 1:+.0%} ({fmt_num((per_call_s - block_s) * 1e3)} ms/call)"]


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _placeable(record: TimingRecord) -> bool:
    """Whether a point can go on the roofline: a FLOP count and a bytes estimate, both usable numbers."""
    return _positive(record.flops) and _positive(record.bytes_moved)


def _same_device(measured: str, series: str) -> bool:
    """``cuda`` and ``cuda:0`` name the same device; ``cuda:0`` and ``cuda:1`` do not."""
    if measured == series:
        return True
    return measured.split(":")[0] == series.split(":")[0] and (":" not in measured or ":" not in series)


def _peaks_fit(peaks: Peaks, device: str, dtype: str) -> bool:
    """Whether ``peaks`` (measured on one device at one dtype) are the ceilings of a series on ``device``/``dtype``."""
    return _same_device(peaks.device, device) and peaks.dtype == dtype


def _peak_value(value: Any) -> str:
    """A value of ``environment["peaks"]``; the per-size matmul list reads ``n=256: 369 GFLOP/s (median 352)``."""
    if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
        if all({"n", "best_gflop_s"} <= v.keys() for v in value):
            return "; ".join(f"n={v['n']}: {fmt_num(v['best_gflop_s'])} GFLOP/s"
                             + (f" (median {fmt_num(v['median_gflop_s'])})" if "median_gflop_s" in v else "")
                             for v in value)
        return "; ".join(", ".join(f"{k} {fmt_num(x)}" for k, x in v.items()) for v in value)
    if isinstance(value, list | tuple):
        return ", ".join(fmt_num(v) for v in value)
    return fmt_num(value)


def _roofline_cells(columns: Sequence[str], row: Sequence[Any]) -> list[str]:
    """A row of ``roofline_plot.diagnosis_rows``/``point_rows`` as text: a share of a roof as a percentage, or
    labelled when the point is above that measured roof (``roofline.roof_share_cell``); numbers rounded."""
    return [roof_share_cell(value, roofline_plot.PCT_CEILINGS[column]) if column in roofline_plot.PCT_CEILINGS
            else fmt_num(value) for column, value in zip(columns, row, strict=True)]


def _short_commit(run: Run) -> str:
    git = run.envelope.environment.get("git") or {}
    commit = git.get("id") if isinstance(git, dict) else None
    if not commit:
        return "—"
    return str(commit)[:10] + (" (dirty)" if isinstance(git, dict) and git.get("dirty") else "")


class DocumentBuilder:
    """Turns ``ReportInputs`` into a ``Document``, writing figures under ``out_dir`` as it goes."""

    def __init__(self, inputs: ReportInputs, out_dir: Path, title: str | None = None) -> None:
        self.inputs = inputs
        self.out_dir = out_dir
        self.title = title
        self.warnings: list[str] = []
        self._anchors: set[str] = set()
        self._files: set[str] = set()
        self._pages: set[str] = set()

    # ------------------------------------------------------------------------------------ helpers
    def anchor(self, text: str) -> str:
        base = slug(text, 40) or "section"
        name, n = base, 2
        while name in self._anchors:
            name, n = f"{base}-{n}", n + 1
        self._anchors.add(name)
        return name

    def figure_base(self, folder: str, stem: str) -> Path:
        """A fresh ``figures/<folder>/<stem>`` path (no suffix) under the output folder."""
        base = f"figures/{slug(folder)}/{slug(stem)}"
        name, n = base, 2
        while name in self._files:
            name, n = f"{base}-{n}", n + 1
        self._files.add(name)
        return self.out_dir / name

    def rel(self, path: Path) -> str:
        return path.relative_to(self.out_dir).as_posix()

    @property
    def several_batch_runs(self) -> bool:
        return len(self.inputs.batch_runs) > 1

    def shared_across_runs(self) -> bool:
        """Whether some model/device/dtype was measured in more than one run (what a cross-run view lines up)."""
        runs_per_key: dict[tuple[str, str, str], set[str]] = {}
        for s in self.inputs.series:
            runs_per_key.setdefault(s.key, set()).add(s.run.label)
        return any(len(runs) > 1 for runs in runs_per_key.values())

    def series_name(self, s: Series, *, run: bool | None = None) -> str:
        name = f"{s.model} — {s.device}, {s.dtype}"
        if run if run is not None else self.several_batch_runs:
            name += f" [{s.run.label}]"
        return name

    # ------------------------------------------------------------------------------------- build
    def build(self) -> Document:
        """The pages: one per batch-size device, the cross-device, cross-run and variant views, one per
        experiment. A report of one page keeps it all on the index; otherwise the index holds a card per page
        (its answer and a thumbnail of its lead figure) and the runs' provenance."""
        pages: list[Page] = []
        if self.inputs.series:
            pages += [self.device_page(device) for device in self.inputs.devices]
            if len(self.inputs.devices) > 1:
                pages.append(self.cross_device_page())
            if self.shared_across_runs():
                pages.append(self.cross_run_page())
            variants = self.variants_page()
            if variants is not None:
                pages.append(variants)
        pages += [self.experiment_page(run) for run in self.inputs.experiment_runs]
        for run in self.inputs.runs:
            self.warnings += [f"{run.label}: {w}" for w in run.warnings]
            warning = run.batch.peaks.stability_warning() if run.batch and run.batch.peaks else None
            if warning:
                self.warnings.append(f"{run.label}: {warning}")
        studies = sorted({study_title(r.envelope.study) for r in self.inputs.runs})
        n = len(self.inputs.runs)
        subtitle = (f"{n} result file{'s' if n != 1 else ''}: {'; '.join(studies)}. Generated "
                    f"{_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.")
        if self.title:
            title = self.title
        elif len(studies) == 1:
            title = f"DL-Playground: {studies[0]}"
        else:
            title = "DL-Playground report"
        runs = self.runs_section()
        if len(pages) == 1:
            index = Page(INDEX, title, [*pages[0].sections, runs])
            pages = [index]
        else:
            for page in pages:
                page.card.thumbnail = self.thumbnail(page.card.figure)  # type: ignore[union-attr]
            index = Page(INDEX, title, [runs], cards=[(page, page.card) for page in pages if page.card])
            pages = [index, *pages]
        return Document(title=title, subtitle=subtitle, pages=pages, warnings=self.warnings,
                        generator=f"dlplayground {__version__}")

    def page(self, name: str, title: str, sections: list[Section], answer: str, tone: str = "info") -> Page:
        """A page (file ``<name>.html``), its card carrying ``answer`` and the page's first figure."""
        base = slug(name, 40) or "page"
        name, n = base, 2
        while name in self._pages or name == INDEX:
            name, n = f"{base}-{n}", n + 1
        self._pages.add(name)
        page = Page(name, title, sections)
        figure = next((b.path for b in page.blocks()
                       if isinstance(b, FigureBlock) and Path(b.path).suffix.lower() in THUMBNAIL_SOURCES), None)
        page.card = Card(title, answer, tone, figure=figure)
        return page

    def thumbnail(self, figure: str | None) -> str | None:
        """A small PNG of ``figure`` for the index card (the full figure is several times its size)."""
        if figure is None:
            return None
        dest = self.figure_base("thumbnails", Path(figure).with_suffix("").as_posix().replace("/", "-"))
        dest = dest.with_suffix(".png")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(self.out_dir / figure) as img:
            img.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * 2))
            img.save(dest, format="PNG", optimize=True)
        return self.rel(dest)

    # --------------------------------------------------------------------------------------- runs
    def runs_section(self) -> Section:
        """Provenance: every input file with its device, software and commit, and where its copy is."""
        rows = []
        for run in self.inputs.runs:
            env = run.envelope.environment
            device = ", ".join(run.envelope.devices) if run.is_batch_size else str(env.get("device", "—"))
            rows.append([run.label, study_title(run.envelope.study), device, str(env.get("device_name") or "—"),
                         str(env.get("torch") or "—"), fmt_num(env.get("torch_threads")), _short_commit(run),
                         str(env.get("created") or run.envelope.created or "—"), f"inputs/{run.label}.json"])
        blocks: list = []
        for run in self.inputs.runs:
            if run.envelope.incomplete:
                blocks.append(Callout(f"{run.label} is incomplete",
                                      f"{run.envelope.incomplete}. Its points have fewer passes than configured, so "
                                      "their intervals are wider and some points may be missing.", tone="warn"))
        blocks.append(TableBlock(
            "Result files", ["run", "study", "device", "device name", "torch", "threads", "commit", "created",
                             "copy of input"], rows,
            note="Each run's exact configuration and environment are in its copy under inputs/.",
        ))
        return Section("Runs and provenance", self.anchor("runs"), blocks)

    def peaks_blocks(self, runs: Sequence[Run]) -> list:
        """The measured peaks of each batch-size run, folded (their stability warning is the index's: ``build``)."""
        return [Details(f"Measured peaks of {run.label} ({run.device_name or 'device'})", [KeyValues(
                    [(k.replace("_", " "), _peak_value(v)) for k, v in run.batch.peaks.to_dict().items()])])
                for run in runs if run.batch is not None and run.batch.peaks is not None]

    # ---------------------------------------------------------------------------------- batch size
    def device_page(self, device: str) -> Page:
        """The batch-size study on one device: the answer, every model's relative throughput in one figure, the
        compact summary, then per model its figure and folded detail, the rooflines and the measured peaks."""
        group = [s for s in self.inputs.series if s.device == device]
        runs = [r for r in self.inputs.batch_runs if any(s.run is r for s in group)]
        title = f"{study_title(BATCH_SIZE_STUDY)}: {device}"
        answer, tone = self.device_answer(device, group)
        section = Section(title, self.anchor(f"batch-size-{device}"), [Callout("Answer", answer, tone=tone)])
        several_dtypes = len({s.dtype for s in group}) > 1
        labels = [s.model + (f" ({s.dtype})" if several_dtypes else "") + (f" [{s.run.label}]" if len(runs) > 1 else "")
                  for s in group]
        png, svg = plots.plot_across(group, labels, self.figure_base("overview", device),
                                     f"Every model on {device}: throughput relative to its best", relative=True,
                                     groups=[s.model for s in group])
        section.blocks.append(FigureBlock(
            f"Where a bigger batch stops paying off on {device}", self.rel(png),
            "Left: each model's throughput as a share of its own best, with its between-pass interval as a band; ★ "
            "marks its saturation batch (the smallest batch within eps of a robust best). Right: p50 latency per "
            "call. Past the star a bigger batch buys latency, not throughput.", svg_path=self.rel(svg)))
        section.blocks.append(self.summary_table(group, several_runs=len(runs) > 1))
        eps = next((s.saturation.eps for s in group if s.saturation and s.saturation.eps), 0.05)
        section.blocks.append(Details("How these numbers were measured", [Paragraph(
            "Each point was timed in several interleaved passes: every pass visits every (model, batch) point "
            "once, in a fresh seeded random order, so a slow spell of the machine is spread over all points "
            "instead of landing on one model or one batch range; each pass runs in a fresh worker process (each "
            "model's section says where its passes ran), so what a process fixes for its lifetime (memory "
            "layout, kernel choice) varies between passes too. Throughput X(b) = b / t(b) from the median "
            "per-call latency t(b). Every interval comes from a two-level bootstrap over the passes, then the "
            "samples within each pass; a point whose per-pass medians spread by more than "
            f"{UNSTABLE_CV:.0%} (coefficient of variation, the threshold at which pyperf warns) is flagged "
            f"unstable. The saturation batch is the smallest b whose throughput reaches {1 - eps:.0%} of a robust "
            "reference (the best point's throughput; a best more than eps above the runner-up counts only as far "
            "as its own lower confidence bound supports it), so one lucky point cannot move it; beyond it a larger "
            "batch buys latency, not throughput. Without --batch-sizes each model's range was found by doubling "
            "from batch 1 until the knee was confirmed, an out-of-memory error, the latency budget or a cap."
        )]))
        rooflines, notes = self.rooflines
        section.blocks += [Paragraph(note) for run, note in notes if run in runs]
        for run in runs:  # each run's series, then its roofline(s)
            section.children += [self.series_section(s) for s in group if s.run is run]
            section.children += [self.roofline_section(r, roofs, g, several=len(rooflines) > 1)
                                 for r, roofs, g in rooflines if r is run and g[0].device == device]
        peaks = self.peaks_blocks(runs)
        if peaks:
            section.children.append(Section(f"Measured peaks on {device}", self.anchor(f"peaks-{device}"), peaks))
        return self.page(f"batch-size-{device}", title, [section], answer, tone)

    def device_answer(self, device: str, group: Sequence[Series]) -> tuple[str, str]:
        """One or two sentences: each model's saturation batch with its interval (per run, when several runs
        measured the device), and which models never saturated or failed."""
        name = next((s.run.device_name for s in group if s.run.device_name), None)
        where = f"{device} ({name})" if name else device
        runs = list(dict.fromkeys(s.run.label for s in group))
        per_model: dict[str, list[str]] = {}
        edge, failed = [], []
        for s in group:
            sat = s.saturation
            if sat is None or sat.saturation_batch is None:
                text = "—"
            else:
                ci = (f" ({sat.ci_low}–{sat.ci_high})" if sat.ci_low is not None and sat.ci_high is not None
                      and sat.ci_low != sat.ci_high else "")
                text = f"{sat.saturation_batch}{ci}" + ("+" if sat.at_sweep_edge else "")
            per_model.setdefault(s.model, []).append(text)
            if sat is not None and sat.at_sweep_edge:
                edge.append(s.model)
            if s.sweep.failure:
                failed.append(s.model)
        listed = ", ".join(f"{model} {' / '.join(texts)}" for model, texts in per_model.items())
        whose = f"; runs {' / '.join(runs)}" if len(runs) > 1 else ""
        parts = [f"On {where}, a bigger batch stops paying off at batch: {listed} (saturation batch with its 95% "
                 f"interval{whose}{'; +: still rising at the largest batch measured' if edge else ''})."]
        if failed:
            parts.append(f"Failed part-way: {', '.join(dict.fromkeys(failed))}.")
        tone = "bad" if failed else ("warn" if edge else "good")
        return " ".join(parts), tone

    def summary_table(self, group: Sequence[Series], *, several_runs: bool) -> TableBlock:
        """The few numbers per model that answer the question, with the saturation row's latency cost."""
        rows = []
        for s in group:
            sat = s.saturation
            best = s.best_record
            at = s.record_at(sat.saturation_batch) if sat is not None else None
            b1 = s.record_at(1)
            rows.append([
                *([s.run.label] if several_runs else []), s.model + (f" ({s.dtype})" if s.dtype != "float32" else ""),
                (f"{sat.saturation_batch}{_ci_text(sat.ci_low, sat.ci_high, None)}"
                 if sat and sat.saturation_batch is not None else "—")
                + (" (edge)" if sat is not None and sat.at_sweep_edge else ""),
                f"{fmt_num(best.throughput_items_s)} @ {best.batch_size}",
                fmt_num(at.p50_ms) if at is not None else "—", fmt_num(b1.p50_ms) if b1 is not None else "—",
                str(sat.slo_batch) if sat and sat.slo_batch is not None else "—",
                s.sweep.stop_reason or "—", f"{len(s.unstable)} of {len(s.records)}",
                (sat.diagnosis.bound if sat and sat.diagnosis else "—"),
            ])
        columns = [*(["run"] if several_runs else []), "model", "saturation batch (CI)", "best items/s @ batch",
                   "p50 ms at saturation", "p50 ms at batch 1", "best within p99 budget", "range stopped",
                   "unstable points", "diagnosis"]
        return TableBlock("Summary", columns, rows, numeric={columns.index("best items/s @ batch"),
                                                            columns.index("p50 ms at saturation"),
                                                            columns.index("p50 ms at batch 1")},
                          note="(edge): the saturation batch is the largest measured, so throughput may still "
                               "grow beyond it. Range stopped: why the doubling ended. Diagnosis: what bounds the "
                               "model at its saturation batch (the reasoning, the passes and the range are in its "
                               "section below).")

    def series_section(self, s: Series) -> Section:
        name = self.series_name(s)
        blocks: list = []
        if s.sweep.failure:
            blocks.append(Callout(f"Failed at batch {s.sweep.failed_batch_size}",
                                  f"The model raised {s.sweep.failure}. Larger batches were not measured; the points "
                                  "below were measured before it.", tone="bad"))
        sat = s.saturation
        best = s.best_record
        stop = f" Range stopped: {s.sweep.stop_reason} — {s.sweep.stop_detail}." if s.sweep.stop_reason else ""
        if sat is not None and sat.saturation_batch is not None:
            rec = s.record_at(sat.saturation_batch)
            share = f", {rec.throughput_items_s / best.throughput_items_s:.0%} of the best" if rec else ""
            at = f": {fmt_num(rec.throughput_items_s)} items/s{share}" if rec else ""
            passes = f", {s.passes} passes" if s.passes > 1 else ""
            best_ci = (f" ({sat.ci_level:.0%} CI {_range_text(*sat.best_throughput_ci)})"
                       if sat.best_throughput_ci else "")
            reference = (f" The knee is judged against the robust reference "
                         f"{fmt_num(sat.reference_throughput_items_s)} items/s (the best throughput; a best more than "
                         f"{sat.eps:.0%} above the runner-up counts only as far as its lower bound supports it)."
                         if sat.reference_throughput_items_s is not None else "")
            blocks.append(Callout(
                "Saturation",
                f"Throughput saturates at batch {sat.saturation_batch}"
                f"{_ci_text(sat.ci_low, sat.ci_high, sat.ci_level, passes)}{at}. Best measured: "
                f"{fmt_num(best.throughput_items_s)} items/s at batch {best.batch_size}{best_ci}.{reference}{stop}",
                tone="good",
            ))
            if sat.at_sweep_edge:
                blocks.append(Callout("At the sweep's edge", "The saturation batch is the largest batch measured, "
                                      "so throughput may still grow beyond it: " + _edge_advice(s.sweep), tone="warn"))
        else:
            blocks.append(Callout(
                "Saturation", f"No saturation analysis in this file. Best measured: "
                f"{fmt_num(best.throughput_items_s)} items/s at batch {best.batch_size}.{stop}", tone="info"))
        plan = s.run.envelope.config.get("passes") or {}
        seed = plan.get("seed")
        where = {"process": ", each pass in a fresh worker process",
                 "in-process": f", all in one process ({plan.get('unit_reason') or 'in-process passes'})"}.get(
            plan.get("unit"), "")
        facts = [("family", s.family + (f": {s.sweep.description}" if s.sweep.description else "")),
                 ("device name", s.run.device_name or "—"),
                 ("threads", fmt_num(s.records[0].threads)), ("timer", s.records[0].timer),
                 ("passes", f"{s.passes} interleaved passes per point"
                            + (f" (visiting order seed {seed})" if seed is not None else "") + where),
                 ("re-warm-up calls per visit", fmt_num(s.records[0].warmup_calls))]
        if s.sweep.stop_reason:
            facts.append(("range stopped", f"{s.sweep.stop_reason}: {s.sweep.stop_detail}"))
        if sat is not None:
            if sat.latency_budget_ms is not None:
                within = (f"batch {sat.slo_batch}" if sat.slo_batch is not None
                          else "none: every measured batch is over budget")
                facts.append(("latency budget (p99)", f"{sat.latency_budget_ms:g} ms → best-throughput "
                                                      f"batch within it: {within}"))
            if sat.latency_model is not None:
                fit = sat.latency_model
                r2 = f" (R² {fit.r2:.3f})" if fit.r2 is not None else ""
                a_ci = f" [{_range_text(*fit.a_ci_ms)}]" if fit.a_ci_ms else ""
                c_ci = f" [{_range_text(*fit.c_ci_ms_per_item)}]" if fit.c_ci_ms_per_item else ""
                level = f"; {sat.ci_level:.0%} intervals in brackets" if a_ci or c_ci else ""
                facts.append(("latency model", f"t(b) = {fmt_num(fit.a_ms)}{a_ci} ms + "
                                               f"{fmt_num(fit.c_ms_per_item)}{c_ci} ms × b{r2}{level}"))
            if sat.diagnosis:
                facts.append(("diagnosis", sat.diagnosis.text))
                if sat.diagnosis.remedy:
                    facts.append(("remedy", sat.diagnosis.remedy))
            if sat.bootstrap_resamples:
                facts.append(("bootstrap resamples", fmt_num(sat.bootstrap_resamples)))
        if s.sweep.oom_batch_size is not None:
            message = f" ({s.sweep.oom_message})" if s.sweep.oom_message else ""
            facts.append(("out of memory", f"at batch {s.sweep.oom_batch_size}{message}; the sweep stopped there"))
        skipped = [b for b in s.sweep.batch_sizes if b not in s.batch_sizes]
        if skipped:
            facts.append(("requested, not measured", ", ".join(str(b) for b in skipped)))
        fill = s.sweep.memory_fill
        if fill is not None:
            where = (f"batch ≈ {fill.fill_batch_size:,}" if fill.fill_batch_size is not None else fill.reason)
            facts.append(("memory budget", f"{fill.budget_bytes / 1e9:g} GB → fills at {where} (fit m0 + m1·b: "
                                           f"{fmt_bytes(fill.m0_bytes)} + {fmt_bytes(fill.m1_bytes_per_item)} per "
                                           f"item); {s.sweep.memory_check}"))
        png, svg = plots.plot_series(s, self.figure_base(s.run.label, f"{s.model}-{s.device}-{s.dtype}"), name)
        level = f"{POINT_LEVEL:.0%}"
        blocks.append(FigureBlock(
            f"{s.model}: latency and throughput vs. batch size", self.rel(png),
            "Left: latency per batch, p50 with p50–p90 and p90–p99 bands (the spread of single calls). Right: "
            f"throughput at p50, the band its {level} interval between passes"
            + ("; grey dashed: back-to-back throughput" if s.has_back_to_back else "")
            + f". Hollow markers: unstable points (between-pass spread above {UNSTABLE_CV:.0%}). Green: saturation "
            "batch and its interval; red dashed: out of memory; orange: latency budget.",
            svg_path=self.rel(svg),
        ))
        blocks.append(Paragraph(_unstable_line(s)))
        details: list = [KeyValues(facts)]
        if s.has_back_to_back:
            basis = sat.throughput_basis if sat is not None else "per-call synchronized median latency"
            details.append(Paragraph(
                f"Two timings per point on {s.device}: each visit times its calls one at a time, synchronizing "
                "the device before and after each (the latency one request sees), and also one back-to-back "
                "block of calls with a single synchronization at its end (as torch.utils.benchmark times; what a "
                "queue of requests sees). The gap between them is launch overhead that queued calls hide. The "
                f"saturation analysis uses the {basis}."
            ))
        memory = plots.plot_memory(s, self.figure_base(s.run.label, f"{s.model}-{s.device}-{s.dtype}-memory"),
                                   f"{name}: memory")
        if memory is not None:
            kind = s.records[-1].memory_kind
            details.append(FigureBlock(
                f"{s.model}: memory vs. batch size", self.rel(memory[0]),
                f"Each point: {MEMORY_KINDS.get(kind, kind)}. Dotted: the line m0 + m1·b fitted to them"
                + ("; orange: the --memory-budget-gb budget and the batch the line reaches it at"
                   if s.sweep.memory_fill is not None else "") + ".", svg_path=self.rel(memory[1])))
        blocks.append(Details(f"{s.model}: range, fit, diagnosis" + (" and memory" if memory else ""), details))
        blocks.append(self.points_table(s))
        return Section(name, self.anchor(name), blocks)

    # ---------------------------------------------------------------------------------- roofline
    @cached_property
    def rooflines(self) -> tuple[list[tuple[Run, Roofs, list[Series]]], list[tuple[Run, str]]]:
        """``(run, roofs, series)`` for each batch-size run's device/dtype that can be placed on a roofline,
        and a one-line note for each run whose measured peaks have nothing to place.

        A run without measured peaks (an older file, a user's own harness) gets neither: no roofline, no fuss.
        """
        groups: list[tuple[Run, Roofs, list[Series]]] = []
        notes: list[tuple[Run, str]] = []
        for run in self.inputs.batch_runs:
            peaks = run.batch.peaks if run.batch is not None else None
            if peaks is None:
                continue
            roofs = Roofs.from_peaks(peaks)
            by_key: dict[tuple[str, str], list[Series]] = {}
            for s in self.inputs.series:
                if s.run is run:
                    by_key.setdefault((s.device, s.dtype), []).append(s)
            fitting = {k: g for k, g in by_key.items() if _peaks_fit(peaks, *k)}
            if by_key and not fitting:
                notes.append((run, f"No roofline for {run.label}: its peaks were measured on {peaks.device} "
                                   f"at {peaks.dtype}, which none of its series ran on."))
            for (device, dtype), group in fitting.items():
                if any(_placeable(r) for s in group for r in s.records):
                    groups.append((run, roofs, group))
                else:
                    notes.append((run, f"No roofline for {run.label} ({device}, {dtype}): its points carry no "
                                       "FLOP counts (an older benchmark suite, or models the FLOP counter does not "
                                       "cover)."))
        return groups, notes

    def roofline_section(self, run: Run, roofs: Roofs, group: list[Series], *, several: bool) -> Section:
        """The roofline figure of one run's device/dtype, the diagnosis at each saturation batch, every point."""
        device, dtype = group[0].device, group[0].dtype
        records = [r for s in group for r in s.records if _placeable(r)]
        saturation = {s.model: s.saturation for s in group if s.saturation is not None}
        where = f"{run.device_name or device} ({device}, {dtype})"
        if self.several_batch_runs:
            where += f" [{run.label}]"
        base = self.figure_base(run.label, f"roofline-{device}-{dtype}")
        png, svg = base.with_suffix(".png"), base.with_suffix(".svg")
        roofline_plot.plot_roofline(records, roofs, png, f"Roofline: {where}", saturation=saturation, svg_path=svg)
        blocks: list = [Paragraph(
            f"Ceilings measured on {where} before the first point: matmul peak {fmt_num(roofs.peak_gflop_s)} "
            f"GFLOP/s, copy bandwidth {fmt_num(roofs.peak_gb_s)} GB/s, so the ridge is at "
            f"{fmt_num(roofs.ridge_flop_per_byte)} FLOP/B. Points left of the ridge can at best be memory-bound, "
            "right of it compute-bound; a point far below both roofs loses its time to per-call overhead."
        ), FigureBlock(f"Roofline: {where}", self.rel(png), roofline_plot.CAPTION, svg_path=self.rel(svg))]
        columns = roofline_plot.DIAGNOSIS_COLUMNS
        rows = roofline_plot.diagnosis_rows(records, saturation)
        if rows:
            blocks.append(TableBlock("What bounds each model at its saturation batch", list(columns),
                                     [_roofline_cells(columns, row) for row in rows],
                                     numeric=set(range(1, columns.index("bound")))))
        else:
            blocks.append(Paragraph("No model here has a saturation analysis, so there is no point to diagnose; "
                                    "the figure shows the measured points only."))
        columns = roofline_plot.POINT_COLUMNS
        blocks.append(TableBlock("Every point on the roofline", list(columns),
                                 [_roofline_cells(columns, row) for row in roofline_plot.point_rows(records, roofs)],
                                 numeric=set(range(1, len(columns))), collapsed=True))
        title = ROOFLINE_TITLE + (f": {device}, {dtype}" if several else "")
        if several and self.several_batch_runs:
            title += f" [{run.label}]"
        return Section(title, self.anchor(title), blocks)

    def points_table(self, s: Series) -> TableBlock:
        sat = s.saturation
        gains = {step.to_batch: step.gain for step in (sat.gain_per_doubling if sat else ())}
        peaks = s.run.batch.peaks if s.run.batch is not None else None
        peak_gflop = peaks.matmul_gflop_s if peaks is not None and _peaks_fit(peaks, s.device, s.dtype) else None
        has_flops = any(r.flops is not None for r in s.records)
        level = f"{POINT_LEVEL:.0%}"
        columns = ["batch", "p50 ms", f"p50 {level} CI ms", "passes × calls", "spread between passes",
                   "noise floor vs. a same-noise run", "p90 / p99 ms", "items/s", "gain vs. previous",
                   "peak memory"]
        if s.has_back_to_back:
            columns += ["back-to-back items/s", "back-to-back gain (launch overhead)"]
        if has_flops:
            columns += ["GFLOP/s"] + (["% of matmul peak"] if peak_gflop else [])
        rows, highlight = [], set()
        previous = None
        for i, r in enumerate(s.records):
            noise = s.noise[r.batch_size]
            gain = gains.get(r.batch_size)
            if gain is None and previous is not None:
                gain = r.throughput_items_s / previous.throughput_items_s
            marks = []
            if sat is not None and r.batch_size == sat.saturation_batch:
                marks.append("saturation")
                highlight.add(i)
            if r is s.best_record:
                marks.append("best")
            batch = f"{r.batch_size} ({', '.join(marks)})" if marks else str(r.batch_size)
            spread = "—" if noise.between_pass_cv is None else (
                f"{noise.between_pass_cv:.1%}" + (" unstable" if noise.unstable else ""))
            row = [batch, fmt_num(r.p50_ms), _range_text(noise.ci_low_ms, noise.ci_high_ms),
                   f"{noise.passes} × {len(r.times_s) // noise.passes}",
                   spread, f"+{noise_floor(noise):.0%}" if noise.passes > 1 else "—",
                   f"{fmt_num(r.p90_ms)} / {fmt_num(r.p99_ms)}", fmt_num(r.throughput_items_s),
                   f"×{gain:.2f}" if gain is not None else "—",
                   fmt_bytes(r.peak_memory_bytes)]
            if s.has_back_to_back:
                row += _back_to_back_cells(r)
            if has_flops:
                achieved = r.achieved_gflop_s
                row.append(fmt_num(achieved))
                if peak_gflop:
                    row.append(roof_share_cell(100 * achieved / peak_gflop if achieved is not None else None, MATMUL))
            rows.append(row)
            previous = r
        notes = ["Passes × calls: the point's interleaved passes and the timed calls in each. "
                 f"p50 {level} CI: two-level bootstrap over the passes, then the samples within each pass. Spread "
                 "between passes: coefficient of variation of the per-pass medians; above "
                 f"{UNSTABLE_CV:.0%} the point is unstable (its median moved while it was measured). Noise floor vs. "
                 "a same-noise run: the smallest slowdown `dlplayground compare` would call between this run and "
                 f"another with the same noise, assuming {DEFAULT_RUN_SIGMA:.0%} run-to-run drift (the default "
                 "without a calibration of the machine)."]
        if s.has_back_to_back:
            notes.append("Back-to-back: batch / median over passes of one block's time per call (one synchronization "
                         "per block); its gain over items/s is the launch overhead per-call synchronization exposes.")
        kind = s.records[-1].memory_kind
        if kind != "unavailable":
            notes.append(f"Peak memory: {MEMORY_KINDS.get(kind, kind)}.")
        return TableBlock(f"{s.model}: every point", columns, rows, note=" ".join(notes), highlight=highlight,
                          numeric=set(range(1, len(columns))), collapsed=True)

    # ------------------------------------------------------------------------------- across views
    def _across_table(self, group: Sequence[Series], labels: Sequence[str], versus: str) -> TableBlock:
        first = group[0].best_record.throughput_items_s
        rows = []
        for s, label in zip(group, labels, strict=True):
            sat = s.saturation
            best = s.best_record
            b1 = s.record_at(1)
            rows.append([
                label, s.run.device_name or "—",
                (f"{sat.saturation_batch}{_ci_text(sat.ci_low, sat.ci_high, None)}"
                 if sat and sat.saturation_batch is not None else "—"),
                f"{fmt_num(best.throughput_items_s)} @ {best.batch_size}",
                f"×{best.throughput_items_s / first:.2f}", fmt_num(b1.p50_ms) if b1 else "—",
                str(s.sweep.oom_batch_size) if s.sweep.oom_batch_size is not None else "—",
            ])
        columns = ["series", "device name", "saturation batch (CI)", "best items/s @ batch", f"best vs. {versus}",
                   "p50 ms at batch 1", "OOM at"]
        return TableBlock("", columns, rows, numeric={3, 4, 5})

    def cross_device_page(self) -> Page:
        section = Section("Across devices", self.anchor("across-devices"), [Paragraph(
            "The same model measured on different devices, on shared axes. The star marks each series' "
            "saturation batch. Speed-ups compare the best measured throughput of each series."
        )])
        fastest = []
        for model in self.inputs.models:
            group = self.inputs.series_of(model)
            if len({s.device for s in group}) < 2:
                continue
            group = sorted(group, key=lambda s: (s.device, s.dtype, s.run.label))
            labels = [self.series_name(s).split(" — ", 1)[1] for s in group]
            top = max(range(len(group)), key=lambda i: group[i].best_record.throughput_items_s)
            low = min(range(len(group)), key=lambda i: group[i].best_record.throughput_items_s)
            ratio = group[top].best_record.throughput_items_s / group[low].best_record.throughput_items_s
            fastest.append(f"{model} on {labels[top]} (×{ratio:.3g} {labels[low]})")
            png, svg = plots.plot_across(group, labels, self.figure_base("across-devices", model),
                                         f"{model}: across devices")
            sub = Section(f"{model} across devices", self.anchor(f"{model}-devices"), [
                FigureBlock(f"{model}: throughput and latency across devices", self.rel(png),
                            "Each line is one device/dtype; ★ marks its saturation batch.", svg_path=self.rel(svg)),
                self._across_table(group, labels, versus=labels[0]),
            ])
            section.children.append(sub)
        if not section.children:
            section.blocks.append(Paragraph("No model was measured on more than one device."))
        answer = ("Best throughput is highest for " + "; ".join(fastest) + ", comparing each model's best "
                  "measured point." if fastest else "No model was measured on more than one device.")
        section.blocks.insert(0, Callout("Answer", answer))
        return self.page("across-devices", "Batch size: across devices", [section], answer)

    def variant_groups(self) -> list[tuple[Run, str, list[Series], list[tuple[str, str]]]]:
        """Per run and base model with more than the eager variant: its measured series (eager first) and the
        variants that were skipped, with the reason."""
        out = []
        for run in self.inputs.batch_runs:
            assert run.batch is not None
            bases: dict[str, list[str]] = {}
            for name, sweep in run.batch.sweeps.items():
                bases.setdefault(sweep.base_model or name, []).append(name)
            for base, names in bases.items():
                if len(names) < 2:
                    continue
                series = sorted((s for s in self.inputs.series if s.run is run and s.model in names),
                                key=lambda s: (s.sweep.variant != EAGER, s.model))
                skipped = [(n, run.batch.sweeps[n].variant_skipped) for n in names
                           if run.batch.sweeps[n].variant_skipped]
                out.append((run, base, series, skipped))
        return out

    def variants_page(self) -> Page | None:
        groups = self.variant_groups()
        if not groups:
            return None
        findings: list[str] = []
        section = Section("Variants: compiled, graph-captured, channels-last", self.anchor("variants"), [Paragraph(
            "Each variant of a model was swept like a model of its own, in the same interleaved passes as the "
            "eager model, so the speed-up at a batch is the ratio of two points measured side by side; its "
            "interval comes from the passes (both points' pass p saw the same machine state). Compilation and "
            "graph capture are never timed as inference: the first call at each batch is kept apart and listed."
        )])
        for run, base, group, skipped in groups:
            title = f"{base} variants" + (f" [{run.label}]" if self.several_batch_runs else "")
            blocks: list = [Callout(f"{name} skipped", reason, tone="warn") for name, reason in skipped]
            eager = next((s for s in group if s.sweep.variant == EAGER), None)
            if len(group) >= 2:
                labels = [s.model for s in group]
                png, svg = plots.plot_across(group, labels, self.figure_base("variants", f"{run.label}-{base}"),
                                             f"{base}: variants")
                blocks.append(FigureBlock(f"{base}: throughput and latency per variant", self.rel(png),
                                          "Each line is one variant, its band the between-pass interval; ★ marks "
                                          "its saturation batch. The speed-up intervals below are paired by pass, "
                                          "so they are narrower than two overlapping bands suggest.",
                                          svg_path=self.rel(svg)))
                blocks.append(self._across_table(group, labels, versus=labels[0]))
            if eager is not None:
                rows = []
                for s in group:
                    if s is eager:
                        continue
                    for sp in speedups(eager.records, s.records, resamples=self.resamples(s)):
                        verdict = ("faster" if sp.ci_low > 1 else "slower" if sp.ci_high < 1 else "not resolved")
                        rows.append([s.sweep.variant, sp.batch_size, sp.speedup, [sp.ci_low, sp.ci_high], verdict])
                for variant in dict.fromkeys(v for v, *_ in rows):
                    mine = [(b, x) for v, b, x, _, w in rows if v == variant and w == "faster"]
                    slower = sum(v == variant and w == "slower" for v, *_, w in rows)
                    total = sum(v == variant for v, *_ in rows)
                    gain = (f", ×{min(x for _, x in mine):.2f}–×{max(x for _, x in mine):.2f}" if mine else "")
                    findings.append(f"{base}[{variant}] is faster than eager at {len(mine)} of {total} batches"
                                    f"{gain}" + (f" and slower at {slower}" if slower else ""))
                if rows:
                    blocks.append(TableBlock(
                        "Speed-up over eager per batch", ["variant", "batch", "speed-up (eager / variant latency)",
                                                          "95% CI", "verdict"],
                        [[v, str(b), f"×{x:.2f}", f"{lo:.2f}–{hi:.2f}", w] for v, b, x, (lo, hi), w in rows],
                        note="Median latency ratio; 'faster'/'slower' when the interval excludes 1.",
                        numeric={1, 2}, collapsed=len(rows) > 30))
            builds = [(s.model, s.sweep) for s in group if s.sweep.compile_s is not None]
            for name, sweep in builds:
                later = [v for b, v in sweep.first_call_s.items() if b != "1"]
                spread = (f"; the first call at each further batch (a recompile or capture) took "
                          f"{_range_text(min(later), max(later))} s" if later else "")
                blocks.append(Paragraph(f"{name}: {sweep.variant_detail}; building it (first call at batch 1) "
                                        f"took {fmt_num(sweep.compile_s)} s{spread}. None of this is in the timings."))
            section.children.append(Section(title, self.anchor(f"variants-{run.label}-{base}"), blocks))
        answer = ("; ".join(findings) + " (95% intervals excluding ×1)." if findings
                  else "No variant was measured beside its eager model.")
        section.blocks.insert(0, Callout("Answer", answer))
        return self.page("variants", "Batch size: variants", [section], answer)

    def resamples(self, s: Series) -> int:
        return s.saturation.bootstrap_resamples if s.saturation is not None else 1000

    def cross_run_page(self) -> Page:
        runs = self.inputs.batch_runs
        findings: list[str] = []
        tone = "info"
        section = Section("Across runs", self.anchor("across-runs"), [Paragraph(
            f"Runs in input order; the first, {runs[0].label}, is the baseline. Each point's change is called a "
            "regression or an improvement by the same rule as `dlplayground compare` (docs/reports.md); the "
            "'why' column gives the noise each call was judged against."
        )])
        keys: dict[tuple[str, str, str], list[Series]] = {}
        for s in self.inputs.series:
            keys.setdefault(s.key, []).append(s)
        for (model, device, dtype), group in keys.items():
            if len(group) < 2:
                continue
            labels = [s.run.label for s in group]
            png, svg = plots.plot_across(group, labels, self.figure_base("across-runs", f"{model}-{device}-{dtype}"),
                                         f"{model} ({device}, {dtype}): across runs")
            section.children.append(Section(f"{model} — {device}, {dtype} across runs",
                                            self.anchor(f"{model}-{device}-{dtype}-runs"), [
                FigureBlock(f"{model} ({device}, {dtype}) across runs", self.rel(png),
                            "Each line is one run; ★ marks its saturation batch.", svg_path=self.rel(svg)),
                self._across_table(group, labels, versus=labels[0]),
            ]))
        base = runs[0]
        for run in runs[1:]:
            base_keys = {(r.model, r.device, r.dtype, r.batch_size) for r in base.envelope.records}
            if not any((r.model, r.device, r.dtype, r.batch_size) in base_keys for r in run.envelope.records):
                continue
            result = compare_envelopes(base.envelope, run.envelope, base_label=base.label, new_label=run.label)
            call_tone = "bad" if result.has_regression else ("good" if result.improvements else "info")
            tone = "bad" if call_tone == "bad" or tone == "bad" else tone
            findings.append(f"{run.label} vs. {base.label}: {len(result.regressions)} regression(s) and "
                            f"{len(result.improvements)} improvement(s) called of {len(result.points)} points")
            blocks: list = [Callout(f"{run.label} vs. {base.label}", result.summary() + ".", tone=call_tone)]
            blocks += [Callout("Note", n, tone="warn") for n in result.notes]
            rows = [[p.model, p.device, p.dtype, str(p.batch_size), fmt_num(p.base_median_ms),
                     fmt_num(p.new_median_ms), f"{p.latency_change:+.1%}", p.status, p.reason]
                    for p in result.points]
            flagged = {i for i, p in enumerate(result.points) if p.status in (REGRESSION, IMPROVEMENT)}
            blocks.append(TableBlock(
                f"Per-point comparison, {run.label} vs. {base.label}",
                ["model", "device", "dtype", "batch", "base p50 ms", "new p50 ms", "latency", "call", "why"],
                rows, highlight=flagged, numeric={3, 4, 5, 6}, collapsed=len(rows) > 12,
            ))
            section.children.append(Section(f"{run.label} vs. {base.label}",
                                            self.anchor(f"{run.label}-vs-{base.label}"), blocks))
        answer = ("; ".join(findings) + ", by the rule of `dlplayground compare`." if findings
                  else "The runs share no point to compare.")
        section.blocks.insert(0, Callout("Answer", answer, tone=tone))
        return self.page("across-runs", "Batch size: across runs", [section], answer, tone)

    # -------------------------------------------------------------------------------- experiments
    def experiment_page(self, run: Run) -> Page:
        """A study's page in the issue's order: question, computed answer, lead figure(s), the key numbers, then
        the reasoning, every metric, the tables and the other figures folded away, then provenance."""
        env = run.envelope
        title, name = study_title(env.study), env.study.replace("_", "-")
        if sum(r.envelope.study == env.study for r in self.inputs.runs) > 1:
            title, name = f"{title} [{run.label}]", f"{name}-{run.label}"
        section = Section(title, self.anchor(title))
        result = env.result
        if result is None:
            answer = "This file has no 'result' section to show."
            section.blocks.append(Callout("No result", answer, tone="warn"))
            return self.page(name, title, [section], answer, "warn")
        if result.question:
            section.blocks.append(Paragraph(result.question))
        # Neutral tone: an answer may well say the claim does not hold.
        answer = result.answer or result.verdict or "(no answer given)"
        section.blocks.append(Callout("Answer", answer, tone="info"))
        fallback = "offline fallback" in (result.data_source or "").lower()
        if fallback:
            section.blocks.append(Callout("Offline fallback data", result.data_source, tone="warn"))
        if env.config.get("quick"):
            section.blocks.append(Callout("Smoke run", "--quick: a seconds-scale run whose numbers are indicative "
                                                       "only.", tone="warn"))
        # The study's lead figures carry its answer, so they come straight after it.
        figures = [b for b in (self.copy_figure(run, fig) for fig in result.figures) if b is not None]
        lead = max(0, result.lead_figures)
        section.blocks.extend(figures[:lead])
        key_rows, other_rows = metric_rows(result)
        if key_rows:
            section.blocks.append(TableBlock("Key numbers", ["", "value", "interval"], key_rows, numeric={1, 2}))
        details: list = []
        if result.answer and result.verdict:
            details.append(Details("How the answer was reached", [Paragraph(result.verdict)]))
        if other_rows:
            details.append(Details(f"{'Other' if key_rows else 'All'} metrics ({len(other_rows)})", [TableBlock(
                "", ["", "value", "interval"], other_rows, numeric={1, 2},
                note="Labels as the study declared them; the JSON keeps each under its key (result.metrics).")]))
        for table in result.tables:
            numeric = {j for j in range(len(table.columns))
                       if table.rows and all(isinstance(row[j], int | float) for row in table.rows)}
            details.append(Details(f"{table.title} ({len(table.rows)} rows)", [TableBlock(
                "", list(table.columns), [[fmt_cell(c) for c in row] for row in table.rows], note=table.note,
                numeric=numeric)]))
        if figures[lead:]:
            details.append(Details(f"More figures ({len(figures) - lead})", list(figures[lead:])))
        section.blocks += details
        facts = [("data", result.data_source or "—")]
        if result.elapsed_s is not None:
            facts.append(("run time", f"{fmt_num(result.elapsed_s)} s"))
        facts.append(("device", f"{env.environment.get('device', '—')} ({run.device_name or '—'})"))
        if "seed" in env.config:
            facts.append(("seed", str(env.config["seed"])))
        facts.append(("result file", f"inputs/{run.label}.json (configuration, environment and raw values)"))
        section.blocks.append(KeyValues(facts, title="Provenance"))
        return self.page(name, title, [section], answer)

    def copy_figure(self, run: Run, fig: ResultFigure) -> FigureBlock | None:
        """Copy an experiment's figure into the report; refuse paths that leave the run's folder."""
        folder = run.path.parent.resolve()
        source = (folder / fig.path).resolve()
        if not source.is_relative_to(folder):
            run.warnings.append(f"figure {fig.path!r} points outside the results folder; not copied")
            return None
        if not source.is_file():
            run.warnings.append(f"figure {fig.path!r} is listed but missing; not shown")
            return None
        dest = self.figure_base(run.label, Path(fig.path).stem).with_suffix(source.suffix.lower())
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        if source.suffix.lower() not in EMBEDDABLE:
            run.warnings.append(f"figure {fig.path!r} is not an image format a browser shows; linked only")
        return FigureBlock(fig.title, self.rel(dest), fig.caption)
