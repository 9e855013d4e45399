"""Read results files and merge them into the typed view every renderer works from.

Each input file is one *run*. A batch-size run holds *series*: the points of one model on one device and
dtype, sorted by batch size, with the model's sweep (requested batch sizes, OOM boundary) and saturation
analysis attached. The sweep record and the saturation analysis are the producer's own types
(``dlplayground.bench.record.BatchSizeRun``), read with their ``from_dict``: a malformed file is refused with
an error naming it, and nothing the sweep derived is derived here a second time.

Per-point figures the sweep also writes into ``extra_info`` for humans (the median's interval, the
between-pass spread) are *not* read from there: ``Series.noise`` recomputes them from the samples with the
producer's own function (``dlplayground.bench.noise.point_noise``), once per series, so the table, the plot and
the summary all show the same values and a hand-edited file cannot make a point look stable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from dlplayground.bench.noise import PointNoise, point_noise
from dlplayground.bench.record import BatchSizeRun, SweepRecord
from dlplayground.bench.saturation import Saturation
from dlplayground.errors import UserInputError
from dlplayground.results import BATCH_SIZE_STUDY, RESULT_FILE, Envelope, TimingRecord, read_envelope


# ------------------------------------------------------------------------------------ value helpers
def slug(text: str, max_len: int = 48) -> str:
    """A file-name-safe form of ``text`` (model names may hold ``:``, ``/``, ``<`` ...)."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return (out[:max_len].rstrip("-._") or "x").lower()


