"""The scaffolding every study shares: common flags, resolved config, threads, seeding, output folder, envelope.

A study supplies three things:

* a parser with its own flags, built on ``common_parser`` (``--quick``, ``--out``, ``--seed``, ``--device``,
  ``--threads``);
* ``resolve(args) -> Config``: its frozen config dataclass, a subclass of ``StudyConfig``, with every value
  resolved -- defaults that depend on ``--quick`` filled in, paths checked -- so no ``None`` stands for "the
  default" in the record (``None`` only means "not given", e.g. an optional data path). ``common_values``
  resolves the common flags the same way for every study;
* ``body(config, out_dir) -> StudyResult``, which writes its figures into ``out_dir``.

``run_study`` does the rest the same way for all of them: validates input, sets and restores the thread
count (``devices.cpu_threads``), seeds, builds the result in a temporary folder and moves it into place only
when complete, writes ``result.json`` (the envelope, holding the resolved config and the environment),
prints where it went, and turns ``UserInputError`` into one ``error:`` line and exit code 2. The output folder is
checked before any work: one that holds files but no ``result.json`` (not a study's output) is refused, as is
the current folder; a full disk or another write failure is one ``error:`` line (exit 1), never a
half-written folder.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from dlplayground.atomic import atomic_directory, check_output_dir
from dlplayground.devices import cpu_threads, environment_fingerprint, parse_device
from dlplayground.errors import UserInputError
from dlplayground.results import RESULT_FILE, StudyResult, jsonable, make_envelope, write_envelope
from dlplayground.seeding import check_seed, seed_everything


@dataclass(frozen=True, kw_only=True)
class StudyConfig:
    """The flags every study has, resolved. Studies subclass it (``kw_only``) with their own fields."""

    quick: bool
    """Seconds-scale smoke run (CI)."""
    seed: int
    """Seed for every random generator."""
    device: str
    """Canonical device string (``cpu``, ``cuda:0``, ``mps``)."""
    threads: int
    """CPU threads for torch and BLAS during the run."""
    out: Path
    """Output folder."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (paths as strings, tuples as lists), as recorded in the envelope."""
        return jsonable(asdict(self))


C = TypeVar("C", bound=StudyConfig)


def common_parser(study: str, doc: str | None, *, default_threads: int | None = None,
                  threads_reason: str = "") -> argparse.ArgumentParser:
    """An argparse parser with the flags every study has: --quick, --out, --seed, --device, --threads.

    ``default_threads`` (with ``threads_reason``, said in the help) fixes the thread count a study runs with
    unless the user gives one; by default torch's current setting is used.
    """
    parser = argparse.ArgumentParser(
        prog=f"dlplayground run {study}", description=(doc or "").strip().split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="seconds-scale smoke run (CI)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: reports/{study}/<UTC timestamp>/)")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random generator (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    threads_default = (f"{default_threads} for this study: {threads_reason}" if default_threads is not None
                       else "torch's current setting, normally one per core")
    parser.add_argument("--threads", type=int, default=default_threads,
                        help=f"CPU threads for torch and BLAS (default {threads_default}); recorded in the config")
    return parser


def default_out_dir(study: str) -> Path:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path("reports") / study / stamp


def common_values(args: argparse.Namespace, study: str) -> dict[str, Any]:
    """The common flags validated and resolved, as keyword arguments for a ``StudyConfig`` subclass."""
    check_seed(args.seed)
    if args.threads is not None and args.threads < 1:
        raise UserInputError(f"--threads must be >= 1, got {args.threads}")
    return {
        "quick": bool(args.quick), "seed": int(args.seed), "device": str(parse_device(args.device)),
        "threads": int(args.threads) if args.threads is not None else torch.get_num_threads(),
        "out": args.out if args.out is not None else default_out_dir(study),
    }


def run_study(
    study: str,
    parser: argparse.ArgumentParser,
    resolve: Callable[[argparse.Namespace], C],
    body: Callable[[C, Path], StudyResult],
    argv: Sequence[str] | None = None,
    *,
    write: bool = True,
) -> int:
    """Parse ``argv``, resolve the config, run ``body`` and write its envelope; return the exit code.

    ``write=False`` (non-zero ranks of a distributed run) runs the body in a throwaway folder and writes
    nothing, so only one process produces files.
    """
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        config = resolve(args)
        if write:
            check_output_dir(config.out, marker=RESULT_FILE, what="--out")
        device = parse_device(config.device)
        started = time.perf_counter()
        with cpu_threads(config.threads):
            seed_everything(config.seed)
            if not write:
                with tempfile.TemporaryDirectory() as scratch:
                    body(config, Path(scratch))
                return 0
            with atomic_directory(config.out) as tmp:
                result = body(config, tmp)
                result.elapsed_s = time.perf_counter() - started
                for fig in result.figures:
                    if not (tmp / fig.path).is_file():
                        raise RuntimeError(f"{study}: figure {fig.path!r} was declared but not written")
                envelope = make_envelope(study=study, environment=environment_fingerprint(device).to_dict(),
                                         config=config.to_dict(), result=result)
                write_envelope(tmp / RESULT_FILE, envelope)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder removed under us: the output folder was left as it was
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {study}: {exc.strerror or exc}{where}; no results were written", file=sys.stderr)
        return 1
    print(f"{study}: {result.answer or result.verdict}")
    print(f"{study}: results written to {config.out / RESULT_FILE} (data: {result.data_source})")
    return 0
