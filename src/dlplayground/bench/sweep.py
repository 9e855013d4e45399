"""One batch-size sweep: builds each model once, times it at each batch size, records the OOM boundary.

The pytest suite (``dlplayground.bench.suite``) drives a ``Sweep`` point by point, so each point is a
pytest-benchmark test; the sweep keeps the records and produces the ``dlplayground`` section of the JSON.
Points run model by model in ascending batch order: the first out-of-memory error ends that model's sweep
and the larger batches are skipped, not failed.

After a point is timed -- never inside the timed region -- one more forward pass counts its FLOPs and
estimates its bytes moved (``dlplayground.bench.flops``), and with ``trace_dir`` set a profiler trace is recorded
(``dlplayground.bench.profiling``). The device's matmul and bandwidth ceilings are measured once per run, before
the first point (``dlplayground.bench.peaks``), and go into the environment section; each model's saturation
analysis gets a one-line diagnosis of what bounds it there (``dlplayground.bench.roofline``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlplayground.bench.config import BenchConfig
from dlplayground.bench.flops import count_forward
from dlplayground.bench.models import InputFactory, ModelSpec, build
from dlplayground.bench.peaks import FULL_PEAKS, QUICK_PEAKS, Peaks, measure_peaks
from dlplayground.bench.profiling import trace_point
from dlplayground.bench.record import SweepRecord
from dlplayground.bench.roofline import Roofs, diagnose_record, place
from dlplayground.bench.saturation import Saturation, analyse
from dlplayground.bench.timing import PointSpec, measure_inference
from dlplayground.devices import dtype_name, empty_cache, environment_fingerprint, is_out_of_memory
from dlplayground.progress import progress
from dlplayground.results import BATCH_SIZE_STUDY, SCHEMA_VERSION, TimingRecord
from dlplayground.seeding import seed_everything


@dataclass
class ModelSweep:
    """The state of one model's sweep."""

    spec: ModelSpec
    batch_sizes: tuple[int, ...]
    records: list[TimingRecord] = field(default_factory=list)
    oom_batch_size: int | None = None
    oom_message: str | None = None
    flop_count_error: str | None = None
    """Why FLOPs/bytes could not be counted for this model (its points then carry None), if they could not."""
    traces: list[str] = field(default_factory=list)

    def record(self) -> SweepRecord:
        """The sweep's outcome as the record the envelope stores and the report reads."""
        return SweepRecord(family=self.spec.family, description=self.spec.description,
                           batch_sizes=tuple(self.batch_sizes), measured=tuple(r.batch_size for r in self.records),
                           oom_batch_size=self.oom_batch_size, oom_message=self.oom_message,
                           flop_count_error=self.flop_count_error, traces=tuple(self.traces))


class PointSkipped(Exception):
    """A point that was not measured, with the reason (past the OOM boundary, or OOM at this point)."""


def prepare_inputs(batch: torch.Tensor | tuple[torch.Tensor, ...], device: torch.device, dtype: torch.dtype):
    """Move a batch to the device; floating tensors take the benchmark dtype, integer ids stay integers."""
    items = batch if isinstance(batch, tuple) else (batch,)
    moved = tuple(t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype) for t in items)
    return moved if isinstance(batch, tuple) else moved[0]


