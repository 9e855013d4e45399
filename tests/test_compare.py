"""``compare``: a change is called only beyond the noise of both sides, run-to-run drift included.

Seeded synthetic runs with a known answer: every point's samples get per-sample noise, a shift per pass
(``pass_noise``) and, in ``drifting_run``, a shift per run drawn from a known ``run_sigma`` -- the drift that
outlasts a run and that no single run can see. The A/A tests show the false-alarm rate stays at or below 5 %
of points when that drift is known (profile or several runs per side) and that ignoring it fails them; the
slowdown tests show what the rule catches at which noise.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import ENVIRONMENT, synthetic_record
from dlplayground.bench.calibration import MachineKey, NoiseProfile, profile_from_envelopes, write_profile
from dlplayground.bench.noise import (
    DEFAULT_RUN_SIGMA,
    PointNoise,
    detection_threshold,
    estimate_run_sigma,
    noise_floor,
    z_value,
)
from dlplayground.errors import UserInputError
from dlplayground.report import compare_envelopes
from dlplayground.report.compare import (
    IMPROVEMENT,
    INCONCLUSIVE,
    REGRESSION,
    UNCHANGED,
    WITHIN_NOISE,
    classify,
    compare_runs,
)
from dlplayground.results import (
    BATCH_SIZE_STUDY,
    Envelope,
    make_envelope,
    parse_envelope,
    read_envelope,
    write_envelope,
)

BATCHES = (1, 2, 4, 8, 16, 32, 64)
TEST_MACHINE = MachineKey(name="Test CPU", device_type="cpu", dtype="float32", threads=2)


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stored noise profile unless a test writes one: the user's own cache must not change the answers."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def run_cli(argv: list[str]) -> int:
    from dlplayground.cli import main

    return main(argv)


def drifting_envelope(rng: np.random.Generator, *, run_sigma: float, pass_noise: float, slowdown: float = 1.0,
                      noise: float = 0.02) -> dict:
    """A batch-size envelope of 7 points whose medians each carry their own shift for this run, exp(N(0, run_sigma))."""
    records = [synthetic_record("mlp", "cpu", "float32", b, a_ms=0.2, c_ms=0.25, noise=noise, samples=20, rng=rng,
                                slowdown=slowdown * float(np.exp(rng.normal(0.0, run_sigma))), pass_noise=pass_noise)
               for b in BATCHES]
    benchmarks = [{"name": f"test_inference[mlp-b{r.batch_size}]", "extra_info": r.to_dict()} for r in records]
    return make_envelope(study=BATCH_SIZE_STUDY, environment=ENVIRONMENT, config={"dtype": "float32"},
                         benchmarks=benchmarks)


def drifting_run(rng: np.random.Generator, **kwargs: float) -> Envelope:
    return parse_envelope(drifting_envelope(rng, **kwargs))


def profile(run_sigma: float, machine: MachineKey = TEST_MACHINE) -> NoiseProfile:
    return NoiseProfile(machine=machine, run_sigma=run_sigma, points=7, runs=2, degrees_of_freedom=7,
                        created="2025-01-01T00:00:00+00:00", sources=("a.json", "b.json"))


def false_calls(seed: int, *, runs: int, run_sigma: float, pass_noise: float, pairs: int = 20,
                noise_profile: NoiseProfile | None = None) -> tuple[int, int]:
    """(regression + improvement calls, points) over ``pairs`` A/A pairs of ``runs`` runs per side."""
    rng = np.random.default_rng(seed)
    calls = points = 0
    for _ in range(pairs):
        base = [drifting_run(rng, run_sigma=run_sigma, pass_noise=pass_noise) for _ in range(runs)]
        new = [drifting_run(rng, run_sigma=run_sigma, pass_noise=pass_noise) for _ in range(runs)]
        result = compare_runs(base, new, profile=noise_profile, resamples=300)
        calls += len(result.regressions) + len(result.improvements)
        points += len(result.points)
    return calls, points


# ------------------------------------------------------------------------------------------- the rule
def test_classify_comes_out_each_way():
    t, min_effect = math.log(1.3), 0.05
    assert classify(math.log(1.4), t, min_effect=min_effect)[0] == REGRESSION
    assert classify(math.log(1 / 1.4), t, min_effect=min_effect)[0] == IMPROVEMENT
    assert classify(math.log(1.2), t, min_effect=min_effect)[0] == WITHIN_NOISE
    assert classify(math.log(1 / 1.2), t, min_effect=min_effect)[0] == WITHIN_NOISE
    assert classify(math.log(1.03), t, min_effect=min_effect)[0] == UNCHANGED
    status, reason = classify(math.log(1.2), t, min_effect=min_effect)
    assert reason == "+20.0%: beyond the 5.0% minimum effect but within the noise (±30%); more runs per side " \
                     "or a calibrated profile may decide it"


def test_threshold_is_one_formula_for_one_or_several_runs():
    z = z_value(0.99)
    one = detection_threshold([0.02], [0.03], 0.1, confidence=0.99, min_effect=0.05)
    assert one == pytest.approx(z * math.sqrt(0.02**2 + 0.03**2 + 2 * 0.1**2) + math.log(1.05))
    three = detection_threshold([0.02] * 3, [0.03] * 3, 0.1, confidence=0.99, min_effect=0.05)
    assert three == pytest.approx(z * math.sqrt((0.02**2 + 0.1**2) / 3 + (0.03**2 + 0.1**2) / 3) + math.log(1.05))
    noise = PointNoise(median_ms=1.0, ci_low_ms=0.9, ci_high_ms=1.1, level=0.95, passes=5, between_pass_cv=0.05,
                       unstable=False, log_se=0.02)
    assert noise_floor(noise, 0.1) == pytest.approx(math.expm1(detection_threshold([0.02], [0.02], 0.1)))
    assert noise_floor(noise, 0.1, runs=3) < noise_floor(noise, 0.1)


def _noise(median_ms: float, log_se: float, passes: int = 5) -> PointNoise:
    return PointNoise(median_ms=median_ms, ci_low_ms=median_ms, ci_high_ms=median_ms, level=0.95, passes=passes,
                      between_pass_cv=None, unstable=False, log_se=log_se)


def test_run_sigma_estimator_known_answer():
    # Point 1: log medians 0 and log 1.2 (variance (log 1.2)^2 / 2, 1 dof); point 2: three runs (2 dof).
    p1 = [_noise(1.0, 0.01), _noise(1.2, 0.03)]
    logs2 = np.log([2.0, 2.1, 1.9])
    p2 = [_noise(float(m), 0.02) for m in np.exp(logs2)]
    drift = estimate_run_sigma([p1, p2, [_noise(5.0, 0.01)], [_noise(1.0, 0.01, passes=1), _noise(9.0, 0.01)]])
    between = (math.log(1.2) ** 2 / 2 + 2 * float(np.var(logs2, ddof=1))) / 3
    within = ((0.01**2 + 0.03**2) / 2 + 2 * 0.02**2) / 3
    assert (drift.points, drift.degrees_of_freedom) == (2, 3)  # one-run and single-pass series are left out
    assert drift.between_run_variance == pytest.approx(between)
    assert drift.within_run_variance == pytest.approx(within)
    assert drift.run_sigma == pytest.approx(math.sqrt(between - within))
    # Runs that agree better than their own intervals say: no drift, floored at 0 (after pooling).
    assert estimate_run_sigma([[_noise(1.0, 0.1), _noise(1.01, 0.1)]]).run_sigma == 0.0
    with pytest.raises(ValueError, match="at least two runs"):
        estimate_run_sigma([[_noise(1.0, 0.1)]])


def test_calibration_recovers_a_known_drift():
    """Many points, each shifted per run by exp(N(0, 8 %)): the estimate lands near 8 %."""
    rng = np.random.default_rng(11)
    runs = [drifting_run(rng, run_sigma=0.08, pass_noise=0.02) for _ in range(12)]
    profile = profile_from_envelopes(runs, resamples=300)
    assert profile.degrees_of_freedom == 7 * 11
    assert profile.run_sigma == pytest.approx(0.08, rel=0.25)


# --------------------------------------------------------------------------------------------- A/A
@pytest.mark.parametrize("seed", [0, 1])
def test_aa_pairs_with_known_drift_stay_below_five_percent_false_calls(seed):
    """Single runs judged with the machine's drift known from a profile, and 2 runs per side measuring it."""
    calls, points = false_calls(seed, runs=1, run_sigma=0.05, pass_noise=0.05, noise_profile=profile(0.05))
    assert points == 140
    assert calls <= 0.05 * points
    calls, points = false_calls(seed, runs=2, run_sigma=0.08, pass_noise=0.04)
    assert calls <= 0.05 * points


