"""One batch-size sweep: builds each model once, times it at each batch size, records the OOM boundary.

The pytest suite (``benchmarks/test_batch_size.py``) drives a ``Sweep`` point by point, so each point is a
pytest-benchmark test; the sweep keeps the records and produces the ``dlplayground`` section of the JSON.
Points run model by model in ascending batch order: the first out-of-memory error ends that model's sweep
and the larger batches are skipped, not failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlplayground.bench_config import BenchConfig
from dlplayground.devices import empty_cache, environment_fingerprint, is_out_of_memory
from dlplayground.models import InputFactory, ModelSpec, build
from dlplayground.results import BATCH_SIZE_STUDY, SCHEMA_VERSION, TimingRecord
from dlplayground.saturation import Saturation, analyse
from dlplayground.seeding import seed_everything
from dlplayground.timing import PointSpec, measure_inference


@dataclass
class ModelSweep:
    """The state of one model's sweep."""

    spec: ModelSpec
    batch_sizes: tuple[int, ...]
    records: list[TimingRecord] = field(default_factory=list)
    oom_batch_size: int | None = None
    oom_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.spec.family, "description": self.spec.description,
                "batch_sizes": list(self.batch_sizes), "measured": [r.batch_size for r in self.records],
                "oom_batch_size": self.oom_batch_size, "oom_message": self.oom_message}


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
        model, make_input = self._model(name)
        spec = PointSpec(model=name, family=sweep.spec.family, batch_size=batch_size,
                         device=self.config.device, dtype=self.config.dtype)
        try:
            inputs = prepare_inputs(make_input(batch_size), self.config.device, self.config.dtype)
            record = measure_inference(model, inputs, spec, self.config.timer)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            sweep.oom_batch_size, sweep.oom_message = batch_size, str(exc).splitlines()[0][:300]
            empty_cache(self.config.device)
            raise PointSkipped(f"{name}: out of memory at batch {batch_size}; recorded as the OOM boundary") from None
        sweep.records.append(record)
        return record

    def saturation(self) -> dict[str, Saturation]:
        """Saturation analysis per model that has at least one measured point."""
        return {name: analyse(s.records, self.config.saturation) for name, s in self.models.items() if s.records}

    def envelope_section(self) -> dict[str, Any]:
        """The ``dlplayground`` key of the benchmark JSON."""
        return {
            "schema": SCHEMA_VERSION, "study": BATCH_SIZE_STUDY,
            "environment": environment_fingerprint(self.config.device).to_dict(),
            "config": self.config.to_dict(),
            "sweeps": {name: s.to_dict() for name, s in self.models.items()},
            "saturation": {name: sat.to_dict() for name, sat in self.saturation().items()},
        }
