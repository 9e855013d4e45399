"""Probe the four commands with bad inputs and faults, as a hostile user would; print the table of outcomes.

    python tools/reliability_probe.py            # Markdown table on stdout, a summary line on stderr
    python tools/reliability_probe.py --only bench

Every case runs ``python -m dlplayground ...`` in a fresh folder that also holds a file of the user's
(``mine.txt``), and is judged on what a user sees: the exit code, the last line on stderr, whether a Python
traceback leaked, whether the user's file survived, and -- for the cases that measure -- whether the points
measured before the fault were kept. The table in docs/reliability.md is this script's output.

Faults are real: a user model that raises, signals sent mid-run from outside (Ctrl-C as a terminal sends it, to
the whole process group, workers included; SIGTERM as ``kill`` sends it, to bench alone) and by a user model to
its own process, a second run racing the first, a tiny tmpfs for a full disk (root only; otherwise that case
says "not run"). Runs take a few minutes on a 2-core machine: most cases stop at validation, a dozen measure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

USER_MODELS = Path(__file__).with_name("usermodels.py")
QUICK = ["bench", "--quick", "--models", "mlp", "--batch-sizes", "1,2"]
PASSES = ["bench", "--quick", "--models", "mlp", "--batch-sizes", "1,2,4", "--passes", "4", "-o", "out.json"]
"""A run whose passes last long enough to be interrupted from outside after the first (each is a fresh worker)."""


@dataclass
class Case:
    command: str
    what: str
    argv: list[str]
    expect: int
    setup: Callable[[Path], None] = lambda folder: None
    env: dict[str, str] = field(default_factory=dict)
    measures: bool = False
    """The case measures points: judge whether the ones measured before the fault were kept."""
    kept_file: str = "out.json"
    needs_root: bool = False
    race: bool = False
    show: str = ""
    """Show the output line holding this text (default: the last line on stderr, or on stdout if none)."""
    send: str = ""
    """Send this signal from outside once stderr shows ``send_after``: SIGINT to the process group (Ctrl-C),
    SIGTERM to the command alone (``kill``)."""
    send_after: str = ""


@dataclass
class Outcome:
    case: Case
    code: int | None
    line: str
    traceback: bool
    user_file_kept: bool
    points_kept: str
    seconds: float


# ------------------------------------------------------------------------------------------ fixtures
def write_good_run(folder: Path, source: Path) -> None:
    shutil.copy(source, folder / "run.json")


def edit_run(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        data = json.loads((folder / "run.json").read_text())
        edit(data)
        (folder / "run.json").write_text(json.dumps(data))
    return setup


def zero_times(data: dict) -> None:
    for entry in data["benchmarks"]:
        entry["extra_info"]["times_s"] = [0.0] * len(entry["extra_info"]["times_s"])


def theirs(name: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / name).mkdir()
        (folder / name / "thesis.txt").write_text("three years of work")
    return setup


def cases() -> list[Case]:
    blocked = lambda f: (f / "blocker").write_text("a file, not a folder")  # noqa: E731
    return [
        # ---- bench: options
        Case("bench", "unknown model", ["bench", "--models", "nope"], 2),
        Case("bench", "batch size 0", ["bench", "--batch-sizes", "0,1"], 2),
        Case("bench", "negative batch size", ["bench", "--batch-sizes", "-1"], 2),
        Case("bench", "NaN batch size", ["bench", "--batch-sizes", "nan"], 2),
        Case("bench", "batch size 1e400", ["bench", "--batch-sizes", "1e400"], 2),
        Case("bench", "unknown dtype", ["bench", "--dtype", "int8"], 2),
        Case("bench", "unknown device", ["bench", "--device", "tpu"], 2),
        Case("bench", "absent CUDA device", ["bench", "--device", "cuda"], 2),
        Case("bench", "absent CUDA with --if-available", ["bench", "--device", "cuda", "--if-available"], 0),
        Case("bench", "--latency-budget-ms inf", ["bench", "--latency-budget-ms", "inf"], 2),
        Case("bench", "--latency-budget-ms -3", ["bench", "--latency-budget-ms", "-3"], 2),
        Case("bench", "--seed 2^64", ["bench", "--seed", str(2**64)], 2),
        Case("bench", "--threads 0", ["bench", "--threads", "0"], 2),
        Case("bench", "--passes 1", ["bench", "--passes", "1"], 2),
        Case("bench", "--max-call-s soon", ["bench", "--max-call-s", "soon"], 2),
        # ---- bench: outputs, checked before measuring
        Case("bench", "-o . (a folder)", [*QUICK, "-o", "."], 2),
        Case("bench", "-o an existing folder", [*QUICK, "-o", "theirs"], 2, setup=theirs("theirs")),
        Case("bench", "--report a folder of the user's files", [*QUICK, "-o", "out.json", "--report", "theirs"], 2,
             setup=theirs("theirs")),
        Case("bench", "--report .", [*QUICK, "-o", "out.json", "--report", "."], 2),
        Case("bench", "-o under a file", [*QUICK, "-o", "blocker/out.json"], 2, setup=blocked),
        # ---- bench: user models
        Case("bench", "user factory raises", ["bench", "--quick", "--models", "usermodels:raises"], 2),
        Case("bench", "user factory returns a bare module", ["bench", "--quick", "--models", "usermodels:not_a_pair"],
             2),
        Case("bench", "make_input returns a list", ["bench", "--quick", "--models", "usermodels:list_input"], 2),
        # ---- bench: faults while measuring
        Case("bench", "a user model raises at batch 4",
             ["bench", "--quick", "--models", "usermodels:buggy,mlp", "--batch-sizes", "1,2,4,8", "-o", "out.json"],
             1, measures=True),
        Case("bench", "out of memory on the CPU (batch 10^10)",
             ["bench", "--quick", "--models", "mlp", "--batch-sizes", "1,10000000000", "-o", "out.json"], 0,
             measures=True, show="range batches"),
        Case("bench", "Ctrl-C (SIGINT to bench and its pass worker) during the passes", PASSES, 130,
             measures=True, send="SIGINT", send_after="pass 1 of 4:"),
        Case("bench", "SIGTERM to bench during the passes", PASSES, 143, measures=True, send="SIGTERM",
             send_after="pass 1 of 4:"),
        Case("bench", "a user model signals its own process (SIGINT), --in-process-passes",
             ["bench", "--quick", "--models", "usermodels:stops", "--batch-sizes", "1,2,4", "--in-process-passes",
              "-o", "out.json"], 130, env={"STOP_WITH": "SIGINT"}, measures=True),
        Case("bench", "a user model signals its own process (SIGTERM), --in-process-passes",
             ["bench", "--quick", "--models", "usermodels:stops", "--batch-sizes", "1,2,4", "--in-process-passes",
              "-o", "out.json"], 143, env={"STOP_WITH": "SIGTERM"}, measures=True),
        Case("bench", "disk full while saving", [*QUICK, "-o", "full/out.json"], 1, needs_root=True),
        Case("bench", "a second bench to the same -o", [*QUICK, "-o", "out.json"], 2, race=True),
        # ---- run
        Case("run", "unknown study", ["run", "no_such_study"], 2),
        Case("run", "--out a folder of the user's files", ["run", "edge_operators", "--quick", "--out", "theirs"], 2,
             setup=theirs("theirs")),
        Case("run", "--out .", ["run", "edge_operators", "--quick", "--out", "."], 2),
        Case("run", "--out ..", ["run", "edge_operators", "--quick", "--out", ".."], 2),
        Case("run", "--seed 2^64", ["run", "edge_operators", "--quick", "--seed", str(2**64)], 2),
        Case("run", "--seed -1", ["run", "edge_operators", "--quick", "--seed", "-1"], 2),
        Case("run", "--threads 0", ["run", "edge_operators", "--quick", "--threads", "0"], 2),
        Case("run", "unknown device", ["run", "edge_operators", "--quick", "--device", "tpu"], 2),
        Case("run", "--olivetti path that does not exist",
             ["run", "eigenfaces", "--quick", "--olivetti", "nowhere.npz", "--out", "o"], 2),
        Case("run", "--cifar folder with a corrupt pickle",
             ["run", "eigenfaces", "--quick", "--cifar", "cifar", "--out", "o"], 2,
             setup=lambda f: ((f / "cifar").mkdir(), (f / "cifar" / "data_batch_1").write_bytes(b"\x80\x04garbage"))),
        Case("run", "--train CSV without a target column",
             ["run", "gods_longformer", "--quick", "--train", "train.csv", "--out", "o"], 2,
             setup=lambda f: (f / "train.csv").write_text("id,title,content\n1,a,b\n")),
        Case("run", "SIGTERM mid-run", ["run", "edge_operators", "--quick", "--out", "o"], 143, kept_file="o"),
        Case("run", "disk full", ["run", "edge_operators", "--quick", "--out", "full/o"], 1, needs_root=True),
        Case("run", "a second run to the same --out", ["run", "edge_operators", "--quick", "--out", "o"], 2,
             race=True),
        # ---- report
        Case("report", "a file that does not exist", ["report", "nothere.json", "--out", "r"], 2),
        Case("report", "not JSON", ["report", "bad.json", "--out", "r"], 2,
             setup=lambda f: (f / "bad.json").write_text("{not json")),
        Case("report", "not UTF-8", ["report", "bad.json", "--out", "r"], 2,
             setup=lambda f: (f / "bad.json").write_bytes(b"\xff\xfe\x00")),
        Case("report", "JSON that is not a results file", ["report", "bad.json", "--out", "r"], 2,
             setup=lambda f: (f / "bad.json").write_text('{"benchmarks": []}')),
        Case("report", "'sweeps' of the wrong type", ["report", "run.json", "--out", "r"], 2,
             setup=edit_run(lambda d: d["dlplayground"].__setitem__("sweeps", [1, 2]))),
        Case("report", "all-zero times_s", ["report", "run.json", "--out", "r"], 2, setup=edit_run(zero_times)),
        Case("report", "a schema-1 batch-size file", ["report", "run.json", "--out", "r"], 2,
             setup=edit_run(lambda d: d["dlplayground"].__setitem__("schema", 1))),
        Case("report", "--out a folder of the user's files", ["report", "run.json", "--out", "theirs"], 2,
             setup=theirs("theirs")),
        Case("report", "--out .", ["report", "run.json", "--out", "."], 2),
        Case("report", "no input", ["report", "--out", "r"], 2),
        Case("report", "disk full", ["report", "run.json", "--out", "full/r"], 2, needs_root=True),
        # ---- compare
        Case("compare", "one file only", ["compare", "run.json"], 2),
        Case("compare", "all-zero timings on one side", ["compare", "run.json", "zero.json"], 2, setup=zero_copy),
        Case("compare", "a study's file, not a batch-size run", ["compare", "run.json", "study.json"], 2,
             setup=lambda f: (f / "study.json").write_text(json.dumps(
                 {"dlplayground": {"schema": 2, "study": "eigenfaces", "result": {"study": "eigenfaces"}}}))),
        Case("compare", "--min-effect -5%", ["compare", "run.json", "run.json", "--min-effect", "-5%"], 2),
        Case("compare", "--confidence 1.5", ["compare", "run.json", "run.json", "--confidence", "1.5"], 2),
        Case("compare", "--json under a file", ["compare", "run.json", "run.json", "--json", "blocker/c.json"], 2,
             setup=blocked),
    ]


def zero_copy(folder: Path) -> None:
    data = json.loads((folder / "run.json").read_text())
    zero_times(data)
    (folder / "zero.json").write_text(json.dumps(data))


# ------------------------------------------------------------------------------------------ running
def command(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "dlplayground", *argv]


@contextlib.contextmanager
def full_disk(folder: Path):
    """A 12 KiB tmpfs at ``folder/full`` (root only): any results file overflows it."""
    mount = folder / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(mount)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def run_case(case: Case, folder: Path, env: dict[str, str], good_run: Path) -> Outcome:
    (folder / "mine.txt").write_text("the user's own file")
    shutil.copy(USER_MODELS, folder / "usermodels.py")
    write_good_run(folder, good_run)
    case.setup(folder)
    env = {**env, **case.env}
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if case.needs_root:
            if os.geteuid() != 0 or shutil.which("mount") is None:
                return Outcome(case, None, "not run: a full disk needs root to mount a small tmpfs", False, True, "",
                               0.0)
            stack.enter_context(full_disk(folder))
        if case.race:
            first = subprocess.Popen(command(case.argv), cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            time.sleep(2.0)
            proc = subprocess.run(command(case.argv), cwd=folder, env=env, capture_output=True, text=True, check=False)
            first.wait()
        elif case.send:
            proc = signal_after(case, folder, env)
        elif case.what == "SIGTERM mid-run":
            child = subprocess.Popen(command(case.argv), cwd=folder, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            while not any(".partial" in p.name for p in folder.iterdir()) and child.poll() is None:
                time.sleep(0.1)
            child.terminate()
            out, err = child.communicate()
            proc = subprocess.CompletedProcess(child.args, child.returncode, out, err)
        else:
            proc = subprocess.run(command(case.argv), cwd=folder, env=env, capture_output=True, text=True,
                                  check=False)
        leftovers = [p.name for p in folder.iterdir() if ".partial" in p.name or p.name.endswith(".lock")]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    line = lines[-1] if lines else (proc.stdout.strip().splitlines() or [""])[-1]
    if case.show:
        line = next((x for x in (proc.stdout + proc.stderr).splitlines() if case.show in x), line)
    line = line.replace(str(folder), ".").strip()
    if leftovers:
        line += f"  [left behind: {', '.join(leftovers)}]"
    points = ""
    if case.measures:
        kept = folder / case.kept_file
        points = str(len(json.loads(kept.read_text())["benchmarks"])) if kept.is_file() else "0 (no file)"
    user_kept = (folder / "mine.txt").is_file() and all(
        (p / "thesis.txt").is_file() for p in folder.iterdir() if p.is_dir() and p.name == "theirs")
    return Outcome(case, proc.returncode, line, "Traceback (most recent call last)" in proc.stdout + proc.stderr,
                   user_kept, points, time.perf_counter() - started)


def signal_after(case: Case, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the case; once its stderr shows ``case.send_after``, send ``case.send`` as a user would (module
    docstring)."""
    child = subprocess.Popen(command(case.argv), cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)  # its own process group, as a terminal job has
    assert child.stderr is not None
    seen = []
    for line in child.stderr:
        seen.append(line)
        if case.send_after in line:
            if case.send == "SIGINT":
                os.killpg(child.pid, signal.SIGINT)
            else:
                child.send_signal(getattr(signal, case.send))
            break
    out, err = child.communicate()
    return subprocess.CompletedProcess(child.args, child.returncode, out, "".join(seen) + err)


