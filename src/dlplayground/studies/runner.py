"""The scaffolding every experiment script shares: common flags, seeding, output folder, envelope.

An experiment supplies a parser with its own flags (built on ``common_parser``) and a body
``run(args, out_dir) -> StudyResult`` that writes figures into ``out_dir``. ``run_experiment`` does the
rest the same way for all of them: validates input, seeds, builds the result in a temporary folder and moves
it into place only when complete, writes ``result.json`` (the envelope, holding the exact config and
environment), prints where it went, and turns ``UserInputError`` into one ``error:`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from dlplayground.atomic import atomic_directory
from dlplayground.devices import environment_fingerprint, parse_device
from dlplayground.errors import UserInputError
from dlplayground.results import StudyResult, make_envelope, write_envelope
from dlplayground.seeding import seed_everything

RESULT_FILE = "result.json"
Body = Callable[[argparse.Namespace, Path], StudyResult]


def common_parser(study: str, doc: str | None) -> argparse.ArgumentParser:
    """An argparse parser with the flags every experiment has: --quick, --out, --seed, --device."""
    parser = argparse.ArgumentParser(
        prog=f"{study}.py", description=(doc or "").strip().split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="seconds-scale smoke run (CI)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: reports/{study}/<UTC timestamp>/)")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random generator (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    return parser


def default_out_dir(study: str) -> Path:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path("reports") / study / stamp


def config_of(args: argparse.Namespace) -> dict[str, object]:
    """The run's config as plain JSON values (paths as strings), recorded beside the result."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


def progress(message: str) -> None:
    """Progress output for long runs: one line to stderr, flushed, so it shows under pytest -s and CI logs."""
    print(f"[dlplayground] {message}", file=sys.stderr, flush=True)


def run_experiment(
    study: str,
    parser: argparse.ArgumentParser,
    body: Body,
    argv: Sequence[str] | None = None,
    *,
    write: bool = True,
) -> int:
    """Parse ``argv``, run ``body`` and write its envelope; return the process exit code.

    ``write=False`` (non-zero ranks of a distributed run) runs the body in a throwaway folder and writes
    nothing, so only one process produces files.
    """
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        if args.seed < 0:
            raise UserInputError(f"--seed must be >= 0, got {args.seed}")
        device = parse_device(args.device)
        seed_everything(args.seed)
        out = args.out if args.out is not None else default_out_dir(study)
        started = time.perf_counter()
        if not write:
            import tempfile

            with tempfile.TemporaryDirectory() as scratch:
                body(args, Path(scratch))
            return 0
        with atomic_directory(out) as tmp:
            result = body(args, tmp)
            result.elapsed_s = round(time.perf_counter() - started, 3)
            for fig in result.figures:
                if not (tmp / fig.path).is_file():
                    raise RuntimeError(f"{study}: figure {fig.path!r} was declared but not written")
            envelope = make_envelope(
                study=study, environment=environment_fingerprint(device).to_dict(),
                config={**config_of(args), "torch_threads": torch.get_num_threads()}, result=result,
            )
            write_envelope(tmp / RESULT_FILE, envelope)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{study}: {result.verdict}")
    print(f"{study}: results written to {out / RESULT_FILE} (data: {result.data_source})")
    return 0
