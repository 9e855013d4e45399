"""``dlplayground run all``: the plan, a failing step that does not stop the others, and the combined report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dlplayground import run_all
from dlplayground.cli import main
from dlplayground.studies import STUDIES


def test_the_plan_runs_the_bench_per_device_then_every_study(tmp_path):
    args = run_all.parser().parse_args(["--quick", "--devices", "cpu,cuda:1", "--seed", "3"])
    steps = run_all.plan(args, tmp_path)
    assert [s.name for s in steps] == ["batch size on cpu", "batch size on cuda:1", *STUDIES]
    assert steps[1].argv == ["bench", "--device", "cuda:1", "--quick", "--seed", "3", "-o",
                             str(tmp_path / "bench-cuda1.json")]
    assert steps[2].argv == ["run", list(STUDIES)[0], "--quick", "--seed", "3", "--out",
                             str(tmp_path / list(STUDIES)[0])]


def test_unknown_study_is_refused_before_any_step(tmp_path, capsys):
    assert main(["run", "all", "--studies", "eigenfaces,nope", "--out", str(tmp_path / "all")]) == 2
    assert "--studies: unknown study 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "all" / "logs").exists()


def test_a_real_failing_step_is_recorded_with_its_error_line(tmp_path):
    step = run_all.Step("bad", ["run", "no_such_study"], str(tmp_path / "never"))
    seen = []
    run_all.run_step(step, tmp_path, seen.append)
    assert step.status == "failed"
    assert step.message.startswith("exit code 2: error: unknown study 'no_such_study'")
    assert Path(step.log).read_text().startswith("error: unknown study")


def test_one_failing_study_does_not_stop_the_others_and_the_report_is_built(tmp_path, monkeypatch, capsys,
                                                                           batch_result, experiment_result):
    bench_file = batch_result("bench")
    study_folder = experiment_result("eig").parent

    def fake_step(step, logs, on_progress=lambda line: None):
        step.log, step.seconds = str(logs / "x.log"), 0.1
        if step.name == "edge_operators":
            step.status, step.message = "failed", "exit code 1: error: edge_operators: No space left on device"
            return
        if step.name.startswith("batch size"):
            shutil.copy(bench_file, step.result)
        else:
            shutil.copytree(study_folder, step.result)
        step.status = "done"

    monkeypatch.setattr(run_all, "run_step", fake_step)
    out = tmp_path / "all"
    code = main(["run", "all", "--quick", "--devices", "cpu", "--studies", "edge_operators,eigenfaces", "--out",
                 str(out)])
    assert code == 1
    printed = capsys.readouterr()
    assert "run all: 2 of 3 steps done" in printed.out
    assert "failed: edge_operators" in printed.out
    assert "edge_operators: FAILED (exit code 1: error: edge_operators: No space left on device" in printed.err
    manifest = json.loads((out / "run-all.json").read_text())
    assert [s["status"] for s in manifest["steps"]] == ["done", "failed", "done"]
    assert (out / "report" / "index.html").is_file()
    assert main(["run", "all", "--devices", "cpu", "--studies", "eigenfaces", "--out", str(out)]) == 0  # ours


def test_run_all_refuses_a_folder_of_the_users_files(tmp_path, capsys):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep")
    assert main(["run", "all", "--out", str(theirs)]) == 2
    assert "no run-all.json" in capsys.readouterr().err
    assert (theirs / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_run_all_checks_its_seed(tmp_path, capsys, seed):
    assert main(["run", "all", "--seed", seed, "--out", str(tmp_path / "x")]) == 2
    assert "--seed must be in 0..4294967295" in capsys.readouterr().err