def test_aa_pairs_fail_when_the_drift_is_ignored():
    """The same A/A pairs judged with sigma_run = 0 (each run's own interval only) call far too much: the
    A/A test above can fail."""
    calls, points = false_calls(0, runs=1, run_sigma=0.05, pass_noise=0.05, noise_profile=profile(0.0))
    assert calls > 0.05 * points


# ----------------------------------------------------------------------------------------- slowdowns
@pytest.mark.parametrize("runs", [2, 3])
def test_a_25_percent_slowdown_is_caught_with_several_runs_per_side(runs):
    rng = np.random.default_rng(7)
    caught = points = 0
    for _ in range(10):
        base = [drifting_run(rng, run_sigma=0.03, pass_noise=0.03) for _ in range(runs)]
        new = [drifting_run(rng, run_sigma=0.03, pass_noise=0.03, slowdown=1.25) for _ in range(runs)]
        result = compare_runs(base, new, resamples=300)
        assert result.run_sigma.source == "measured"
        caught += len(result.regressions)
        points += len(result.points)
    assert caught >= 0.95 * points


def test_a_2x_slowdown_is_flagged_at_the_default_drift(batch_result, tmp_path, capsys):
    base, new = batch_result("base", seed=1), batch_result("new", seed=2, slowdown=2.0)
    out_json = tmp_path / "cmp.json"
    assert run_cli(["compare", str(base), str(new), "--json", str(out_json)]) == 1
    text = capsys.readouterr().out
    assert (f"run-to-run drift {DEFAULT_RUN_SIGMA:.0%} (default: no calibration for this machine; run "
            "`dlplayground calibrate`") in text
    assert "7 regression(s), 0 improvement(s), 0 unchanged, 0 inconclusive at this noise" in text
    row = next(line for line in text.splitlines() if line.startswith("mlp") and " 64 " in line)
    cells = row.split()
    assert cells[-1] == "REGRESSION"
    assert float(cells[-3].rstrip("%")) == pytest.approx(100, abs=5)  # the change column
    saved = json.loads(out_json.read_text())
    assert saved["has_regression"] is True
    assert saved["run_sigma"] == {"value": DEFAULT_RUN_SIGMA, "source": "default",
                                  "detail": "no calibration for this machine; run `dlplayground calibrate`, or give "
                                            "several runs per side"}
    point = next(p for p in saved["points"] if p["batch_size"] == 64)
    assert point["status"] == "regression"
    assert point["noise"] == pytest.approx(math.expm1(point["threshold"]))
    assert cells[-2] == f"±{point['noise']:.0%}"  # the noise column: expm1(T)


