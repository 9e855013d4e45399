"""The batch-size study's pytest plugin: command-line options, fixtures, parametrization and JSON hooks.

Loaded by the checkout's root ``conftest.py`` (``pytest_plugins``) and by ``dlplayground bench`` (``-p``), so
``pytest benchmarks`` from a checkout and the installed command run the same suite (``dlplayground.bench.suite``).

Options are generated from ``dlplayground.bench.config.BenchOptions`` (declared once, help text beside each
field) and validated in ``pytest_configure``: a bad value stops pytest with one ``ERROR:`` line naming the
option and the valid choices (exit code 4), before anything is built or timed.

``pytest_benchmark_update_json`` adds the environment fingerprint, the sweep state (OOM boundaries) and the
per-model saturation analysis to the file written by ``--benchmark-json``, so that file is complete on its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dlplayground.bench.config import BenchConfig, BenchOptions
from dlplayground.errors import UserInputError

BENCH_CONFIG = pytest.StashKey[BenchConfig]()
SWEEP = pytest.StashKey["object"]()
SELECTED_MODELS = pytest.StashKey[set]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dlplayground", "DL-Playground batch-size study")
    for option, attr, help_text, default in BenchOptions.option_fields():
        if isinstance(default, bool):
            group.addoption(option, action="store_true", default=default, dest=f"dlp_{attr}", help=help_text)
        else:
            group.addoption(option, default=default, dest=f"dlp_{attr}", help=help_text)


def pytest_configure(config: pytest.Config) -> None:
    values = {attr: config.getoption(f"dlp_{attr}") for _, attr, _, _ in BenchOptions.option_fields()}
    try:
        config.stash[BENCH_CONFIG] = BenchConfig.from_options(BenchOptions(**values))
    except UserInputError as exc:
        _discard_empty_benchmark_json(config)
        raise pytest.UsageError(str(exc)) from None


def _discard_empty_benchmark_json(config: pytest.Config) -> None:
    """Older pytest-benchmark releases open ``--benchmark-json`` while parsing arguments (newer ones keep a
    path and write at the end); on a usage error remove a still-empty file, so a rejected run leaves nothing."""
    option = config.getoption("benchmark_json", None)
    if option is None:
        return
    if hasattr(option, "close"):  # an open file object: its .name is the path
        option.close()
        path = Path(option.name)
    else:
        path = Path(option)
    if path.is_file() and path.stat().st_size == 0:
        path.unlink()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize every test that asks for ``model_name`` and ``batch_size`` over the configured points."""
    if {"model_name", "batch_size"} <= set(metafunc.fixturenames):
        config = metafunc.config.stash[BENCH_CONFIG]
        points = [(spec.name, b) for spec in config.models for b in config.candidate_batch_sizes()]
        metafunc.parametrize(("model_name", "batch_size"), points, ids=[f"{m}-b{b}" for m, b in points])


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remember which models have a test left after ``-k``/deselection: only those are built and measured."""
    selected = set()
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "model_name" in params:
            selected.add(params["model_name"])
    session.config.stash[SELECTED_MODELS] = selected


@pytest.fixture(scope="session")
def bench_config(pytestconfig: pytest.Config) -> BenchConfig:
    """The validated batch-size study configuration for this run."""
    return pytestconfig.stash[BENCH_CONFIG]


@pytest.fixture(scope="session")
def sweep(pytestconfig: pytest.Config, bench_config: BenchConfig):
    """The session's batch-size sweep; it keeps every record for the JSON and the terminal summary."""
    from dlplayground.bench.sweep import Sweep

    pytestconfig.stash[SWEEP] = Sweep(bench_config, models=pytestconfig.stash.get(SELECTED_MODELS, None))
    return pytestconfig.stash[SWEEP]


SAVE_ERROR = pytest.StashKey[OSError]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    """Turn a write failure of pytest-benchmark's JSON (a full disk) into one ``error:`` line, not a traceback.

    pytest-benchmark writes ``--benchmark-json`` in its own ``pytest_sessionfinish``; this wrapper runs around
    it, keeps the error for ``dlplayground bench`` and makes the session fail.
    """
    try:
        return (yield)
    except OSError as exc:
        session.config.stash[SAVE_ERROR] = exc
        option = session.config.getoption("benchmark_json", None)  # a Path (an open file in old releases)
        target = exc.filename or (option.name if hasattr(option, "write") else option)
        where = f" in {Path(target).resolve().parent}" if target else ""  # the folder: the file is a temporary
        sys.stderr.write(f"error: could not write the results{where}: {exc.strerror or exc}; nothing was kept\n")
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        return None


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    sweep = config.stash.get(SWEEP, None)
    if sweep is not None:
        output_json["dlplayground"] = sweep.envelope_section()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    sweep = config.stash.get(SWEEP, None)
    if sweep is None:
        return
    for name, (batch_size, error) in sweep.failures.items():
        terminalreporter.write_line(f"FAILED {name} at batch {batch_size}: {error} (its larger batches were not "
                                    "measured; its other points and the other models were kept)", red=True)
    if sweep.incomplete:
        terminalreporter.write_line(f"INCOMPLETE: {sweep.incomplete}", yellow=True)
    if not any(s.records for s in sweep.models.values()):
        return
    from dlplayground.bench.summary import summary_lines

    terminalreporter.section("saturation (throughput = batch / median latency)")
    for line in summary_lines(sweep):
        terminalreporter.write_line(line)
