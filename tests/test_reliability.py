"""Nothing lost, nothing half-said: output folders, failed points, interrupts, full disks and bad files.

Each test is a row of docs/reliability.md: a bad input or a fault, the exit code, the one line the user reads,
and that no file of theirs and no measured point is lost. Faults are made for real where a test can (a user
model that raises, SIGINT/SIGTERM sent by the process to itself, a lock held by another process, a dead
writer's temporary folder) and injected where it cannot (a full disk: ``OSError(ENOSPC)``).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dlplayground import studies
from dlplayground.atomic import remove_stale_temporaries
from dlplayground.bench import plugin
from dlplayground.cli import main
from dlplayground.results import RESULT_FILE, StudyResult, read_envelope
from dlplayground.studies.runner import StudyConfig, common_parser, common_values, run_study
from test_worker import worker_models_env


# ------------------------------------------------------------------------------------------ a tiny study
@dataclass(frozen=True, kw_only=True)
class TinyConfig(StudyConfig):
    pass


def tiny_study(argv: list[str], body=None) -> int:
    """A study whose body is given by the test (by default: write one figure and answer)."""

    def default_body(config: TinyConfig, out: Path) -> StudyResult:
        (out / "figure.png").write_bytes(b"png")
        return StudyResult(study="tiny", question="?", verdict="fine", data_source="none")

    parser = common_parser("tiny", "A tiny study for the reliability tests.")
    return run_study("tiny", parser, lambda a: TinyConfig(**common_values(a, "tiny")), body or default_body, argv)


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------------------ run --out
def test_run_refuses_a_folder_of_the_users_files_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    theirs = tmp_path / "thesis"
    theirs.mkdir()
    (theirs / "thesis.txt").write_text("three years of work")
    ran = []
    code = tiny_study(["--out", str(theirs)], body=lambda c, o: ran.append(1))
    line = one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "holds files that are not a DL-Playground output (no result.json); refusing to replace it" in line
    assert ran == []  # refused before the body ran
    assert [p.name for p in theirs.iterdir()] == ["thesis.txt"]


def test_run_replaces_its_own_output_and_an_empty_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ours, empty = tmp_path / "ours", tmp_path / "empty"
    empty.mkdir()
    assert tiny_study(["--out", str(ours)]) == 0
    assert tiny_study(["--out", str(ours)]) == 0  # ours (it holds result.json): replaced
    assert tiny_study(["--out", str(empty)]) == 0
    assert sorted(p.name for p in ours.iterdir()) == ["figure.png", RESULT_FILE]


@pytest.mark.parametrize("out", [".", "..", "./"])
def test_run_refuses_the_current_folder_and_its_parents(tmp_path, capsys, monkeypatch, out):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("keep")
    monkeypatch.chdir(work)
    assert tiny_study(["--out", out]) == 2
    assert "is the current folder or contains it" in one_error_line(capsys.readouterr().err)
    assert (work / "notes.txt").read_text() == "keep"
    assert not [p for p in tmp_path.rglob("*partial*")]


@pytest.mark.parametrize("seed", [str(2**64), str(2**32), "-1"])
def test_run_refuses_a_seed_out_of_range(tmp_path, capsys, monkeypatch, seed):
    monkeypatch.chdir(tmp_path)
    assert tiny_study(["--seed", seed, "--out", "x"]) == 2
    assert f"--seed must be in 0..4294967295, got {seed}" in one_error_line(capsys.readouterr().err)


def test_run_on_a_full_disk_says_so_in_one_line_and_keeps_the_old_output(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert tiny_study(["--out", "out"]) == 0
    before = (tmp_path / "out" / RESULT_FILE).read_text()
    capsys.readouterr()

    def full(config, out):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / "figure.png"))

    assert tiny_study(["--out", "out"], body=full) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("error: tiny: No space left on device: ")
    assert line.endswith("no results were written")
    assert (tmp_path / "out" / RESULT_FILE).read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_result_files_are_as_readable_as_the_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o022)
    try:
        assert tiny_study(["--out", "out"]) == 0
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert modes == {"figure.png": 0o644, RESULT_FILE: 0o644}
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_a_second_run_to_the_same_output_is_refused_while_the_first_writes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from dlplayground.atomic import output_lock
            with output_lock({str(tmp_path / 'out')!r}):
                print("locked", flush=True)
                time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert tiny_study(["--out", "out"]) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"is being written by another dlplayground run (pid {holder.pid})" in line
    finally:
        holder.kill()
        holder.wait()
    assert tiny_study(["--out", "out"]) == 0  # the lock died with its holder


def test_a_killed_writers_temporary_folder_is_removed_by_the_next_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".out.{pid}.abc123.partial"
    stale.mkdir()
    (stale / "half.png").write_bytes(b"half")
    mine = tmp_path / f".out.{os.getpid()}.def456.partial"  # a live writer's (ours): left alone
    mine.mkdir()
    unrelated = tmp_path / ".other.1.x.partial"
    unrelated.mkdir()
    assert remove_stale_temporaries(tmp_path / "out") == [stale]
    assert not stale.exists()
    assert mine.exists()
    assert unrelated.exists()


def test_sigterm_unwinds_like_ctrl_c_and_leaves_no_partial_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def killed(config, out):
        (out / "figure.png").write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the signal arrives first
        raise AssertionError("SIGTERM did not interrupt the body")

    monkeypatch.setattr(studies, "study_main", lambda name: lambda argv: tiny_study(list(argv), body=killed))
    before = signal.getsignal(signal.SIGTERM)
    assert main(["run", "tiny", "--out", "out"]) == 128 + signal.SIGTERM
    assert one_error_line(capsys.readouterr().err) == "interrupted (SIGTERM)"
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before  # main restores the handler it replaced


# ------------------------------------------------------------------------------------------ bench paths
@pytest.mark.parametrize(("argv", "message"), [
    (["-o", "."], "results file (-o) '{cwd}' is a folder; give a file name"),
    (["-o", "folder"], "results file (-o) '{cwd}/folder' is a folder; give a file name"),
    (["-o", "x.json", "--report", "folder"], "report folder '{cwd}/folder' exists and holds files that are not"),
    (["-o", "x.json", "--report", "."], "report folder '{cwd}' is the current folder or contains it"),
    (["--latency-budget-ms", "inf"], "--latency-budget-ms must be a finite number > 0, got inf"),
    (["--batch-sizes", "nan"], "--batch-sizes: 'nan' is not an integer"),
    (["--seed", str(2**64)], "--seed must be in 0..4294967295"),
])
def test_bench_refuses_bad_outputs_and_values_before_measuring(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "mine.txt").write_text("keep")
    started = time.perf_counter()
    assert main(["bench", "--quick", "--models", "mlp", *argv]) == 2
    captured = capsys.readouterr()
    assert message.format(cwd=tmp_path) in one_error_line(captured.err)
    assert "measuring" not in captured.out + captured.err  # nothing was measured
    assert time.perf_counter() - started < 30  # generous: no run happened, only validation
    assert (tmp_path / "folder" / "mine.txt").read_text() == "keep"


@pytest.mark.parametrize(("factory", "message"), [
    ("raises", "its factory raised RuntimeError: weights file missing"),
    ("not_a_pair", "factory must return (nn.Module, make_input(batch_size)), got Linear"),
    ("list_input", "make_input(batch_size) must return a Tensor or a tuple of Tensors, got list"),
    ("no_batch_dim", "first dimension is the batch (1), got shape(s) (8,)"),
    ("input_raises", "make_input(1) raised ValueError: no data"),
])
def test_a_bad_user_factory_fails_fast_with_its_own_message(tmp_path, capsys, monkeypatch, factory, message):
    (tmp_path / "badmodels.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        def raises():
            raise RuntimeError("weights file missing")

        def not_a_pair():
            return nn.Linear(8, 2)

        def list_input():
            return nn.Linear(8, 2), lambda b: [0.0] * 8

        def no_batch_dim():
            return nn.Linear(8, 2), lambda b: torch.zeros(8)

        def input_raises():
            def make(b):
                raise ValueError("no data")
            return nn.Linear(8, 2), make
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--quick", "--models", f"badmodels:{factory}", "-o", "x.json"]) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "x.json").exists()


# ------------------------------------------------------------------------------------------ bench runs
USER_MODELS = Path(__file__).parents[1] / "tools" / "usermodels.py"  # shared with tools/reliability_probe.py


def bench(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    shutil.copy(USER_MODELS, tmp_path / "usermodels.py")
    return subprocess.run(
        [sys.executable, "-m", "dlplayground", "bench", "--quick", *args], cwd=tmp_path, capture_output=True,
        text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
             **(env or {})})


def test_a_point_that_raises_is_recorded_and_the_rest_is_written(tmp_path):
    proc = bench(tmp_path, "--models", "usermodels:buggy,mlp", "--batch-sizes", "1,2,4,8", "-o", "out.json",
                 "--report", "report")
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: 1 model(s) failed (usermodels:buggy at batch 4: ValueError: shape bug at batch 4); their other "
        "points and the other models were kept")
    envelope = read_envelope(tmp_path / "out.json")
    points = sorted((r.model, r.batch_size) for r in envelope.records)
    assert points == [("mlp", 1), ("mlp", 2), ("mlp", 4), ("mlp", 8), ("usermodels:buggy", 1), ("usermodels:buggy", 2)]
    sweep = envelope.sweeps["usermodels:buggy"]
    assert (sweep["stop_reason"], sweep["failed_batch_size"]) == ("failed", 4)
    report = (tmp_path / "report" / "index.md").read_text()
    assert "**Failed at batch 4:** The model raised ValueError: shape bug at batch 4." in report


@pytest.mark.usefixtures("sigint_delivered")
@pytest.mark.parametrize(("signal_name", "code", "unit"), [
    ("SIGINT", 130, "process"), ("SIGTERM", 143, "process"), ("SIGTERM", 143, "in-process")])
def test_an_interrupted_bench_keeps_its_points_in_a_file_marked_incomplete(tmp_path, signal_name, code, unit):
    # The user's model signals its own process mid-pass. With a fresh worker per pass (the default) that process
    # is the second pass's worker (``test_worker.WORKER_MODELS``): the run stops as if the signal had reached
    # bench itself. With --in-process-passes it is bench's own process (``usermodels:stops``).
    if unit == "process":
        env = worker_models_env(tmp_path, tmp_path / "workers.log", start=2, at=1)
        args = ["--models", f"workermodels:{signal_name.lower()}", "--passes", "3"]
        expected_files = ["out.json", "usermodels.py", "workermodels.py", "workers.log"]
    else:
        env = {"STOP_WITH": signal_name}
        args = ["--models", "usermodels:stops", "--in-process-passes"]
        expected_files = ["out.json", "usermodels.py"]
    proc = bench(tmp_path, *args, "--batch-sizes", "1,2,4", "-o", "out.json", env=env)
    assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: the points measured so far were written to out.json, "
                           "marked incomplete (interrupted while pass ")
    envelope = read_envelope(tmp_path / "out.json")
    assert envelope.incomplete.startswith("interrupted while pass ")
    assert envelope.records
    if unit == "process":  # the signal came in pass 2: pass 1 is kept whole
        assert envelope.incomplete.startswith("interrupted while pass 2 of 3; kept the points of the 1 completed")
        assert len(envelope.records) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == expected_files  # nothing half-written
    assert main(["report", str(tmp_path / "out.json"), "--out", str(tmp_path / "report")]) == 0
    assert "out is incomplete:" in (tmp_path / "report" / "index.md").read_text()


def test_a_full_disk_while_saving_the_benchmark_json_is_one_error_line(tmp_path, capsys):
    """pytest-benchmark writes its JSON in its own session-finish hook; the plugin's wrapper catches the error."""
    config = argparse.Namespace(stash={}, getoption=lambda name, default=None: tmp_path / "out.json")
    session = argparse.Namespace(config=config, exitstatus=0)
    hook = plugin.pytest_sessionfinish(session, 0)
    next(hook)
    with pytest.raises(StopIteration):
        hook.throw(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert one_error_line(capsys.readouterr().err) == (
        f"error: could not write the results in {tmp_path}: No space left on device; nothing was kept")
    assert isinstance(config.stash[plugin.SAVE_ERROR], OSError)
    assert session.exitstatus == pytest.ExitCode.INTERNAL_ERROR


# ------------------------------------------------------------------------------------------ bad files
def test_sweeps_of_the_wrong_type_is_one_error_line(batch_result, tmp_path, capsys):
    path = batch_result("run")
    data = json.loads(path.read_text())
    data["dlplayground"]["sweeps"] = [1, 2]
    path.write_text(json.dumps(data))
    assert main(["report", str(path), "--out", str(tmp_path / "r")]) == 2
    assert "'dlplayground.sweeps' must be an object, got list" in one_error_line(capsys.readouterr().err)


def test_all_zero_timings_are_refused_not_shown_as_an_improvement(batch_result, capsys):
    base = batch_result("base")
    zeros = batch_result("zeros")
    data = json.loads(zeros.read_text())
    for entry in data["benchmarks"]:
        entry["extra_info"]["times_s"] = [0.0] * len(entry["extra_info"]["times_s"])
    zeros.write_text(json.dumps(data))
    assert main(["compare", str(base), str(zeros)]) == 2
    assert "a zero latency is not a measurement" in one_error_line(capsys.readouterr().err)


def test_an_unwritable_json_for_compare_is_one_error_line(batch_result, tmp_path, capsys):
    base = batch_result("base")
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["compare", str(base), str(base), "--json", str(blocker / "sub" / "c.json")])
    assert code == 2
    assert "cannot be created" in capsys.readouterr().err.strip().splitlines()[-1]

