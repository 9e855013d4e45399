"""The batch-size study's results as one typed value, written by the sweep and read back by the report.

A batch-size envelope holds the points once (``benchmarks[i].extra_info``, each a ``TimingRecord``) and, in its
``dlplayground`` section, the environment (with the measured ``peaks``), the config, one ``SweepRecord`` per
model (what was tried, where it stopped) and one ``Saturation`` per model (with its roofline diagnosis).
``BatchSizeRun.from_envelope`` rebuilds all of them with the producers' own ``from_dict``, so the report
derives nothing a second time; a malformed entry is an ``EnvelopeError`` naming the file and the entry, not
a traceback from deep inside a renderer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from dlplayground.bench.memory import FillEstimate
from dlplayground.bench.peaks import Peaks
from dlplayground.bench.saturation import Saturation
from dlplayground.results import BATCH_SIZE_STUDY, Envelope, EnvelopeError, TimingRecord, jsonable, record_from_dict


@dataclass(frozen=True)
class SweepRecord:
    """What the suite tried for one model and where it stopped."""

    family: str
    description: str
    batch_sizes: tuple[int, ...]
    """The range the passes measured, ascending (explored by doubling, or the explicit list)."""
    measured: tuple[int, ...]
    """Those that produced a timing record."""
    stop_reason: str = ""
    """Why the range ends where it does: one of ``dlplayground.bench.explore.STOP_REASONS``."""
    stop_detail: str = ""
    """The same, in a sentence with the numbers."""
    oom_batch_size: int | None = None
    """The first batch that ran out of memory (larger ones were skipped), if any."""
    oom_message: str | None = None
    failed_batch_size: int | None = None
    """The batch at which the model raised an error other than out-of-memory (larger ones were not measured)."""
    failure: str | None = None
    """That error: its type and first line."""
    flop_count_error: str | None = None
    """Why FLOPs/bytes could not be counted for this model (its points then carry None), if they could not."""
    traces: tuple[str, ...] = ()
    variant: str = "eager"
    """How the model was run (``dlplayground.bench.variants``); ``base_model`` names the model without it."""
    base_model: str = ""
    variant_detail: str = ""
    variant_skipped: str | None = None
    """Why the variant could not be built here (then nothing was measured), if it could not."""
    compile_s: float | None = None
    """Seconds of the variant's first call at batch 1 (compilation or graph capture included); never timed."""
    first_call_s: dict[str, float] = field(default_factory=dict)
    """Per batch (as text), the first call at that batch: a recompile or a capture for compile/cudagraphs."""
    memory_fill: FillEstimate | None = None
    """With ``--memory-budget-gb``: the batch that would fill the budget, from the per-point memory."""
    memory_check: str = ""
    """That batch held against the measured out-of-memory boundary (``memory.check_against_oom``)."""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "batch_sizes": list(self.batch_sizes), "measured": list(self.measured),
                "traces": list(self.traces), "first_call_s": dict(self.first_call_s),
                "memory_fill": None if self.memory_fill is None else jsonable(asdict(self.memory_fill))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepRecord:
        return record_from_dict(cls, data,
                                nested={"memory_fill": lambda d: record_from_dict(FillEstimate, d)})


@dataclass(frozen=True)
class BatchSizeRun:
    """One batch-size run, typed: its points, per-model sweep and saturation, and the measured ceilings."""

    envelope: Envelope
    records: tuple[TimingRecord, ...]
    sweeps: dict[str, SweepRecord] = field(default_factory=dict)
    saturation: dict[str, Saturation] = field(default_factory=dict)
    peaks: Peaks | None = None

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> BatchSizeRun:
        """Parse the batch-size parts of ``envelope``; ``EnvelopeError`` names the file and the bad entry."""
        where = f"{str(envelope.source)!r}" if envelope.source else "results"
        if envelope.study != BATCH_SIZE_STUDY:
            raise EnvelopeError(f"{where}: study {envelope.study!r} is not the batch-size study")

        def parse(kind: str, raw: Any, build: Any) -> dict[str, Any]:
            if not isinstance(raw, Mapping):
                raise EnvelopeError(f"{where}: 'dlplayground.{kind}' must be an object keyed by model, "
                                    f"got {type(raw).__name__}")
            out = {}
            for model, entry in raw.items():
                if not isinstance(entry, Mapping):
                    raise EnvelopeError(f"{where}: {kind}[{model!r}] must be an object, got {type(entry).__name__}")
                try:
                    out[str(model)] = build(entry)
                except (KeyError, TypeError, ValueError) as exc:
                    raise EnvelopeError(f"{where}: {kind}[{model!r}] is malformed: {exc}") from None
            return out

        peaks = envelope.environment.get("peaks")
        try:
            parsed_peaks = Peaks.from_dict(peaks) if peaks is not None else None
        except (KeyError, TypeError, ValueError) as exc:
            raise EnvelopeError(f"{where}: environment.peaks is malformed: {exc}") from None
        return cls(envelope=envelope, records=tuple(envelope.records),
                   sweeps=parse("sweeps", envelope.sweeps, SweepRecord.from_dict),
                   saturation=parse("saturation", envelope.saturation, Saturation.from_dict), peaks=parsed_peaks)