def test_a_25_percent_slowdown_at_the_default_drift_is_inconclusive_not_a_regression(batch_result, capsys):
    base, new = batch_result("base", seed=1), batch_result("new", seed=2, slowdown=1.25)
    result = compare_envelopes(read_envelope(base), read_envelope(new))
    assert {p.status for p in result.points} == {WITHIN_NOISE}
    assert all(p.latency_change == pytest.approx(0.25, abs=0.03) for p in result.points)
    assert all(p.noise > 0.25 for p in result.points)
    assert run_cli(["compare", str(base), str(new)]) == 0
    assert "0 regression(s), 0 improvement(s), 0 unchanged, 7 inconclusive at this noise" in capsys.readouterr().out


def test_same_machine_noise_is_not_a_regression(batch_result, capsys):
    base, new = batch_result("base", seed=1), batch_result("new", seed=2)
    assert run_cli(["compare", str(base), str(new)]) == 0
    assert "0 regression(s), 0 improvement(s), 7 unchanged" in capsys.readouterr().out


def test_small_but_certain_change_respects_min_effect(batch_result, tmp_path, capsys):
    """On a quiet machine (calibrated drift 0.1 %) a 3 % change is clear, but below the 5 % minimum effect."""
    base = batch_result("base", seed=1, noise=0.002, samples=40)
    new = batch_result("new", seed=2, noise=0.002, samples=40, slowdown=1.03)
    quiet = write_profile(profile(0.001), tmp_path / "quiet.json")
    result = compare_envelopes(read_envelope(base), read_envelope(new), profile=profile(0.001))
    assert result.counts()[UNCHANGED] == 7
    assert all("below the 5.0% minimum effect" in p.reason for p in result.points)
    assert run_cli(["compare", str(base), str(new), "--noise-profile", str(quiet), "--min-effect", "1%"]) == 1
    out = capsys.readouterr().out
    assert "7 regression(s)" in out
    assert f"run-to-run drift 0.1% (calibrated: noise profile {quiet}, 7 points x 2 runs" in out