def good_run(root: Path, env: dict[str, str]) -> Path:
    path = root / "good.json"
    subprocess.run(command([*QUICK, "-o", str(path)]), cwd=root, env=env, capture_output=True, check=True)
    return path


def table(outcomes: list[Outcome]) -> str:
    rows = ["| # | command | input or fault | exit (expected) | what the user reads (last line) | traceback | "
            "user's files kept | points kept |", "|---|---|---|---|---|---|---|---|"]
    for i, o in enumerate(outcomes, 1):
        code = "—" if o.code is None else f"{o.code}" + ("" if o.code == o.case.expect else f" (**{o.case.expect}**)")
        line = o.line.replace("|", "\\|")
        if len(line) > 220:
            line = line[:217] + "..."
        rows.append(f"| {i} | {o.case.command} | {o.case.what} | {code} | `{line}` | "
                    f"{'**yes**' if o.traceback else 'no'} | {'yes' if o.user_file_kept else '**no**'} | "
                    f"{o.points_kept or '—'} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("bench", "run", "report", "compare"), help="probe one command")
    parser.add_argument("--case", default="", help="probe only the cases whose description holds this text")
    args = parser.parse_args(argv)
    env = dict(os.environ)  # `python -m` puts the case folder (holding usermodels.py) on sys.path
    with tempfile.TemporaryDirectory(prefix="dlplayground-probe-") as tmp:
        root = Path(tmp)
        good = good_run(root, env)
        outcomes = []
        for i, case in enumerate(c for c in cases() if args.only in (None, c.command) and args.case in c.what):
            folder = root / f"case{i:02d}"
            folder.mkdir()
            outcome = run_case(case, folder, env, good)
            print(f"[{i + 1}] {case.command}: {case.what} -> {outcome.code} ({outcome.seconds:.1f} s)", file=sys.stderr)
            outcomes.append(outcome)
    print(table(outcomes))
    ran = [o for o in outcomes if o.code is not None]
    bad = [o for o in ran if o.code != o.case.expect or o.traceback or not o.user_file_kept]
    print(f"{len(ran)} cases run ({len(outcomes) - len(ran)} not run): {sum(o.traceback for o in ran)} tracebacks, "
          f"{sum(not o.user_file_kept for o in ran)} lost user files, {len(bad)} unexpected", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
