"""The ``report`` and ``compare`` subcommands; ``dlplayground.cli`` registers them.

Each handler returns the exit code: ``report`` 0; ``compare`` 0 when no point regressed, 1 when one did
(so CI can gate on it). Bad input raises ``UserInputError``, which the main CLI prints as one ``error:``
line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _fraction(text: str) -> float:
    """``0.05`` or ``5%``; argparse turns a ValueError into a usage error naming the flag."""
    text = text.strip()
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def run_report(args: argparse.Namespace) -> int:
    from dlplayground.report.build import build_report  # imported here: matplotlib is slow to load

    index = build_report(args.inputs, args.out, title=args.title)
    print(f"report: {index} (and {index.with_name('index.md')}, figures, copies of the inputs)")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from dlplayground.atomic import atomic_write_text
    from dlplayground.report.compare import compare_envelopes
    from dlplayground.results import read_envelope

    base, new = read_envelope(args.base), read_envelope(args.new)
    result = compare_envelopes(base, new, min_effect=args.min_effect, confidence=args.confidence,
                               resamples=args.resamples, seed=args.seed)
    print(result.to_text(show_all=not args.changes_only))
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"compare: details written to {args.json}")
    return 1 if result.has_regression else 0


def add_report_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``report RESULT.json... -o OUTDIR [--title T]``."""
    p = subparsers.add_parser(
        "report", help="render results JSON files as Markdown + HTML with plots",
        description="Render one or more results files (batch-size runs from several devices or runs, "
                    "experiment results) into OUTDIR/index.md and a self-contained OUTDIR/index.html, with "
                    "PNG/SVG figures and copies of the inputs.",
    )
    p.add_argument("inputs", nargs="*", type=Path, metavar="RESULT.json",
                   help="results files (an experiment's output folder also works: its result.json is read)")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUTDIR",
                   help="report folder to write (replaced whole if it holds an earlier report)")
    p.add_argument("--title", default=None, help="report title (default: from the studies)")
    p.set_defaults(func=run_report)


def add_compare_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``compare BASE.json NEW.json [--min-effect F] [--json OUT]``; exit 1 on a regression."""
    p = subparsers.add_parser(
        "compare", help="compare two batch-size runs; exit 1 on a regression beyond noise",
        description="Match points by (model, device, dtype, batch size) and compare median latencies. A point "
                    "regressed when the bootstrap interval of its new median lies entirely above the base's "
                    "and the change exceeds --min-effect. Exit 0: no regression, 1: regression, 2: bad input.",
    )
    p.add_argument("base", type=Path, metavar="BASE.json", help="the reference run")
    p.add_argument("new", type=Path, metavar="NEW.json", help="the run to check")
    p.add_argument("--min-effect", type=_fraction, default=0.05, metavar="F",
                   help="smallest relative change that counts, e.g. 0.05 or 5%% (default 0.05)")
    p.add_argument("--confidence", type=float, default=0.95, help="bootstrap interval level (default 0.95)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples per point (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--changes-only", action="store_true", help="list only regressions and improvements")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the comparison as JSON")
    p.set_defaults(func=run_compare)