def test_improvement_and_unmatched_points(batch_result, capsys):
    base = batch_result("base", seed=1, batch_sizes=(1, 2, 4, 8))
    new = batch_result("new", seed=2, batch_sizes=(2, 4, 8, 16), slowdown=0.5)
    result = compare_envelopes(read_envelope(base), read_envelope(new))
    assert [p.batch_size for p in result.improvements] == [2, 4, 8]
    assert result.only_in_base == [("mlp", "cpu", "float32", 1)]
    assert result.only_in_new == [("mlp", "cpu", "float32", 16)]
    assert run_cli(["compare", str(base), str(new), "--changes-only"]) == 0
    out = capsys.readouterr().out
    assert "only in base: mlp (cpu, float32) @ 1" in out
    assert "only in new: mlp (cpu, float32) @ 16" in out


def test_a_single_pass_is_inconclusive(batch_result):
    base = batch_result("base", passes=1, seed=1)
    new = batch_result("new", passes=1, seed=2, slowdown=2.0)
    result = compare_envelopes(read_envelope(base), read_envelope(new))
    assert {p.status for p in result.points} == {INCONCLUSIVE}
    assert "single pass" in result.points[0].reason
    assert not result.has_regression


def test_several_runs_per_side_from_the_command_line(tmp_path, capsys):
    rng = np.random.default_rng(3)
    paths = {}
    for side, slowdown in (("a", 1.0), ("b", 1.25)):
        for i in (1, 2, 3):
            env = drifting_envelope(rng, run_sigma=0.03, pass_noise=0.03, slowdown=slowdown)
            paths[f"{side}{i}"] = write_envelope(tmp_path / f"{side}{i}.json", env)
    out_json = tmp_path / "cmp.json"
    argv = ["compare", "--base", *(str(paths[f"a{i}"]) for i in (1, 2, 3)),
            "--new", *(str(paths[f"b{i}"]) for i in (1, 2, 3)), "--json", str(out_json)]
    assert run_cli(argv) == 1
    text = capsys.readouterr().out
    assert "(3 run(s) -> 3 run(s))" in text
    assert "(measured: from these runs, pooled over 14 point series, 28 degrees of freedom)" in text
    saved = json.loads(out_json.read_text())
    assert saved["base"] == [str(paths[f"a{i}"]) for i in (1, 2, 3)]
    assert saved["run_sigma"]["source"] == "measured"
    point = saved["points"][0]
    assert len(point["base"]["run_medians_ms"]) == 3
    # The side estimate is the geometric mean of its runs' medians.
    assert point["base"]["median_ms"] == pytest.approx(math.exp(np.mean(np.log(point["base"]["run_medians_ms"]))))


