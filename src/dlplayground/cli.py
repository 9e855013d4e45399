"""``dlplayground`` / ``python -m dlplayground``: bench, run EXPERIMENT, report, compare, calibrate.

* ``bench`` runs the batch-size study (the pytest-benchmark suite ``dlplayground.bench.suite``) on one device,
  writes the JSON envelope and, with ``--report DIR``, builds the report from it.
* ``run NAME [ARGS...]`` runs the study ``NAME`` (``dlplayground.studies``) with its own flags
  (``run NAME --help``).
* ``report`` and ``compare`` turn envelopes into Markdown/HTML and gate on regressions; ``calibrate`` measures
  this machine's run-to-run drift (an A/A test) for ``compare``.

Bad input ends with one ``error:`` line and exit code 2; an absent device with ``--if-available`` ends with a
``skipped:`` line and exit code 0, which is what the per-device tox envs use.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
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


def _bench(args: argparse.Namespace) -> int:
    import pytest

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
    out = args.out or Path("reports") / "batch_size" / f"{device_tag}-{stamp}.json"
    from dlplayground.atomic import ensure_writable_dir

    ensure_writable_dir(out.parent, "results folder").mkdir(exist_ok=True)
    if args.report is not None:
        ensure_writable_dir(args.report, "report folder")
    # pytest-benchmark writes the JSON as it goes; write it beside the target and move it into place only
    # when the run succeeded, so a failed or interrupted run never leaves a half-written results file.
    partial = out.with_name(f".{out.name}.partial")
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
    try:
        code = int(pytest.main(pytest_args + list(args.pytest_args)))
        if code != 0:
            print(f"error: the benchmark run failed (pytest exit code {code}); no results written", file=sys.stderr)
            return code
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    print(f"bench: results written to {out}")
    if args.report is not None:
        from dlplayground.report import build_report

        index = build_report([out], args.report)
        print(f"bench: report written to {index}")
    return 0


# ---------------------------------------------------------------------------------------------- run
def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a study (run NAME --help for its flags)",
                       description="Run the study NAME; the arguments after NAME go to the study.")
    p.add_argument("experiment", metavar="NAME",
                   help="dropout_overfitting, edge_operators, eigenfaces or gods_longformer")
    p.add_argument("experiment_args", nargs=argparse.REMAINDER, help="the experiment's own flags")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        return int(args.func(args))
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
