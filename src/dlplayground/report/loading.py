"""Read results files and merge them into the typed view every renderer works from.

Each input file is one *run*. A batch-size run holds *series*: the points of one model on one device and
dtype, sorted by batch size, with the model's sweep (requested batch sizes, OOM boundary) and saturation
analysis attached. The ``sweeps``/``saturation`` dicts are written by the benchmark suite and may lack keys
(an older producer, a run cut short); every field here is optional and a malformed one becomes a warning
shown in the report, never a crash. Only the envelope's outer shape is strict (``read_envelope``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlplayground.errors import UserInputError
from dlplayground.results import BATCH_SIZE_STUDY, Envelope, TimingRecord, read_envelope

RESULT_FILE = "result.json"  # what an experiment folder holds; a folder input means this file in it


# ------------------------------------------------------------------------------------ value helpers
def as_int(value: Any) -> int | None:
    """An integer from a JSON value (an int, or a float with no fraction); anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def as_float(value: Any) -> float | None:
    """A finite float from a JSON value; anything else (None, strings, NaN) is None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def slug(text: str, max_len: int = 48) -> str:
    """A file-name-safe form of ``text`` (model names may hold ``:``, ``/``, ``<`` ...)."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return (out[:max_len].rstrip("-._") or "x").lower()


# ------------------------------------------------------------------------------------- typed pieces
@dataclass(frozen=True)
class SweepInfo:
    """What the benchmark suite tried for one model, and where it stopped."""

    family: str | None = None
    description: str | None = None
    batch_sizes: tuple[int, ...] = ()
    measured: tuple[int, ...] = ()
    oom_batch_size: int | None = None
    oom_message: str | None = None


@dataclass(frozen=True)
class GainStep:
    from_batch: int
    to_batch: int
    gain: float


@dataclass(frozen=True)
class LatencyModel:
    """The fitted ``t(b) = a + c * b`` latency model."""

    a_ms: float
    c_ms_per_item: float
    r2: float | None


@dataclass(frozen=True)
class SaturationInfo:
    """The saturation analysis of one model's throughput curve (see ``dlplayground.bench.saturation``)."""

    saturation_batch: int | None = None
    ci_low: int | None = None
    ci_high: int | None = None
    ci_level: float | None = None
    eps: float | None = None
    best_batch: int | None = None
    best_throughput_items_s: float | None = None
    gain_per_doubling: tuple[GainStep, ...] = ()
    latency_budget_ms: float | None = None
    slo_batch: int | None = None
    latency_model: LatencyModel | None = None
    bootstrap_resamples: int | None = None
    device: str | None = None
    dtype: str | None = None
    diagnosis: str | None = None
    at_sweep_edge: bool = False  # saturation at the largest batch measured: a larger batch might gain more


@dataclass
class Run:
    """One input file: its envelope and a short unique label used in legends and file names."""

    label: str
    path: Path
    envelope: Envelope
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
    sweep: SweepInfo
    saturation: SaturationInfo | None

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


# --------------------------------------------------------------------------------------- parsing
def _parse_sweep(raw: Any, where: str, warnings: list[str]) -> SweepInfo:
    if raw is None:
        return SweepInfo()
    if not isinstance(raw, Mapping):
        warnings.append(f"{where}: sweep entry is not an object; ignored")
        return SweepInfo()

    def _ints(key: str) -> tuple[int, ...]:
        value = raw.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or any(as_int(v) is None for v in value):
            warnings.append(f"{where}: sweep {key!r} is not a list of integers; ignored")
            return ()
        return tuple(as_int(v) for v in value)  # type: ignore[misc]

    oom = raw.get("oom_batch_size")
    if oom is not None and as_int(oom) is None:
        warnings.append(f"{where}: sweep 'oom_batch_size' {oom!r} is not an integer; ignored")
    family, description = raw.get("family"), raw.get("description")
    message = raw.get("oom_message")
    return SweepInfo(
        family=str(family) if family is not None else None,
        description=str(description) if description is not None else None, batch_sizes=_ints("batch_sizes"),
        measured=_ints("measured"), oom_batch_size=as_int(oom),
        oom_message=str(message) if message is not None else None,
    )


