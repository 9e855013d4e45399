"""Each model's batch range, found by doubling until the knee is confirmed, before the measured passes.

A fixed list of batch sizes either stops short of the knee (a 140 GB GPU is still gaining at 256) or wastes
minutes far past it (a 2-core laptop saturated at 16). So, without ``--batch-sizes``, a short exploratory call
at each batch 1, 2, 4, ... decides how far each model goes, and the interleaved passes
(``dlplayground.bench.sweep``) then measure exactly that range. Doubling stops at the first of:

* **knee** -- two doublings past the reference batch without a gain above ``1 + eps`` (the reference moves
  to a batch only when its throughput beats the reference's by more than ``1 + eps``; ``eps`` is the
  saturation tolerance), so the range reaches two doublings past the knee, where the analysis can see it;
* **out of memory** -- that batch is the model's OOM boundary and is not measured;
* **latency budget** -- the fastest call exceeded ``--latency-budget-ms``: larger batches can only be slower;
* **time cap** -- one call took longer than ``--max-call-s``; that batch is left out (the passes would time
  it several times per pass); batch 1 is always kept, so every model gets at least one point;
* **batch cap** -- the next doubling would pass ``--max-batch``;
* **failed** -- the model raised an error that is not out-of-memory (a user model with a shape bug at batch
  4): that batch is recorded as failed with its error, and the model's larger batches are not tried.

Each exploratory measurement is the fastest of a few calls (noise on a shared machine only slows calls down,
so one stall cannot end the doubling early). With an explicit list (``--batch-sizes``) every listed batch is
measured this way, ascending, and only an out-of-memory error or a failure stops early. The exploratory
timings only choose the range and how many calls each visit makes; they are never part of the results (they
are taken in one block, before the passes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

KNEE = "knee"
OUT_OF_MEMORY = "out of memory"
LATENCY_BUDGET = "latency budget"
TIME_CAP = "time cap"
BATCH_CAP = "batch cap"
LIST_END = "end of the list"
FAILED = "failed"
VARIANT_SKIPPED = "variant unavailable"
"""Not an end of doubling: the variant (``dlplayground.bench.variants``) could not be built, so nothing ran."""
STOP_REASONS = (KNEE, OUT_OF_MEMORY, LATENCY_BUDGET, TIME_CAP, BATCH_CAP, LIST_END, FAILED, VARIANT_SKIPPED)


class OutOfMemoryAtBatch(Exception):
    """Raised by the exploratory ``measure`` callable when a batch ran out of memory (with the message)."""


class FailedAtBatch(Exception):
    """Raised by the exploratory ``measure`` callable when a batch raised another error (with its message)."""


@dataclass(frozen=True)
class RangeConfig:
    """How far the doubling goes."""

    max_batch: int = 1 << 16
    """Never go past this batch."""
    max_call_s: float = 1.0
    """The per-model time cap: a batch whose call takes longer is left out and ends the doubling."""
    eps: float = 0.05
    """Gain tolerance: a doubling 'pays off' when throughput grows by more than 1 + eps."""
    knee_doublings: int = 2
    """Doublings past the reference batch without such a gain that confirm the knee."""
    latency_budget_ms: float | None = None


@dataclass(frozen=True)
class RangeResult:
    """The range a model's passes will measure and why the doubling stopped."""

    batch_sizes: tuple[int, ...]
    call_s: tuple[float, ...]
    """Exploratory seconds per call (the fastest call) at each of ``batch_sizes`` (sizes the visits)."""
    stop_reason: str
    stop_detail: str
    oom_batch_size: int | None = None
    oom_message: str | None = None
    failed_batch_size: int | None = None
    """The batch that raised an error other than out-of-memory, if one did."""
    failure: str | None = None


def explore(measure: Callable[[int], float], config: RangeConfig, explicit: Sequence[int] | None = None) -> RangeResult:
    """Run the doubling (or walk the ``explicit`` list) with ``measure(batch) -> seconds per call``."""
    sizes: list[int] = []
    calls: list[float] = []

    def done(reason: str, detail: str, **boundary: object) -> RangeResult:
        return RangeResult(tuple(sizes), tuple(calls), reason, detail, **boundary)  # type: ignore[arg-type]

    candidates = list(explicit) if explicit is not None else _doublings(config.max_batch)
    ref_batch, ref_throughput = 0, 0.0
    for batch in candidates:
        try:
            call_s = measure(batch)
        except OutOfMemoryAtBatch as exc:
            return done(OUT_OF_MEMORY, f"out of memory at batch {batch}", oom_batch_size=batch,
                        oom_message=str(exc))
        except FailedAtBatch as exc:
            return done(FAILED, f"batch {batch} failed: {exc}", failed_batch_size=batch, failure=str(exc))
        if explicit is None and sizes and call_s > config.max_call_s:  # batch 1 is always measured
            return done(TIME_CAP, f"one call at batch {batch} took {call_s:.3g} s, over the {config.max_call_s:g} s "
                                  "cap (--max-call-s)")
        sizes.append(batch)
        calls.append(call_s)
        if explicit is not None:
            continue
        if config.latency_budget_ms is not None and call_s * 1e3 > config.latency_budget_ms:
            return done(LATENCY_BUDGET, f"batch {batch} took {call_s * 1e3:.3g} ms, over the "
                                        f"{config.latency_budget_ms:g} ms budget")
        throughput = batch / call_s if call_s > 0 else math.inf
        if throughput > ref_throughput * (1 + config.eps):
            ref_batch, ref_throughput = batch, throughput
        elif batch >= ref_batch << config.knee_doublings:
            return done(KNEE, f"no doubling past batch {ref_batch} gained more than {config.eps:.0%} "
                              f"(checked up to batch {batch})")
    if explicit is not None:
        return done(LIST_END, f"all {len(sizes)} listed batch sizes")
    return done(BATCH_CAP, f"reached the {config.max_batch} batch cap (--max-batch) before the knee was confirmed")


def _doublings(max_batch: int) -> list[int]:
    out, batch = [], 1
    while batch <= max_batch:
        out.append(batch)
        batch *= 2
    return out
