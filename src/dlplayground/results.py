"""The record types and the one JSON envelope every run writes.

The envelope follows pytest-benchmark's layout (``machine_info``, ``commit_info``, ``benchmarks``,
``datetime``, ``version``) so ``pytest-benchmark compare`` reads batch-size runs, and adds one
``dlplayground`` key holding what that format has no place for::

    {"dlplayground": {"schema": 2, "study": "batch_size" | "<experiment>",
                      "environment": {...}, "config": {...},
                      "sweeps": {model: {...}}, "saturation": {model: {...}},   # batch-size study
                      "result": {...}}}                                         # experiments

Batch-size points live once, as ``benchmarks[i].extra_info`` (a ``TimingRecord``); readers rebuild the
record from there rather than keeping a second copy.

Schema 2 (issue "Numbers that reproduce") measures every batch-size point in interleaved passes and keeps
each sample's pass index; a schema-1 batch-size file (one block per point, no passes) is refused with a
message saying so, because its intervals cannot be recomputed the way schema 2's are. Experiment envelopes
did not change between the two and are read at either version.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import numpy as np

from dlplayground.atomic import atomic_write_text
from dlplayground.errors import UserInputError

R = TypeVar("R")
SCHEMA_VERSION = 2
STUDY_SCHEMAS = (1, 2)
"""Schema versions an experiment envelope may carry (batch-size envelopes need ``SCHEMA_VERSION``)."""
BATCH_SIZE_STUDY = "batch_size"
RESULT_FILE = "result.json"
"""The envelope file in a study's output folder."""


class EnvelopeError(UserInputError):
    """A results file is missing, not JSON, or not of the envelope's shape; the message names the file."""


