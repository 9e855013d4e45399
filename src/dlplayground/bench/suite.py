"""Batch size vs. inference time: one pytest-benchmark test per (model, batch size) on the chosen device.

Run ``pytest benchmarks --benchmark-json out.json`` from a checkout, or ``dlplayground bench`` from an
installed package (options: ``pytest benchmarks --help``, section "DL-Playground batch-size study"); the
plugin ``dlplayground.bench.plugin`` supplies the options, fixtures and the parametrization over (model, batch
size). The first test runs the whole measurement (``dlplayground.bench.sweep``: each model's range found by
doubling, then every point in interleaved passes, so drift spreads over all points); each test then stores its
point's record in ``extra_info`` and hands the same raw samples to pytest-benchmark, so its table,
``--benchmark-compare`` and ``pytest-benchmark compare`` all see the numbers the report sees. The tests are
the candidate points (every doubling up to ``--max-batch``, or the ``--batch-sizes`` list); those outside a
model's measured range or past its out-of-memory boundary are skipped with the reason, not failed; the point
where a model raised an error fails with that error (the other points and models are kept). Each record
also carries the point's FLOPs and estimated bytes moved, and ``extra_info`` the achieved GFLOP/s and % of the
device's measured peaks (``dlplayground.bench.roofline``); ``--trace-dir DIR`` adds a profiler trace per
point.
"""

from __future__ import annotations

import pytest

from dlplayground.bench.sweep import PointFailed, PointSkipped
from dlplayground.bench.worker import WorkerFailed
from dlplayground.devices import dtype_name
from dlplayground.results import TimingRecord


def hand_to_pytest_benchmark(benchmark, record: TimingRecord) -> None:
    """Give pytest-benchmark our samples instead of letting it time the call a second way.

    pytest-benchmark has no public API for externally measured samples; ``_make_stats`` is the same
    entry its own ``pedantic`` mode uses (stable across 3.x-5.x). Each sample is one call (iterations=1).
    """
    if benchmark.disabled:
        return
    stats = benchmark._make_stats(1)
    for seconds in record.times_s:
        stats.update(seconds)
    benchmark._mode = "dlplayground.bench.timing"


def test_inference(benchmark, sweep, model_name: str, batch_size: int, pytestconfig) -> None:
    config = sweep.config
    benchmark.group = f"{model_name} on {config.device} ({dtype_name(config.dtype)})"
    # The first test runs the whole measurement (a minute or more): let its progress lines through.
    try:
        with pytestconfig.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
            sweep.measure()
        record = sweep.outcome(model_name, batch_size)
    except WorkerFailed as failure:  # a pass's worker crashed: one line naming the pass and its last words
        benchmark.skipped = True
        pytest.fail(str(failure), pytrace=False)
    except PointSkipped as reason:
        benchmark.skipped = True
        pytest.skip(str(reason))
    except PointFailed as failure:  # the model raised at this batch: one line, not our traceback
        benchmark.skipped = True
        pytest.fail(str(failure), pytrace=False)
    hand_to_pytest_benchmark(benchmark, record)
    benchmark.extra_info.update(record.to_dict())
    benchmark.extra_info.update(sweep.point_extras(record))  # achieved GFLOP/s, % of peak (derived)
    # Invariants of a valid measurement (not wall-clock thresholds).
    assert record.batch_size == batch_size
    assert record.passes == config.passes.passes
    assert record.pass_matrix.shape[1] >= config.passes.min_calls
    assert record.threads == config.threads or config.device.type != "cpu"
