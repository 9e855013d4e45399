"""The ``report``, ``compare`` and ``calibrate`` subcommands; ``dlplayground.cli`` registers them.

Each handler returns the exit code: ``report`` and ``calibrate`` 0; ``compare`` 0 when no point regressed, 1
when one did (so CI can gate on it). Bad input raises ``UserInputError``, which the main CLI prints as one ``error:``
line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _fraction(text: str) -> float:
    """``0.05`` or ``5%``; argparse turns a ValueError into a usage error naming the flag (the range is checked
    by the command, which names the flag in one error line)."""
    text = text.strip()
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def run_report(args: argparse.Namespace) -> int:
    from dlplayground.report.build import build_report  # imported here: matplotlib is slow to load

    index = build_report(args.inputs, args.out, title=args.title)
    print(f"report: {index} (and {index.with_name('index.md')}, figures, copies of the inputs)")
    return 0


def _sides(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """The base and new runs: ``BASE NEW`` or ``--base RUN... --new RUN...``."""
    from dlplayground.errors import UserInputError

    usage = "give BASE.json NEW.json, or --base RUN.json [RUN.json ...] --new RUN.json [RUN.json ...]"
    if args.base_runs or args.new_runs:
        if args.runs:
            raise UserInputError(f"compare: {usage}, not both (got positional file(s) {args.runs[0]!s} ...)")
        if not args.base_runs or not args.new_runs:
            missing = "--new" if args.base_runs else "--base"
            raise UserInputError(f"compare: {missing} is missing: each side needs at least one run; {usage}")
        return list(args.base_runs), list(args.new_runs)
    if len(args.runs) != 2:
        raise UserInputError(f"compare: {usage}; got {len(args.runs)} file(s)")
    return [args.runs[0]], [args.runs[1]]


def run_compare(args: argparse.Namespace) -> int:
    from dlplayground.atomic import atomic_write_text
    from dlplayground.bench.calibration import read_profile, require_batch_runs, stored_profile_for
    from dlplayground.report.compare import compare_runs
    from dlplayground.results import read_envelope

    base_paths, new_paths = _sides(args)
    base, new = [read_envelope(p) for p in base_paths], [read_envelope(p) for p in new_paths]
    require_batch_runs([*base, *new], "compare")
    profile, source = None, None
    if args.noise_profile is not None:
        profile, source = read_profile(args.noise_profile), str(args.noise_profile)
    elif len(base) == 1 and len(new) == 1:
        profile, source = stored_profile_for([*base, *new])
    result = compare_runs(base, new, min_effect=args.min_effect, confidence=args.confidence,
                          resamples=args.resamples, seed=args.seed, profile=profile, profile_source=source)
    print(result.to_text(show_all=not args.changes_only))
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"compare: details written to {args.json}")
    return 1 if result.has_regression else 0


def run_calibrate(args: argparse.Namespace) -> int:
    import shlex
    import sys
    import tempfile

    from dlplayground.bench import calibration
    from dlplayground.errors import UserInputError
    from dlplayground.results import read_envelope

    if args.runs is None:
        if len(args.inputs) < 2:
            raise UserInputError(f"calibrate: give at least two results files of the same code on this machine, "
                                 f"or --runs N [-- bench options] to make them; got {len(args.inputs)} file(s)")
        envelopes = [read_envelope(p) for p in args.inputs]
        profile = calibration.profile_from_envelopes(envelopes, sources=list(args.inputs),
                                                     resamples=args.resamples, seed=args.seed)
    else:
        if args.inputs and not args.inputs[0].startswith("-"):
            raise UserInputError(f"calibrate: with --runs, the arguments after `--` are bench options "
                                 f"(got {args.inputs[0]!r}); to calibrate from results files, leave out --runs")
        command = shlex.join(["dlplayground", "bench", *args.inputs])
        with tempfile.TemporaryDirectory(prefix="dlplayground-calibrate-") as tmp:
            try:
                paths = calibration.run_benches(args.runs, args.inputs, Path(tmp),
                                                run_bench=calibration.bench_in_subprocess)
            except calibration.BenchRunError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return exc.code
            envelopes = [read_envelope(p) for p in paths]
            profile = calibration.profile_from_envelopes(
                envelopes, sources=[f"{command} (run {i} of {args.runs})" for i in range(1, args.runs + 1)],
                resamples=args.resamples, seed=args.seed)
    commits = {str((e.environment.get("git") or {}).get("id", "?")) for e in envelopes}
    if len(commits) > 1:
        print(f"calibrate: note: the runs come from different commits ({', '.join(sorted(commits))}); a real "
              f"change between them counts as drift")
    path = calibration.write_profile(profile, args.out)
    print(f"calibrate: run-to-run drift {profile.run_sigma:.1%} on {profile.machine.text()}, from "
          f"{profile.describe()}")
    if profile.degrees_of_freedom < calibration.ROUGH_BELOW_DOF:
        print(f"calibrate: note: under {calibration.ROUGH_BELOW_DOF} degrees of freedom the estimate is rough; "
              f"more runs or more points sharpen it")
    if path == calibration.default_profile_path(profile.machine):
        print(f"calibrate: profile written to {path}; `dlplayground compare` of one run per side on this "
              f"machine now uses it")
    else:
        print(f"calibrate: profile written to {path}; use it with `dlplayground compare --noise-profile {path}`")
    return 0


def add_report_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``report RESULT.json... -o OUTDIR [--title T]``."""
    p = subparsers.add_parser(
        "report", help="render results JSON files as Markdown + HTML with plots",
        description="Render one or more results files (batch-size runs from several devices or runs, "
                    "experiment results) into OUTDIR/index.html and index.md (one card per study and device, "
                    "each with its answer) and a page per study and device, with PNG/SVG figures and copies of "
                    "the inputs.",
    )
    p.add_argument("inputs", nargs="*", type=Path, metavar="RESULT.json",
                   help="results files (an experiment's output folder also works: its result.json is read)")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUTDIR",
                   help="report folder to write (replaced whole if it holds an earlier report)")
    p.add_argument("--title", default=None, help="report title (default: from the studies)")
    p.set_defaults(func=run_report)