class Sweep:
    """Runs the points of a batch-size study and keeps their records."""

    def __init__(self, config: BenchConfig):
        self.config = config
        self.models = {spec.name: ModelSweep(spec, config.batch_sizes[spec.name]) for spec in config.models}
        self._current: tuple[str, nn.Module, InputFactory] | None = None
        self._peaks: Peaks | None = None
        self._saturation: tuple[tuple[int, ...], dict[str, Saturation]] | None = None

    def points(self) -> list[tuple[str, int]]:
        """Every (model, batch size) in execution order: model by model, batches ascending."""
        return [(name, b) for name, sweep in self.models.items() for b in sweep.batch_sizes]

    def _model(self, name: str) -> tuple[nn.Module, InputFactory]:
        if self._current is None or self._current[0] != name:
            self._current = None  # free the previous model before building the next
            empty_cache(self.config.device)
            seed_everything(0)  # identical weights in every run, so runs compare like with like
            model, make_input = build(self.models[name].spec)
            model = model.to(device=self.config.device, dtype=self.config.dtype).eval()
            self._current = (name, model, make_input)
        return self._current[1], self._current[2]

    def run_point(self, name: str, batch_size: int) -> TimingRecord:
        """Measure one point; raise ``PointSkipped`` past the OOM boundary or on out-of-memory here."""
        sweep = self.models[name]
        if sweep.oom_batch_size is not None:
            raise PointSkipped(f"{name}: beyond the OOM boundary (batch {sweep.oom_batch_size} ran out of memory)")
        self.peaks()  # once per run, before the first point, so every point can be placed on the roofline
        model, make_input = self._model(name)
        spec = PointSpec(model=name, family=sweep.spec.family, batch_size=batch_size,
                         device=self.config.device, dtype=self.config.dtype)
        try:
            inputs = prepare_inputs(make_input(batch_size), self.config.device, self.config.dtype)
            record = measure_inference(model, inputs, spec, self.config.timer)
            record = self._with_cost(sweep, model, inputs, record)
            if self.config.trace_dir:
                path = trace_point(model, inputs, Path(self.config.trace_dir), model_name=name,
                                   batch_size=batch_size, device=self.config.device)
                sweep.traces.append(str(path))
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            sweep.oom_batch_size, sweep.oom_message = batch_size, str(exc).splitlines()[0][:300]
            empty_cache(self.config.device)
            raise PointSkipped(f"{name}: out of memory at batch {batch_size}; recorded as the OOM boundary") from None
        sweep.records.append(record)
        return record

    @staticmethod
    def _with_cost(sweep: ModelSweep, model: nn.Module, inputs, record: TimingRecord) -> TimingRecord:
        """The record with the FLOPs and estimated bytes of one (untimed) forward pass filled in.

        Counting failures other than out-of-memory (a user model with an operator the counter cannot follow)
        leave the figures None and are noted in the sweep, rather than losing the timed point.
        """
        if sweep.flop_count_error is not None:
            return record
        try:
            cost = count_forward(model, inputs)
        except Exception as exc:  # the counter runs arbitrary user code; keep the timing, say why
            if is_out_of_memory(exc):
                raise
            sweep.flop_count_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            return record
        return replace(record, flops=cost.flops, bytes_moved=cost.bytes_moved)

    def peaks(self) -> Peaks:
        """The device's measured ceilings at the benchmark dtype, measured on first use (once per run)."""
        if self._peaks is None:
            progress(f"measuring {self.config.device} peaks (matmul GFLOP/s, copy GB/s) at "
                     f"{dtype_name(self.config.dtype)}")
            self._peaks = measure_peaks(self.config.device, self.config.dtype,
                                        QUICK_PEAKS if self.config.quick else FULL_PEAKS,
                                        threads=self.config.threads)
        return self._peaks

    def roofs(self) -> Roofs:
        return Roofs.from_peaks(self.peaks())

    def point_extras(self, record: TimingRecord) -> dict[str, Any]:
        """Derived roofline figures of one point for ``extra_info`` (readers recompute them; for humans)."""
        point = place(record, self.roofs())
        if point is None:
            return {"achieved_gflop_s": record.achieved_gflop_s}
        return {"achieved_gflop_s": point.achieved_gflop_s, "achieved_gb_s": point.achieved_gb_s,
                "arithmetic_intensity": point.intensity_flop_per_byte, "pct_of_matmul_peak": point.pct_of_matmul_peak,
                "pct_of_bandwidth": point.pct_of_bandwidth, "pct_of_roof": point.pct_of_roof}

    def saturation(self) -> dict[str, Saturation]:
        """Saturation analysis per model that has at least one measured point, with its roofline diagnosis.

        Computed once for a given set of records: the JSON hook and the terminal summary both ask for it at
        the end of a run, and its bootstrap is the costliest step there.
        """
        measured = tuple(len(s.records) for s in self.models.values())
        if self._saturation is not None and self._saturation[0] == measured:
            return self._saturation[1]
        out = {}
        for name, s in self.models.items():
            if not s.records:
                continue
            sat = analyse(s.records, self.config.saturation)
            at_sat = next((r for r in s.records if r.batch_size == sat.saturation_batch), None)
            fit = sat.latency_model
            diagnosis = diagnose_record(at_sat, batch_size=sat.saturation_batch, roofs=self.roofs(),
                                        fixed_ms=fit.a_ms if fit else None,
                                        per_item_ms=fit.c_ms_per_item if fit else None)
            out[name] = replace(sat, diagnosis=diagnosis)
        self._saturation = (measured, out)
        return out

    def envelope_section(self) -> dict[str, Any]:
        """The ``dlplayground`` key of the benchmark JSON."""
        return {
            "schema": SCHEMA_VERSION, "study": BATCH_SIZE_STUDY,
            "environment": {**environment_fingerprint(self.config.device).to_dict(),
                            "peaks": self.peaks().to_dict()},
            "config": self.config.to_dict(),
            "sweeps": {name: s.record().to_dict() for name, s in self.models.items()},
            "saturation": {name: sat.to_dict() for name, sat in self.saturation().items()},
        }
