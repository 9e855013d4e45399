"""``dlplayground`` / ``python -m dlplayground``: bench, run EXPERIMENT, report, compare, calibrate.

* ``bench`` runs the batch-size study (the pytest-benchmark suite ``dlplayground.bench.suite``) on one device,
  writes the JSON envelope and, with ``--report DIR``, builds the report from it.
* ``run NAME [ARGS...]`` runs the study ``NAME`` (``dlplayground.studies``) with its own flags
  (``run NAME --help``).
* ``report`` and ``compare`` turn envelopes into Markdown/HTML and gate on regressions; ``calibrate`` measures
  this machine's run-to-run drift (an A/A test) for ``compare``.

Exit codes (docs/reliability.md has the table of cases): 0 done; 1 a regression (``compare``), a model that
failed at some batch (``bench``: the other points are written), or a write that failed (a full disk: one
``error:`` line, the earlier output untouched); 2 bad input, refused with one ``error:`` line before any work
(options, files, and output paths that are not ours to replace); 130 Ctrl-C and 143 SIGTERM, after which
``bench`` has written the points measured so far to a file marked incomplete. An absent device with
``--if-available`` ends with a ``skipped:`` line and exit code 0, which is what the per-device tox envs use.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from dlplayground.errors import UserInputError


# -------------------------------------------------------------------------------------------- bench
def _add_bench(sub: argparse._SubParsersAction) -> None:
    from dlplayground.bench.config import BenchOptions

    p = sub.add_parser("bench", help="run the batch-size vs. inference-time study on one device",
                       description="Run the batch-size study (its pytest-benchmark suite) and write its JSON envelope.")
    for option, attr, help_text, default in BenchOptions.option_fields():
        option = "--trace" if option == "--trace-dir" else option
        if isinstance(default, bool):
            p.add_argument(option, dest=attr, action="store_true", help=help_text)
        else:
            p.add_argument(option, dest=attr, default=default, help=help_text)
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="results JSON (default: reports/batch_size/<device>-<UTC timestamp>.json)")
    p.add_argument("--report", type=Path, default=None, help="also build the report into this folder")
    p.add_argument("--if-available", action="store_true",
                   help="if the device is absent, print 'skipped: ...' and exit 0 instead of failing")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after '--'")
    p.set_defaults(func=_bench)


class _SweepRecorder:
    """A pytest plugin object ``bench`` hands to ``pytest.main``: it keeps the session's config (and through it
    the sweep) and the interrupt, so ``bench`` can write what was measured when the run did not complete."""

    def __init__(self) -> None:
        self.config = None
        self.interrupt: BaseException | None = None

    def pytest_configure(self, config) -> None:
        self.config = config

    def pytest_keyboard_interrupt(self, excinfo) -> None:
        self.interrupt = excinfo.value

    @property
    def sweep(self):
        from dlplayground.bench.plugin import SWEEP

        return None if self.config is None else self.config.stash.get(SWEEP, None)


def _bench(args: argparse.Namespace) -> int:
    import pytest

    from dlplayground.atomic import check_output_file, output_lock, remove_stale_temporaries
    from dlplayground.bench import suite as bench_suite
    from dlplayground.bench.config import BenchConfig, BenchOptions
    from dlplayground.devices import DeviceUnavailableError

    values = {attr: getattr(args, attr) for _, attr, _, _ in BenchOptions.option_fields()}
    try:
        config = BenchConfig.from_options(BenchOptions(**values))  # fail fast, before pytest starts
    except DeviceUnavailableError as exc:
        if args.if_available:
            print(f"skipped: {exc}")
            return 0
        raise
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    device_tag = str(config.device).replace(":", "")
    # Every output is checked before anything is measured: a bad path must not cost the user a whole run.
    out = check_output_file(args.out or Path("reports") / "batch_size" / f"{device_tag}-{stamp}.json",
                            what="results file (-o)")
    report = None
    if args.report is not None:
        from dlplayground.report.build import check_report_dir

        report = check_report_dir(args.report)
    # pytest-benchmark writes the JSON as it goes; write it beside the target and move it into place only
    # when the run ended, so a failed or interrupted run never leaves a half-written results file.
    partial = out.with_name(f".{out.name}.{os.getpid()}.bench.partial")
    # The suite and its pytest.ini ship in the package, so this runs the same from a checkout, a wheel or
    # another project's folder; the ini beside the suite keeps the caller's pytest configuration out.
    suite = Path(bench_suite.__file__)
    pytest_args = [str(suite), "-c", str(suite.with_name("pytest.ini")), "--rootdir", str(suite.parent),
                   "-p", "dlplayground.bench.plugin", f"--benchmark-json={partial}"]
    for option, attr, _, default in BenchOptions.option_fields():
        value = values[attr]
        if isinstance(default, bool):
            pytest_args += [option] if value else []
        elif value != default:
            pytest_args += [f"{option}={value}"]
    recorder = _SweepRecorder()
    with output_lock(out, "results file (-o)"), contextlib.ExitStack() as stack:
        if not any(a.startswith("--benchmark-storage") for a in args.pytest_args):
            # pytest-benchmark makes its storage folder (.benchmarks) in the current folder even when nothing is
            # saved there; keep it out of the user's folder unless they asked for it.
            storage = stack.enter_context(tempfile.TemporaryDirectory(prefix="dlplayground-bench-"))
            pytest_args.append(f"--benchmark-storage=file://{storage}")
        if report is not None:
            stack.enter_context(output_lock(report, "report folder"))
        remove_stale_temporaries(out)
        try:
            code = int(pytest.main(pytest_args + list(args.pytest_args), plugins=[recorder]))
            return _bench_outcome(code, recorder, partial, out, report)
        finally:
            partial.unlink(missing_ok=True)


def _shown(path: Path) -> Path:
    """A path as the user would write it: relative to the current folder when it lies below it."""
    return path.relative_to(Path.cwd().resolve()) if path.is_relative_to(Path.cwd().resolve()) else path


def _bench_outcome(code: int, recorder: _SweepRecorder, partial: Path, out: Path, report: Path | None) -> int:
    """Keep what the run measured and say how it ended: complete (0), some points failed (1, results and the
    failures written), interrupted (130/143, the points measured so far written, marked incomplete), or
    failed before measuring (pytest's code, nothing written)."""
    from dlplayground.atomic import atomic_write_text
    from dlplayground.results import to_json

    shown = _shown(out)
    sweep = recorder.sweep
    measured = sweep is not None and any(s.records for s in sweep.models.values())
    if recorder.interrupt is not None:
        signal_code = 128 + getattr(recorder.interrupt, "signal_number", signal.SIGINT)
        if not measured:
            print("interrupted: no point had been measured; nothing written", file=sys.stderr)
            return signal_code
        atomic_write_text(out, to_json(sweep.envelope()) + "\n")
        print(f"interrupted: the points measured so far were written to {shown}, marked incomplete "
              f"({sweep.incomplete}); no report was built", file=sys.stderr)
        return signal_code
    from dlplayground.bench.plugin import SAVE_ERROR

    if recorder.config is not None and SAVE_ERROR in recorder.config.stash:
        return 1  # the plugin said what could not be written
    if code not in (0, 1) or not measured:
        print(f"error: the benchmark run failed (pytest exit code {code}); no results written", file=sys.stderr)
        return code or 1
    if partial.is_file():
        partial.replace(out)  # pytest-benchmark's file, with the sweep's section (failures included)
    else:  # every point failed or was skipped: pytest-benchmark had nothing to save, the sweep still has
        atomic_write_text(out, to_json(sweep.envelope()) + "\n")
    print(f"bench: results written to {shown}")
    if report is not None:
        from dlplayground.report import build_report

        index = build_report([out], report)
        print(f"bench: report written to {index}")
    if sweep.failures:
        listed = "; ".join(f"{name} at batch {b}: {error}" for name, (b, error) in sweep.failures.items())
        print(f"error: {len(sweep.failures)} model(s) failed ({listed}); their other points and the other models "
              "were kept", file=sys.stderr)
        return 1
    return code


# ---------------------------------------------------------------------------------------------- run
def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a study (run NAME --help for its flags)",
                       description="Run the study NAME; the arguments after NAME go to the study.")
    p.add_argument("experiment", metavar="NAME",
                   help="dropout_overfitting, edge_operators, eigenfaces or gods_longformer; or all: the batch-size "
                        "study on every device, every study, and one combined report (run all --help)")
    p.add_argument("experiment_args", nargs=argparse.REMAINDER, help="the experiment's own flags")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.experiment == "all":
        from dlplayground import run_all

        return run_all.main(args.experiment_args)
    from dlplayground.studies import study_main

    return int(study_main(args.experiment)(args.experiment_args))


# --------------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    from dlplayground import __version__

    parser = argparse.ArgumentParser(prog="dlplayground", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dlplayground {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_bench(sub)
    _add_run(sub)
    from dlplayground.report.cli import add_calibrate_parser, add_compare_parser, add_report_parser

    add_report_parser(sub)
    add_compare_parser(sub)
    add_calibrate_parser(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every ``finally`` and atomic writer unwinds (no ``.partial`` left behind)."""

    signal_number = signal.SIGTERM


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    handles_sigterm = threading.current_thread() is threading.main_thread()  # only there can it be set
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if handles_sigterm else None
    try:
        return int(args.func(args))
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder removed under us; atomic writers left the old output in place
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}; the output was not written (any earlier one is untouched)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print("interrupted" + (" (SIGTERM)" if isinstance(exc, Terminated) else ""), file=sys.stderr)
        return 128 + getattr(exc, "signal_number", signal.SIGINT)
    finally:
        if handles_sigterm:  # restore what was there (None: a handler not set from Python -> the default)
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


if __name__ == "__main__":
    raise SystemExit(main())