def add_compare_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``compare BASE NEW`` / ``compare --base RUN... --new RUN...``; exit 1 on a regression."""
    from dlplayground.bench.noise import COMPARE_CONFIDENCE, DEFAULT_RUN_SIGMA, MIN_EFFECT
    from dlplayground.report.compare import DEFAULT_RESAMPLES

    p = subparsers.add_parser(
        "compare", help="compare batch-size runs; exit 1 on a regression beyond the noise",
        description="Match points by (model, device, dtype, batch size) and compare median latencies, each side "
                    "being one or more runs of the same code. A point regressed when log(new/base) exceeds "
                    "z * sqrt(var_base + var_new) + log(1 + min effect), where a side's variance is "
                    "(sigma_run^2 + se^2) / runs: se from each run's passes, sigma_run (drift between runs) "
                    "measured from the runs when a side has several, else from this machine's noise profile "
                    f"(`dlplayground calibrate`), else {DEFAULT_RUN_SIGMA:.0%}. A change beyond the minimum effect "
                    "but within the noise is 'inconclusive at this noise'. "
                    "Exit 0: no regression, 1: regression, 2: bad input.",
    )
    p.add_argument("runs", nargs="*", type=Path, metavar="BASE.json NEW.json",
                   help="one run per side: the reference run, then the run to check")
    p.add_argument("--base", dest="base_runs", nargs="+", type=Path, default=None, metavar="RUN.json",
                   help="the reference side as several runs of the same code (instead of BASE.json)")
    p.add_argument("--new", dest="new_runs", nargs="+", type=Path, default=None, metavar="RUN.json",
                   help="the side to check as several runs of the same code (instead of NEW.json)")
    p.add_argument("--noise-profile", type=Path, default=None, metavar="PATH",
                   help="noise profile to use with one run per side (default: the one `dlplayground calibrate` "
                        "stored for this machine, if any)")
    p.add_argument("--min-effect", type=_fraction, default=MIN_EFFECT, metavar="F",
                   help=f"smallest relative change that counts, e.g. 0.05 or 5%% (default {MIN_EFFECT:g})")
    p.add_argument("--confidence", type=float, default=COMPARE_CONFIDENCE,
                   help=f"two-sided confidence of the rule (default {COMPARE_CONFIDENCE:g})")
    p.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                   help=f"bootstrap resamples per point and run (default {DEFAULT_RESAMPLES})")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--changes-only", action="store_true", help="list only regressions and improvements")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the comparison as JSON")
    p.set_defaults(func=run_compare)


def add_calibrate_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``calibrate RUN.json RUN.json...`` / ``calibrate --runs N [-- bench options]``."""
    from dlplayground.bench.calibration import DEFAULT_RESAMPLES

    p = subparsers.add_parser(
        "calibrate", help="measure this machine's run-to-run drift (A/A) for compare",
        description="Estimate how far a point's median moves between runs of the same code on this machine, "
                    "beyond each run's own interval, and store it as the machine's noise profile: compare then "
                    "judges one run per side against it. Either give two or more existing results files of the "
                    "same code (`calibrate A.json B.json`), or let it run `dlplayground bench` N times "
                    "(`calibrate --runs 2 -- --quick --models mlp`: the options after `--` go to bench).",
    )
    p.add_argument("inputs", nargs="*", metavar="RUN.json | -- BENCH OPTIONS",
                   help="results files of the same code on this machine; with --runs, the bench options")
    p.add_argument("--runs", type=int, nargs="?", const=4, default=None, metavar="N",
                   help="run `dlplayground bench` N times (N >= 2; --runs alone: 4) into a temporary folder and "
                        "calibrate from those runs. Drift comes in spells: two runs that happen to fall in a quiet "
                        "spell understate it (on a shared 2-core VM two runs gave 1.4 %% while other same-code pairs "
                        "moved whole models by 10-40 %%), so use several runs, ideally spread over time")
    p.add_argument("-o", "--out", type=Path, default=None, metavar="PATH",
                   help="where to write the profile (default: $XDG_CACHE_HOME/dlplayground/noise/<machine>.json, "
                        "~/.cache/... without XDG_CACHE_HOME, where compare finds it)")
    p.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                   help=f"bootstrap resamples per point and run (default {DEFAULT_RESAMPLES})")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=run_calibrate)