# ------------------------------------------------------------------------------------- from JSON
def record_from_dict(cls: type[R], data: Any, *, nested: Mapping[str, Callable[[Any], Any]] | None = None,
                     ignore: Iterable[str] = ()) -> R:
    """Build the dataclass ``cls`` from its JSON form, strictly: the one reader every record type uses.

    Every field without a default must be present; a key that is not a field is refused (unless listed in
    ``ignore``: derived values a producer stores for humans); each value must fit the field's annotation
    (``int``, ``float``, ``str``, ``bool``, ``X | None``, ``tuple[X, ...]``, ``list``, ``dict``); fields named in
    ``nested`` are built by their own reader. Raises ``ValueError`` naming the field, which callers turn into
    an ``EnvelopeError`` naming the file.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints = get_type_hints(cls)
    init = [f for f in fields(cls) if f.init]
    unknown = set(data) - {f.name for f in init} - set(ignore)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for f in init:
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ValueError(f"{cls.__name__}: missing field {f.name!r}")
            continue
        value = data[f.name]
        if nested and f.name in nested:
            kwargs[f.name] = None if value is None else nested[f.name](value)
        else:
            kwargs[f.name] = _fit(hints[f.name], value, f"{cls.__name__}.{f.name}")
    return cls(**kwargs)


def _fit(annotation: Any, value: Any, where: str) -> Any:
    """``value`` checked (and, for ints stored as integral floats and sequences, converted) against ``annotation``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        return _fit(options[0], value, where) if len(options) == 1 else value
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
    elif origin in (tuple, list):
        if isinstance(value, list | tuple):
            item = args[0] if args else Any
            items = [_fit(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
    elif origin is dict or annotation is dict:
        if isinstance(value, Mapping):
            return dict(value)
    else:
        return value
    raise ValueError(f"{where} must be {getattr(annotation, '__name__', annotation)}, got {value!r}")


# ---------------------------------------------------------------------------------------------- points
@dataclass(frozen=True)
class TimingRecord:
    """One benchmark point: the raw per-call times, with every statistic derived from them.

    ``times_s`` holds one entry per timed call of the model on a full batch, and ``pass_index`` the pass
    (0, 1, ...) each call was timed in: the sweep visits every point once per pass, in a fresh random order,
    so the variation *between* passes carries the machine's drift and is where intervals come from
    (``dlplayground.bench.noise``). Every pass holds the same number of calls. ``block_times_s`` holds, per
    pass, the mean time per call of a back-to-back block (one synchronization at the end, as
    ``torch.utils.benchmark`` times), measured on asynchronous devices (CUDA, MPS); on the CPU every call is
    synchronous and the per-call figure is the back-to-back one, so it stays empty. Nothing else is stored,
    so the report, the saturation bootstrap and ``compare`` all see the same samples.
    """

    model: str
    family: str
    device: str
    dtype: str
    batch_size: int
    threads: int
    warmup_calls: int
    times_s: tuple[float, ...]
    pass_index: tuple[int, ...] = ()
    """The pass of each sample (same length as ``times_s``); empty for a single block (one pass)."""
    block_times_s: tuple[float, ...] = ()
    """Back-to-back seconds per call, one value per pass; empty where not measured."""
    timer: str = "perf_counter"
    peak_memory_bytes: int | None = None
    memory_kind: str = "unavailable"
    flops: float | None = None
    bytes_moved: float | None = None

    def __post_init__(self) -> None:
        where = f"{self.model} @ batch {self.batch_size}"
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.times_s:
            raise ValueError(f"{where}: no timing samples")
        if any(not math.isfinite(t) or t <= 0 for t in self.times_s):
            raise ValueError(f"{where}: times must be finite and > 0 seconds (a zero latency is not a measurement)")
        if any(not math.isfinite(t) or t <= 0 for t in self.block_times_s):
            raise ValueError(f"{where}: block_times_s must be finite and > 0 seconds")
        object.__setattr__(self, "times_s", tuple(float(t) for t in self.times_s))
        object.__setattr__(self, "block_times_s", tuple(float(t) for t in self.block_times_s))
        if self.pass_index:
            if len(self.pass_index) != len(self.times_s):
                raise ValueError(f"{where}: pass_index has {len(self.pass_index)} entries for "
                                 f"{len(self.times_s)} samples")
            if min(self.pass_index) < 0:
                raise ValueError(f"{where}: pass_index must be >= 0")
            counts = np.bincount(np.asarray(self.pass_index))
            counts = counts[counts > 0]
            if len(set(counts.tolist())) != 1:
                raise ValueError(f"{where}: every pass must hold the same number of samples, got "
                                 f"{counts.tolist()}")
            if self.block_times_s and len(self.block_times_s) != len(counts):
                raise ValueError(f"{where}: block_times_s has {len(self.block_times_s)} entries for "
                                 f"{len(counts)} passes")

    @cached_property
    def pass_matrix(self) -> np.ndarray:
        """The samples as a (passes, samples per pass) array, passes in pass order, samples in call order."""
        times = np.asarray(self.times_s, dtype=float)
        if not self.pass_index:
            return times[None, :]
        index = np.asarray(self.pass_index)
        return np.stack([times[index == p] for p in np.unique(index)])

    @property
    def passes(self) -> int:
        return int(self.pass_matrix.shape[0])

    @property
    def pass_medians_s(self) -> np.ndarray:
        return np.median(self.pass_matrix, axis=1)

    @cached_property
    def _sorted(self) -> np.ndarray:
        return np.sort(np.asarray(self.times_s, dtype=float))

    def quantile_s(self, q: float) -> float:
        return float(np.quantile(self._sorted, q))

    @property
    def p50_ms(self) -> float:
        return self.quantile_s(0.50) * 1e3

    @property
    def p90_ms(self) -> float:
        return self.quantile_s(0.90) * 1e3

    @property
    def p99_ms(self) -> float:
        return self.quantile_s(0.99) * 1e3

    @property
    def mean_ms(self) -> float:
        return float(self._sorted.mean()) * 1e3

    @property
    def iqr_ms(self) -> float:
        return (self.quantile_s(0.75) - self.quantile_s(0.25)) * 1e3

    @property
    def throughput_items_s(self) -> float:
        """Items per second at the median latency (robust to the odd slow call)."""
        median = self.quantile_s(0.5)
        return self.batch_size / median if median > 0 else math.inf

    @property
    def achieved_gflop_s(self) -> float | None:
        if self.flops is None:
            return None
        return self.flops / self.quantile_s(0.5) / 1e9

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: the stored fields plus the derived statistics, for humans and other tools."""
        out = asdict(self)
        out["times_s"] = list(self.times_s)
        out["pass_index"] = list(self.pass_index)
        out["block_times_s"] = list(self.block_times_s)
        out.update(
            p50_ms=self.p50_ms, p90_ms=self.p90_ms, p99_ms=self.p99_ms, mean_ms=self.mean_ms,
            iqr_ms=self.iqr_ms, throughput_items_s=self.throughput_items_s, rounds=len(self.times_s),
            passes=self.passes, pass_medians_ms=[float(m) * 1e3 for m in self.pass_medians_s],
        )
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TimingRecord:
        """Rebuild from ``to_dict`` output; derived statistics are recomputed, never trusted.

        Other keys (the derived statistics, and what the suite adds to ``extra_info`` for humans) are ignored.
        """
        names = set(cls.__dataclass_fields__)
        return record_from_dict(cls, {k: v for k, v in data.items() if k in names})


# ------------------------------------------------------------------------------------- experiments
@dataclass
class Table:
    """A table for the report: a title, column names and rows of raw values.

    Cells are numbers (unrounded: the report rounds when it renders), text, None (missing) or an interval as
    a ``[low, high]`` pair of numbers. Never pre-formatted strings of numbers.
    """

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.title!r}: row {i} has {len(row)} cells, expected {len(self.columns)}")


@dataclass
class Figure:
    """A figure file produced by a run; ``path`` is relative to the folder holding the envelope."""

    title: str
    path: str
    caption: str = ""


MetricValue = float | int | str | list[float | None] | None


@dataclass
class MetricLabel:
    """How a reader sees one metric: declared by the study beside the value (``Metrics.add``), so the report
    never shows a raw key. ``unit`` is printed after the value ("s", "images", "F-score points"); ``percent``
    renders a fraction as a percentage; ``key`` puts it in the compact table of the few numbers that matter
    (the rest are folded away); ``ci`` names the metric holding its ``[low, high]`` interval."""

    label: str
    unit: str = ""
    percent: bool = False
    key: bool = False
    ci: str | None = None


class Metrics:
    """Builds ``StudyResult.metrics`` and ``.labels`` together, so every value is declared with its label.

    ``add("ods_f", 0.61, "ODS F-score, gradient", ci=(0.58, 0.64), key_number=True)`` stores ``ods_f`` = 0.61 and
    ``ods_f_ci`` = [0.58, 0.64] (the JSON keeps raw values under stable keys) and the label for both.
    """

    def __init__(self) -> None:
        self.values: dict[str, MetricValue] = {}
        self.labels: dict[str, MetricLabel] = {}

    def add(self, key: str, value: MetricValue, label: str, *, unit: str = "", percent: bool = False,
            key_number: bool = False, ci: Sequence[float | None] | None = None) -> None:
        if key in self.values:
            raise ValueError(f"metric {key!r} declared twice")
        ci_key = None
        if ci is not None:
            ci_key = f"{key}_ci"
            self.values[ci_key] = [None if v is None else float(v) for v in ci]
        self.values[key] = value
        self.labels[key] = MetricLabel(label, unit, percent, key_number, ci_key)


@dataclass
class StudyResult:
    """What an experiment found, in a shape the report generator renders without knowing the study.

    ``question``, ``answer`` and ``verdict`` are prose computed from the numbers by the study's rule: the answer
    is the plain one- or two-sentence reply a reader sees first, the verdict the full reasoning behind it.
    ``metrics`` are the headline figures as raw values (an interval as a ``[low, high]`` pair) and ``labels`` the
    label and unit each was declared with (``Metrics``); ``tables``/``figures`` carry the detail. The first
    ``lead_figures`` figures (one by default) lead: the report shows them right after the answer, before the
    numbers and tables, so a study lists first the figures that carry its answer.
    """

    study: str
    question: str
    verdict: str
    data_source: str
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    labels: dict[str, MetricLabel] = field(default_factory=dict)
    answer: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    """The raw values the figures were derived from (per-pass accuracies, per-image scores, per-seed runs,
    bootstrap settings), as plain JSON, so a reader can re-derive or re-analyse without re-running."""
    elapsed_s: float | None = None
    lead_figures: int = 1

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))

    def unlabelled_metrics(self) -> list[str]:
        """Metric keys no label was declared for (neither a metric's own key nor the interval key of one)."""
        covered = set(self.labels) | {label.ci for label in self.labels.values() if label.ci}
        return [key for key in self.metrics if key not in covered]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudyResult:
        return cls(
            study=data["study"], question=data.get("question", ""), verdict=data.get("verdict", ""),
            data_source=data.get("data_source", ""), metrics=dict(data.get("metrics", {})),
            labels={k: MetricLabel(**v) for k, v in (data.get("labels") or {}).items()},
            answer=data.get("answer", ""),
            tables=[Table(**t) for t in data.get("tables", [])],
            figures=[Figure(**f) for f in data.get("figures", [])], raw=dict(data.get("raw", {})),
            elapsed_s=data.get("elapsed_s"), lead_figures=int(data.get("lead_figures", 1)),
        )


# ---------------------------------------------------------------------------------------- envelope
@dataclass
class Envelope:
    """A parsed results file: what every reader (report, compare, tests) works from."""

    study: str
    environment: dict[str, Any]
    config: dict[str, Any]
    records: list[TimingRecord] = field(default_factory=list)
    sweeps: dict[str, Any] = field(default_factory=dict)
    saturation: dict[str, Any] = field(default_factory=dict)
    result: StudyResult | None = None
    created: str = ""
    source: Path | None = None
    incomplete: str = ""
    """Why the run holds fewer points or passes than it was configured for (an interrupt), "" when complete."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def devices(self) -> list[str]:
        return sorted({r.device for r in self.records} or {str(self.environment.get("device", "?"))})


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and tuples to JSON types; NaN/inf become None (valid JSON)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def to_json(data: Any) -> str:
    """Strict JSON text (no NaN), stable key order for diffs."""
    return json.dumps(jsonable(data), indent=2, sort_keys=False, allow_nan=False)


def make_envelope(
    *,
    study: str,
    environment: Mapping[str, Any],
    config: Mapping[str, Any],
    result: StudyResult | None = None,
    benchmarks: Sequence[Mapping[str, Any]] = (),
    sweeps: Mapping[str, Any] | None = None,
    saturation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the envelope dict for a run that pytest-benchmark did not write (the experiments)."""
    from dlplayground import __version__

    env = dict(environment)
    body: dict[str, Any] = {
        "schema": SCHEMA_VERSION, "study": study, "environment": env, "config": dict(config),
        "sweeps": dict(sweeps or {}), "saturation": dict(saturation or {}),
    }
    if result is not None:
        body["result"] = result.to_dict()
    return {
        "machine_info": {"node": env.get("device_name", ""), "processor": env.get("cpu_model", ""),
                         "python_version": env.get("python", ""), "system": env.get("platform", "")},
        "commit_info": dict(env.get("git", {}) or {}),
        "benchmarks": list(benchmarks),
        "datetime": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "version": __version__,
        "dlplayground": body,
    }


def write_envelope(path: Path, envelope: Mapping[str, Any]) -> Path:
    """Write an envelope atomically as strict JSON."""
    return atomic_write_text(Path(path), to_json(envelope) + "\n")


def parse_envelope(data: Any, source: Path | None = None) -> Envelope:
    """Validate and parse envelope JSON; raise ``EnvelopeError`` naming the file and the problem."""
    where = f"{str(source)!r}" if source else "results"
    if not isinstance(data, dict):
        raise EnvelopeError(
            f"{where}: expected a JSON object (a DL-Playground results envelope), got {type(data).__name__}"
        )
    body = data.get("dlplayground")
    if not isinstance(body, dict) or "study" not in body:
        raise EnvelopeError(
            f"{where}: no 'dlplayground' section; this is not a DL-Playground results file "
            "(run `pytest benchmarks --benchmark-json FILE` or an experiment to make one)"
        )
    schema = body.get("schema")
    if body["study"] == BATCH_SIZE_STUDY and schema == 1:
        raise EnvelopeError(
            f"{where}: a schema-1 batch-size file (each point timed in one block, no passes), written by an older "
            f"DL-Playground; its intervals cannot be recomputed from passes. Re-run `dlplayground bench` to get "
            f"a schema-{SCHEMA_VERSION} file")
    if schema != SCHEMA_VERSION and not (body["study"] != BATCH_SIZE_STUDY and schema in STUDY_SCHEMAS):
        raise EnvelopeError(f"{where}: schema version {schema!r} is not supported (expected {SCHEMA_VERSION})")
    benchmarks = data.get("benchmarks", [])
    if not isinstance(benchmarks, list):
        raise EnvelopeError(f"{where}: 'benchmarks' must be a list")
    for key in ("environment", "config", "sweeps", "saturation"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise EnvelopeError(f"{where}: 'dlplayground.{key}' must be an object, got {type(body[key]).__name__}")
    if not isinstance(body.get("incomplete", ""), str):
        raise EnvelopeError(f"{where}: 'dlplayground.incomplete' must be text")
    records = []
    for i, bench in enumerate(benchmarks):
        extra = bench.get("extra_info") if isinstance(bench, dict) else None
        if not isinstance(extra, dict) or "times_s" not in extra:
            continue  # a foreign benchmark in the same file: not ours to interpret
        try:
            records.append(TimingRecord.from_dict(extra))
        except (TypeError, ValueError, KeyError) as exc:
            raise EnvelopeError(f"{where}: benchmarks[{i}] is not a valid timing record: {exc}") from None
    result = None
    if "result" in body:
        try:
            result = StudyResult.from_dict(body["result"])
        except (TypeError, ValueError, KeyError) as exc:
            raise EnvelopeError(f"{where}: 'dlplayground.result' is malformed: {exc}") from None
    return Envelope(
        study=str(body["study"]), environment=dict(body.get("environment") or {}),
        config=dict(body.get("config") or {}), records=records, sweeps=dict(body.get("sweeps") or {}),
        saturation=dict(body.get("saturation") or {}), result=result, created=str(data.get("datetime", "")),
        source=source, incomplete=body.get("incomplete", ""), raw=data,
    )


def read_envelope(path: Path | str) -> Envelope:
    """Read and validate one results file."""
    path = Path(path)
    if not path.is_file():
        raise EnvelopeError(f"results file {str(path)!r} does not exist or is not a file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise EnvelopeError(f"results file {str(path)!r} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise EnvelopeError(f"results file {str(path)!r} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return parse_envelope(data, source=path)
