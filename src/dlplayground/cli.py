"""``dlplayground`` / ``python -m dlplayground``: bench, run EXPERIMENT, report, compare.

* ``bench`` runs the batch-size study (the pytest-benchmark suite in ``benchmarks/``) on one device, writes the
  JSON envelope and, with ``--report DIR``, builds the report from it.
* ``run NAME [ARGS...]`` runs ``experiments/NAME.py`` with its own flags (``run NAME --help``).
* ``report`` and ``compare`` turn envelopes into Markdown/HTML and gate on regressions.

Bad input ends with one ``error:`` line and exit code 2; an absent device with ``--if-available`` ends with a
``skipped:`` line and exit code 0, which is what the per-device tox envs use.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from dlplayground.errors import UserInputError, choices_text

CHECKOUT = Path(__file__).resolve().parents[2]


def _find_dir(name: str) -> Path:
    """Find ``benchmarks/`` or ``experiments/``: in the current folder, else beside the source checkout."""
    for base in (Path.cwd(), CHECKOUT):
        if (base / name).is_dir():
            return base / name
    raise UserInputError(
        f"cannot find the {name}/ folder in {str(Path.cwd())!r} or {str(CHECKOUT)!r}; "
        "run from a DL-Playground checkout (pip install -e .)"
    )


# -------------------------------------------------------------------------------------------- bench
def _add_bench(sub: argparse._SubParsersAction) -> None:
    from dlplayground.bench_config import BenchOptions

    p = sub.add_parser("bench", help="run the batch-size vs. inference-time study on one device",
                       description="Run the batch-size study (pytest benchmarks/) and write its JSON envelope.")
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

    from dlplayground.bench_config import BenchConfig, BenchOptions
    from dlplayground.devices import DeviceUnavailableError

    values = {attr: getattr(args, attr) for _, attr, _, _ in BenchOptions.option_fields()}
    try:
        config = BenchConfig.from_options(BenchOptions(**values))  # fail fast, before pytest starts
    except DeviceUnavailableError as exc:
        if args.if_available:
            print(f"skipped: {exc}")
            return 0
        raise
    bench_dir = _find_dir("benchmarks")
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
    pytest_args = [str(bench_dir), "--rootdir", str(bench_dir.parent), "-p", "no:cacheprovider",
                   f"--benchmark-json={partial}"]
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
def _experiments() -> dict[str, Path]:
    folder = _find_dir("experiments")
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")}


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a study from experiments/ (run NAME --help for its flags)",
                       description="Run experiments/NAME.py; the arguments after NAME go to the experiment.")
    p.add_argument("experiment", help="experiment name, e.g. edge_operators")
    p.add_argument("experiment_args", nargs=argparse.REMAINDER, help="the experiment's own flags")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    available = _experiments()
    path = available.get(args.experiment)
    if path is None:
        raise UserInputError(f"unknown experiment {args.experiment!r}; choose {choices_text(available)}")
    spec = importlib.util.spec_from_file_location(f"experiments.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses and pickling look their module up by name
    spec.loader.exec_module(module)
    return int(module.main(args.experiment_args))


# --------------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    from dlplayground import __version__

    parser = argparse.ArgumentParser(prog="dlplayground", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dlplayground {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_bench(sub)
    _add_run(sub)
    from dlplayground.report.cli import add_compare_parser, add_report_parser

    add_report_parser(sub)
    add_compare_parser(sub)
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