def _parse_saturation(raw: Any, where: str, warnings: list[str]) -> SaturationInfo | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        warnings.append(f"{where}: saturation entry is not an object; ignored")
        return None
    ints = ("saturation_batch", "ci_low", "ci_high", "best_batch", "slo_batch", "bootstrap_resamples")
    floats = ("ci_level", "eps", "best_throughput_items_s", "latency_budget_ms")
    values: dict[str, Any] = {}
    for key in ints + floats:
        value = raw.get(key)
        parsed = as_int(value) if key in ints else as_float(value)
        if value is not None and parsed is None:
            warnings.append(f"{where}: saturation {key!r} = {value!r} is not a number; ignored")
        values[key] = parsed
    steps = []
    for step in raw.get("gain_per_doubling") or []:
        if isinstance(step, Mapping):
            frm, to, gain = as_int(step.get("from_batch")), as_int(step.get("to_batch")), as_float(step.get("gain"))
            if frm is not None and to is not None and gain is not None:
                steps.append(GainStep(frm, to, gain))
                continue
        warnings.append(f"{where}: a 'gain_per_doubling' entry is malformed; ignored")
    model = None
    fit = raw.get("latency_model")
    if isinstance(fit, Mapping):
        a, c = as_float(fit.get("a_ms")), as_float(fit.get("c_ms_per_item"))
        if a is not None and c is not None:
            model = LatencyModel(a, c, as_float(fit.get("r2")))
    for key in ("device", "dtype", "diagnosis"):
        value = raw.get(key)
        values[key] = str(value) if value is not None else None
    return SaturationInfo(gain_per_doubling=tuple(steps), latency_model=model,
                          at_sweep_edge=raw.get("at_sweep_edge") is True, **values)


def _matches(sat: SaturationInfo | None, device: str, dtype: str) -> bool:
    if sat is None:
        return False
    return (sat.device in (None, device)) and (sat.dtype in (None, dtype))


def series_of_run(run: Run) -> list[Series]:
    """Group a run's records into series and attach the per-model sweep and saturation entries."""
    env = run.envelope
    groups: dict[tuple[str, str, str], dict[int, TimingRecord]] = {}
    for record in env.records:
        points = groups.setdefault((record.model, record.device, record.dtype), {})
        if record.batch_size in points:
            run.warnings.append(
                f"{record.model} ({record.device}, {record.dtype}) batch {record.batch_size} appears twice; "
                "the later point is shown"
            )
        points[record.batch_size] = record
    keys_per_model: dict[str, int] = {}
    for model, _, _ in groups:
        keys_per_model[model] = keys_per_model.get(model, 0) + 1
    out = []
    for (model, device, dtype), points in groups.items():
        where = f"model {model!r}"
        sweep = _parse_sweep(env.sweeps.get(model), where, run.warnings)
        sat = _parse_saturation(env.saturation.get(model), where, run.warnings)
        # Saturation is keyed by model; with several devices/dtypes of one model in a run it belongs to the
        # series whose device and dtype it names, and to none when it names neither.
        ambiguous = keys_per_model[model] > 1 and sat is not None and sat.device is None and sat.dtype is None
        if ambiguous or not _matches(sat, device, dtype):
            sat = None
        records = [points[b] for b in sorted(points)]
        family = sweep.family or records[0].family
        out.append(Series(run, model, device, dtype, records, family, sweep, sat))
    # Models named in the sweep with no measured point at all (OOM at the first batch size).
    for model, raw in env.sweeps.items():
        if model not in keys_per_model:
            sweep = _parse_sweep(raw, f"model {model!r}", run.warnings)
            detail = f" (out of memory at batch {sweep.oom_batch_size})" if sweep.oom_batch_size else ""
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
        run = Run(label=label, path=path, envelope=envelope)
        if run.is_batch_size and not envelope.records:
            run.warnings.append("this batch-size results file holds no benchmark points")
        if not run.is_batch_size and envelope.result is None:
            run.warnings.append(f"study {envelope.study!r} has no 'result' section to show")
        runs.append(run)
    series = [s for run in runs if run.is_batch_size for s in series_of_run(run)]
    return ReportInputs(runs=runs, series=series)