# ------------------------------------------------------------------------------------- typed pieces
@dataclass
class Run:
    """One input file: its envelope and a short unique label used in legends and file names."""

    label: str
    path: Path
    envelope: Envelope
    batch: BatchSizeRun | None = None
    """The batch-size parts, typed (None for an experiment's result)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def is_batch_size(self) -> bool:
        return self.envelope.study == BATCH_SIZE_STUDY

    @property
    def device_name(self) -> str:
        return str(self.envelope.environment.get("device_name") or "")


@dataclass
class Series:
    """One model on one device and dtype in one run: its points sorted by batch size."""

    run: Run
    model: str
    device: str
    dtype: str
    records: list[TimingRecord]
    family: str
    sweep: SweepRecord
    saturation: Saturation | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model, self.device, self.dtype)

    @property
    def batch_sizes(self) -> list[int]:
        return [r.batch_size for r in self.records]

    def record_at(self, batch_size: int | None) -> TimingRecord | None:
        return next((r for r in self.records if r.batch_size == batch_size), None)

    @property
    def best_record(self) -> TimingRecord:
        return max(self.records, key=lambda r: r.throughput_items_s)

    @cached_property
    def noise(self) -> dict[int, PointNoise]:
        """Per batch size, the median's between-pass interval and spread, derived from the samples.

        Bootstrapped with the saturation analysis's resample count (as the sweep's terminal summary does), so
        the report shows the numbers the run printed.
        """
        resamples = self.saturation.bootstrap_resamples if self.saturation is not None else 0
        kwargs = {"resamples": resamples} if resamples >= 10 else {}
        return {r.batch_size: point_noise(r, **kwargs) for r in self.records}

    @property
    def unstable(self) -> list[TimingRecord]:
        """The points whose between-pass spread exceeds ``dlplayground.bench.noise.UNSTABLE_CV``."""
        return [r for r in self.records if self.noise[r.batch_size].unstable]

    @property
    def passes(self) -> int:
        """Passes per point (the fewest, should a point have lost one)."""
        return min(r.passes for r in self.records)

    @property
    def has_back_to_back(self) -> bool:
        """Whether the points carry back-to-back block timings (CUDA/MPS runs)."""
        return any(r.block_times_s for r in self.records)


def back_to_back_s(record: TimingRecord) -> float | None:
    """Median over passes of the back-to-back seconds per call (one sync per block); None where not measured."""
    return float(np.median(record.block_times_s)) if record.block_times_s else None


@dataclass
class ReportInputs:
    """All runs of one report, with the batch-size series merged across them."""

    runs: list[Run]
    series: list[Series]

    @property
    def batch_runs(self) -> list[Run]:
        return [r for r in self.runs if r.is_batch_size]

    @property
    def experiment_runs(self) -> list[Run]:
        return [r for r in self.runs if not r.is_batch_size]

    @property
    def devices(self) -> list[str]:
        return sorted({s.device for s in self.series})

    @property
    def models(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.series:
            seen.setdefault(s.model, None)
        return list(seen)

    def series_of(self, model: str) -> list[Series]:
        return [s for s in self.series if s.model == model]


# --------------------------------------------------------------------------------------- series
def series_of_run(run: Run) -> list[Series]:
    """Group a run's records into series and attach the model's sweep record and saturation analysis.

    Saturation is keyed by model and names its device and dtype; it belongs to the series it names.
    """
    batch = run.batch
    assert batch is not None
    groups: dict[tuple[str, str, str], dict[int, TimingRecord]] = {}
    for record in batch.records:
        points = groups.setdefault((record.model, record.device, record.dtype), {})
        if record.batch_size in points:
            run.warnings.append(
                f"{record.model} ({record.device}, {record.dtype}) batch {record.batch_size} appears twice; "
                "the later point is shown"
            )
        points[record.batch_size] = record
    out = []
    for (model, device, dtype), points in groups.items():
        records = [points[b] for b in sorted(points)]
        measured = tuple(r.batch_size for r in records)
        # A file with points but no sweep entry (a foreign producer): what was measured is what was tried.
        sweep = batch.sweeps.get(model) or SweepRecord(family=records[0].family, description="",
                                                       batch_sizes=measured, measured=measured)
        sat = batch.saturation.get(model)
        if sat is not None and (sat.device, sat.dtype) != (device, dtype):
            sat = None
        out.append(Series(run, model, device, dtype, records, sweep.family, sweep, sat))
    # Models named in the sweep with no measured point at all (OOM or a failure at the first batch size).
    measured = {model for model, _, _ in groups}
    for model, sweep in batch.sweeps.items():
        if model not in measured:
            detail = (f" (failed at batch {sweep.failed_batch_size}: {sweep.failure})" if sweep.failure else
                      f" (out of memory at batch {sweep.oom_batch_size})" if sweep.oom_batch_size else "")
            run.warnings.append(f"model {model!r} has no measured points{detail}")
    return out


# ---------------------------------------------------------------------------------------- loading
def resolve_input(path: Path) -> Path:
    """A file as given, or ``result.json`` inside a folder (an experiment's output folder)."""
    path = Path(path)
    if path.is_dir():
        candidate = path / RESULT_FILE
        if not candidate.is_file():
            raise UserInputError(f"results folder {str(path)!r} holds no {RESULT_FILE}; pass the JSON file itself")
        return candidate
    return path


def _labels(paths: Sequence[Path]) -> list[str]:
    """Short unique labels: the file stem, or the folder name for the generic ``result.json``."""
    labels: list[str] = []
    for path in paths:
        stem = path.stem if path.name != RESULT_FILE else (path.parent.name or "result")
        base, label, n = slug(stem, 40), slug(stem, 40), 2
        while label in labels:
            label, n = f"{base}-{n}", n + 1
        labels.append(label)
    return labels


def load_inputs(inputs: Iterable[Path | str]) -> ReportInputs:
    """Read every input (files or experiment folders) and merge them; raise ``UserInputError`` on bad input."""
    paths = [resolve_input(Path(p)) for p in inputs]
    if not paths:
        raise UserInputError("no results files given; pass one or more RESULT.json files (or experiment folders)")
    runs = []
    for label, path in zip(_labels(paths), paths, strict=True):
        envelope = read_envelope(path)
        batch = BatchSizeRun.from_envelope(envelope) if envelope.study == BATCH_SIZE_STUDY else None
        run = Run(label=label, path=path, envelope=envelope, batch=batch)
        if run.is_batch_size and not envelope.records:
            run.warnings.append("this batch-size results file holds no benchmark points")
        if not run.is_batch_size and envelope.result is None:
            run.warnings.append(f"study {envelope.study!r} has no 'result' section to show")
        runs.append(run)
    series = [s for run in runs if run.is_batch_size for s in series_of_run(run)]
    return ReportInputs(runs=runs, series=series)
