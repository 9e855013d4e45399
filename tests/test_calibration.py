"""``calibrate``: the A/A noise profile of a machine, written where ``compare`` finds it, read strictly.

Runs are seeded synthetic files (``batch_result``); ``calibrate --runs`` is driven through an injected bench
runner that writes such files, so nothing here times anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlplayground.bench import calibration
from dlplayground.bench.calibration import (
    MachineKey,
    NoiseProfile,
    default_profile_path,
    machine_key,
    noise_by_point,
    profile_from_envelopes,
    read_profile,
)
from dlplayground.bench.noise import estimate_run_sigma
from dlplayground.report.compare import compare_runs
from dlplayground.results import read_envelope

TEST_MACHINE = MachineKey(name="Test CPU", device_type="cpu", dtype="float32", threads=2)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG cache: where calibrate writes and compare looks."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def run_cli(argv: list[str]) -> int:
    from dlplayground.cli import main

    return main(argv)


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    return err


# ------------------------------------------------------------------------------------------ profile
def test_profile_round_trips_and_is_read_strictly(tmp_path):
    profile = NoiseProfile(machine=TEST_MACHINE, run_sigma=0.04, points=56, runs=2, degrees_of_freedom=56,
                           created="2025-01-01T00:00:00+00:00", sources=("a.json", "b.json"))
    assert NoiseProfile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile
    with pytest.raises(ValueError, match="unknown field"):
        NoiseProfile.from_dict({**profile.to_dict(), "extra": 1})
    with pytest.raises(ValueError, match="missing field 'run_sigma'"):
        NoiseProfile.from_dict({k: v for k, v in profile.to_dict().items() if k != "run_sigma"})
    with pytest.raises(ValueError, match="schema 2 is not supported"):
        NoiseProfile.from_dict({**profile.to_dict(), "schema": 2})
    with pytest.raises(ValueError, match="run_sigma must be in"):
        NoiseProfile.from_dict({**profile.to_dict(), "run_sigma": -0.1})
    path = calibration.write_profile(profile, tmp_path / "p.json")
    assert read_profile(path) == profile


def test_machine_key_and_default_location(batch_result, cache, monkeypatch):
    key = machine_key(read_envelope(batch_result("run")))
    assert key == TEST_MACHINE
    assert key.slug == "cpu-test-cpu-float32-2t"
    assert default_profile_path(key) == cache / "dlplayground" / "noise" / "cpu-test-cpu-float32-2t.json"
    gpu = machine_key(read_envelope(batch_result("gpu", device="cuda:0", dtype="float16",
                                                 environment={"device_name": "NVIDIA H200 (SXM)"})))
    assert gpu.slug == "cuda-nvidia-h200-sxm-float16-2t"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/home/someone")
    assert default_profile_path(key) == Path("/home/someone/.cache/dlplayground/noise/cpu-test-cpu-float32-2t.json")


def test_calibrate_uses_the_one_estimator_that_multi_run_compare_uses(batch_result):
    runs = [read_envelope(batch_result(f"r{i}", seed=i, pass_noise=0.03)) for i in (1, 2, 3)]
    profile = profile_from_envelopes(runs, created="2025-01-01T00:00:00+00:00")
    series, _ = noise_by_point(runs)
    assert profile.run_sigma == estimate_run_sigma(series.values()).run_sigma
    assert (profile.points, profile.runs, profile.degrees_of_freedom) == (7, 3, 14)
    # Compare of the same three runs on both sides pools the same series twice: the same sigma.
    assert compare_runs(runs, runs, resamples=1000).run_sigma.value == pytest.approx(profile.run_sigma)


# ------------------------------------------------------------------------------------- the command
def test_calibrate_from_files_is_picked_up_by_compare(batch_result, cache, capsys):
    a, b = batch_result("a", seed=1, pass_noise=0.03), batch_result("b", seed=2, pass_noise=0.03)
    assert run_cli(["calibrate", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    stored = cache / "dlplayground" / "noise" / "cpu-test-cpu-float32-2t.json"
    profile = read_profile(stored)
    assert profile.sources == (str(a), str(b))
    assert f"calibrate: run-to-run drift {profile.run_sigma:.1%} on Test CPU (cpu, float32, 2 threads)" in out
    assert f"profile written to {stored}; `dlplayground compare` of one run per side" in out
    assert "the estimate is rough" in out  # 7 degrees of freedom

    new = batch_result("new", seed=3, pass_noise=0.03, slowdown=1.25)
    assert run_cli(["compare", str(a), str(new)]) == 1  # with the default 10 % drift this is inconclusive
    out = capsys.readouterr().out
    assert f"(calibrated: noise profile {stored}, 7 points x 2 runs, 7 degrees of freedom" in out
    assert "7 regression(s)" in out


def test_calibrate_to_an_explicit_path(batch_result, cache, tmp_path, capsys):
    a, b = batch_result("a", seed=1), batch_result("b", seed=2)
    target = tmp_path / "profiles" / "mine.json"
    assert run_cli(["calibrate", str(a), str(b), "-o", str(target)]) == 0
    assert f"use it with `dlplayground compare --noise-profile {target}`" in capsys.readouterr().out
    assert read_profile(target).machine == TEST_MACHINE
    assert not cache.exists()


def test_calibrate_runs_bench_n_times(batch_result, monkeypatch, capsys):
    """``--runs 3 -- OPTIONS`` passes OPTIONS to three bench runs, each into its own file."""
    from conftest import write_batch_result

    calls: list[list[str]] = []

    def fake_bench(argv: list[str]) -> int:
        calls.append(argv)
        write_batch_result(Path(argv[argv.index("-o") + 1]), seed=len(calls), pass_noise=0.03)
        return 0

    monkeypatch.setattr(calibration, "bench_in_subprocess", fake_bench)
    assert run_cli(["calibrate", "--runs", "3", "--", "--quick", "--models", "mlp"]) == 0
    assert [c[:4] for c in calls] == [["bench", "--quick", "--models", "mlp"]] * 3
    assert len({c[-1] for c in calls}) == 3
    profile = read_profile(default_profile_path(TEST_MACHINE))
    assert profile.runs == 3
    assert profile.sources[0] == "dlplayground bench --quick --models mlp (run 1 of 3)"
    assert "calibrate: run-to-run drift" in capsys.readouterr().out

    calls.clear()
    assert run_cli(["calibrate", "--runs"]) == 0  # --runs alone: four runs
    assert len(calls) == 4


def test_a_failed_bench_run_writes_no_profile(monkeypatch, capsys):
    monkeypatch.setattr(calibration, "bench_in_subprocess", lambda argv: 2)
    assert run_cli(["calibrate", "--runs", "2", "--", "--models", "nope"]) == 2
    assert "calibrate: bench run 1 of 2 failed (exit code 2); no profile written" in _one_error_line(capsys)
    assert not default_profile_path(TEST_MACHINE).exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["calibrate", "{a}"], "calibrate: give at least two results files"),
        (["calibrate", "{a}", "{gpu}"], "the runs are from different machines or settings"),
        (["calibrate", "{a}", "{exp}"], "calibrate works on batch-size results, this is a 'eigenfaces' result"),
        (["calibrate", "{single}", "{single2}"], "no point was measured in at least two runs with at least two "
                                                 "passes"),
        (["calibrate", "--runs", "1"], "--runs must be >= 2"),
        (["calibrate", "--runs", "2", "--", "-o", "x.json"], "calibrate sets the bench's -o/--out itself"),
        (["calibrate", "{a}", "{b}", "--runs", "2"], "with --runs, the arguments after `--` are bench options"),
    ],
)
def test_calibrate_bad_input_exits_2_with_one_line(argv, message, batch_result, experiment_result, monkeypatch,
                                                   capsys):
    monkeypatch.setattr(calibration, "bench_in_subprocess", lambda argv: pytest.fail("bench must not run"))
    files = {"a": batch_result("a", seed=1), "b": batch_result("b", seed=2),
             "gpu": batch_result("gpu", device="cuda"), "exp": experiment_result("exp"),
             "single": batch_result("s1", passes=1, seed=1), "single2": batch_result("s2", passes=1, seed=2)}
    assert run_cli([a.format(**{k: str(v) for k, v in files.items()}) for a in argv]) == 2
    assert message in _one_error_line(capsys)


def test_a_corrupt_stored_profile_is_one_error_naming_it(batch_result, capsys):
    a, b = batch_result("a", seed=1), batch_result("b", seed=2)
    stored = default_profile_path(TEST_MACHINE)
    stored.parent.mkdir(parents=True)
    stored.write_text('{"machine": "not a key"}')
    assert run_cli(["compare", str(a), str(b)]) == 2
    err = _one_error_line(capsys)
    assert f"noise profile {str(stored)!r} is not a DL-Playground noise profile" in err
    assert "dlplayground calibrate" in err
    # Several runs per side measure their own drift: the stored profile is not even read.
    assert run_cli(["compare", "--base", str(a), str(b), "--new", str(b), str(a)]) == 0


def test_a_stored_profile_of_another_machine_is_not_picked_up(batch_result, capsys):
    other = MachineKey(name="Other CPU", device_type="cpu", dtype="float32", threads=2)
    calibration.write_profile(NoiseProfile(machine=other, run_sigma=0.001, points=7, runs=2, degrees_of_freedom=7,
                                           created="x", sources=("a",)))
    a, b = batch_result("a", seed=1), batch_result("b", seed=2, slowdown=1.25)
    assert run_cli(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "(default: no calibration for this machine" in out
    assert default_profile_path(other).is_file()
