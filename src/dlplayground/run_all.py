"""``dlplayground run all``: the whole lab in one command -- the batch-size study on every available device, then
every study in turn, then one combined report.

Each step runs in its own process (``python -m dlplayground bench|run ...``), so one study's crash, memory or
thread settings cannot touch the next, and its whole output goes to ``logs/<step>.log`` while the terminal shows
one line per step and a progress bar over the whole. A step that fails is reported with its last error line and
log, and the others still run; the report is built from the steps that produced results, and the exit code is 1
when any step failed. Ctrl-C stops the running step and the rest, and still builds the report from what had
finished.

The output folder holds ``bench-<device>.json``, one folder per study, ``logs/``, ``report/`` and
``run-all.json`` (the steps, their commands, status and time), which marks the folder as ours to replace.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from dlplayground.atomic import atomic_write_text, check_output_dir, output_lock
from dlplayground.devices import available_devices
from dlplayground.errors import UserInputError
from dlplayground.progress import progress
from dlplayground.seeding import check_seed

MANIFEST = "run-all.json"


@dataclass
class Step:
    """One command of the run, and how it ended."""

    name: str
    argv: list[str]
    result: str
    """The results file or folder the report reads."""
    status: str = "pending"
    """``done``, ``failed``, ``interrupted`` or ``pending`` (not reached)."""
    seconds: float | None = None
    message: str = ""
    log: str = ""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dlplayground run all", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="every step's seconds-scale smoke run")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: reports/all/<UTC timestamp>/)")
    p.add_argument("--seed", type=int, default=0, help="seed passed to every step (default 0)")
    p.add_argument("--devices", default=None,
                   help="comma-separated devices for the batch-size study (default: every available one)")
    p.add_argument("--studies", default=None, help="comma-separated studies (default: all of them)")
    return p


def plan(args: argparse.Namespace, out: Path) -> list[Step]:
    from dlplayground.studies import STUDIES

    devices = [d.strip() for d in args.devices.split(",") if d.strip()] if args.devices else available_devices()
    studies = [s.strip() for s in args.studies.split(",") if s.strip()] if args.studies else list(STUDIES)
    unknown = [s for s in studies if s not in STUDIES]
    if unknown:
        raise UserInputError(f"--studies: unknown study {unknown[0]!r}; choose from {', '.join(STUDIES)}")
    quick = ["--quick"] if args.quick else []
    steps = []
    for device in devices:
        tag = device.replace(":", "")
        result = out / f"bench-{tag}.json"
        steps.append(Step(f"batch size on {device}", ["bench", "--device", device, *quick, "--seed", str(args.seed),
                                                      "-o", str(result)], str(result)))
    for study in studies:
        folder = out / study
        steps.append(Step(study, ["run", study, *quick, "--seed", str(args.seed), "--out", str(folder)],
                          str(folder)))
    return steps


def _last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "interrupted"))]
    return (errors or lines or ["(no output)"])[-1][:300]


def run_step(step: Step, logs: Path, on_progress: Callable[[str], None] = lambda line: None) -> None:
    """Run one step in a child process, its output to its log; record how it ended.

    While it runs, the child's latest progress line is handed to ``on_progress`` (the per-study progress shown
    beside the bar over the whole run).
    """
    log = logs / f"{step.name.replace(' ', '-').replace(':', '')}.log"
    step.log = str(log)
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as handle, log.open(encoding="utf-8", errors="replace") as follow:
        child = subprocess.Popen([sys.executable, "-m", "dlplayground", *step.argv], stdout=handle,
                                 stderr=subprocess.STDOUT)
        pending = ""
        try:
            while child.poll() is None:
                time.sleep(0.5)
                # Only what the child wrote since the last look; a partial last line waits for the next one.
                *lines, pending = (pending + follow.read()).split("\n")
                latest = [line for line in lines if line.startswith("[dlplayground]")]
                if latest:
                    on_progress(latest[-1].removeprefix("[dlplayground]").strip())
            code = child.returncode
        except KeyboardInterrupt:
            child.terminate()
            child.wait()
            step.status, step.seconds = "interrupted", time.perf_counter() - started
            raise
    step.seconds = time.perf_counter() - started
    step.status = "done" if code == 0 and Path(step.result).exists() else "failed"
    if step.status == "failed":
        step.message = f"exit code {code}: {_last_error(log)}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(argv) if argv is not None else None)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = check_output_dir(args.out or Path("reports") / "all" / stamp, marker=MANIFEST, what="--out")
    check_seed(args.seed)
    steps = plan(args, out)
    from dlplayground.report.build import check_report_dir

    report_dir = check_report_dir(out / "report")
    with output_lock(out, "--out"):
        if (out / MANIFEST).is_file():  # an earlier run all's folder: start clean, so no stale result is reported
            shutil.rmtree(out)
        logs = out / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        interrupted = False
        from tqdm.auto import tqdm

        # One bar over the whole run on a terminal (its postfix: the running study's own latest progress line);
        # the one-line messages below are what logs and CI see.
        with tqdm(total=len(steps), desc="run all", unit="step", file=sys.stderr, disable=None,
                  dynamic_ncols=True) as bar:
            for i, step in enumerate(steps, 1):
                bar.set_description(f"run all: {step.name}")
                progress(f"[{i}/{len(steps)}] {step.name}: {' '.join(step.argv[:2])} ... (log: {logs.name}/)")
                try:
                    run_step(step, logs, lambda line: bar.set_postfix_str(line[-60:], refresh=True))
                except KeyboardInterrupt:
                    interrupted = True
                    progress(f"[{i}/{len(steps)}] {step.name}: interrupted; the steps after it are not run")
                    break
                mark = "done" if step.status == "done" else f"FAILED ({step.message}; log: {step.log})"
                progress(f"[{i}/{len(steps)}] {step.name}: {mark} in {step.seconds:.1f} s")
                bar.update(1)
        results = [Path(s.result) for s in steps if s.status == "done"]
        index = None
        if results:
            from dlplayground.report import build_report

            index = build_report(results, report_dir, title="DL-Playground: all studies")
        total = time.perf_counter() - started
        atomic_write_text(out / MANIFEST, json.dumps(
            {"quick": args.quick, "seed": args.seed, "seconds": total, "report": str(index) if index else None,
             "steps": [asdict(s) for s in steps]}, indent=2) + "\n")
    failed = [s for s in steps if s.status == "failed"]
    print(f"run all: {sum(s.status == 'done' for s in steps)} of {len(steps)} steps done in {total:.0f} s"
          + (f"; failed: {', '.join(s.name for s in failed)}" if failed else "")
          + (f"; report: {index}" if index else "; no report (no step produced results)"))
    if interrupted:
        return 130
    return 1 if failed else 0