def test_environment_differences_are_noted(batch_result):
    base = batch_result("base", seed=1)
    new = batch_result("new", seed=2, environment={"torch": "9.9", "device_name": "Other CPU"})
    notes = compare_envelopes(read_envelope(base), read_envelope(new)).notes
    assert notes == ["environments differ in device_name: Test CPU -> Other CPU",
                     "environments differ in torch: 2.0 -> 9.9"]


def test_a_profile_of_another_machine_is_used_when_given_but_said(batch_result, tmp_path, capsys):
    base, new = batch_result("base", seed=1), batch_result("new", seed=2)
    other = write_profile(profile(0.02, MachineKey("Big GPU", "cuda", "float16", 8)), tmp_path / "other.json")
    assert run_cli(["compare", str(base), str(new), "--noise-profile", str(other)]) == 0
    out = capsys.readouterr().out
    assert "run-to-run drift 2.0% (calibrated:" in out
    assert ("made on another machine (Big GPU (cuda, float16, 8 threads); these runs: Test CPU (cpu, float32, "
            "2 threads)), used as given") in out


# ---------------------------------------------------------------------------------------- bad input
def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "{cpu}"], "compare: give BASE.json NEW.json, or --base RUN.json"),
        (["compare", "--base", "{cpu}", "{cpu}"], "compare: --new is missing: each side needs at least one run"),
        (["compare", "--new", "{cpu}"], "compare: --base is missing"),
        (["compare", "{cpu}", "--base", "{cpu}", "--new", "{cpu}"], "not both"),
        (["compare", "{cpu}", "{gpu}"], "base has mlp (cpu, float32); new has mlp (cuda, float32)"),
        (["compare", "{cpu}", "{exp}"], "compare works on batch-size results, this is a 'eigenfaces' result"),
        (["compare", "--base", "{cpu}", "{exp}", "--new", "{cpu}"], "this is a 'eigenfaces' result"),
        (["compare", "{broken}", "{cpu}"], "is not valid JSON"),
        (["compare", "{cpu}", "{cpu}", "--noise-profile", "{broken}"], "is not a DL-Playground noise profile"),
        (["compare", "{cpu}", "{cpu}", "--noise-profile", "{cpu}"], "is not a DL-Playground noise profile"),
        (["compare", "{cpu}", "{cpu}", "--confidence", "1.5"], "--confidence must be in [0.5, 1), got 1.5"),
        (["compare", "{cpu}", "{cpu}", "--min-effect=-5%"], "--min-effect must be a fraction in [0, 10)"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(argv, message, batch_result, experiment_result, tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    files = {"cpu": batch_result("cpu"), "gpu": batch_result("gpu", device="cuda"),
             "exp": experiment_result("exp"), "broken": broken}
    assert run_cli([a.format(**{k: str(v) for k, v in files.items()}) for a in argv]) == 2
    err = _one_error_line(capsys)
    assert message in err
    if "noise-profile" in argv:
        assert repr(str(Path(argv[-1].format(**{k: str(v) for k, v in files.items()})))) in err  # names the file


def test_options_out_of_range_are_refused_by_the_library_too(batch_result):
    run = read_envelope(batch_result("cpu"))
    with pytest.raises(UserInputError, match="--confidence"):
        compare_envelopes(run, run, confidence=1.5)
    with pytest.raises(UserInputError, match="--min-effect"):
        compare_envelopes(run, run, min_effect=-0.1)
    with pytest.raises(UserInputError, match="at least one run per side"):
        compare_runs([run], [])
