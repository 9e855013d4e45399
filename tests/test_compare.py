"""``compare``: regressions only beyond run-to-run noise, on seeded synthetic runs with known shifts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlplayground.errors import UserInputError
from dlplayground.report import bootstrap_median_ci, compare_envelopes
from dlplayground.report.compare import INCONCLUSIVE, classify
from dlplayground.results import read_envelope


def run_cli(argv: list[str]) -> int:
    from dlplayground.cli import main

    return main(argv)


def test_bootstrap_interval_is_seeded_covers_the_median_and_narrows_with_samples():
    rng = np.random.default_rng(0)
    small = rng.lognormal(0, 0.1, 10)
    large = rng.lognormal(0, 0.1, 400)
    lo, hi = bootstrap_median_ci(small, seed=3)
    assert (lo, hi) == bootstrap_median_ci(small, seed=3)
    assert lo <= np.median(small) <= hi
    lo2, hi2 = bootstrap_median_ci(large, seed=3)
    assert hi2 - lo2 < (hi - lo) / 2  # ~1/sqrt(n): 20x the samples, under half the width
    assert bootstrap_median_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_classify_needs_both_separation_and_effect():
    assert classify(1.0, (0.9, 1.1), 1.3, (1.2, 1.4), min_effect=0.05)[0] == "regression"
    assert classify(1.0, (0.9, 1.25), 1.3, (1.2, 1.4), min_effect=0.05)[0] == "unchanged"  # overlap
    assert classify(1.0, (0.99, 1.01), 1.03, (1.02, 1.04), min_effect=0.05)[0] == "unchanged"  # too small
    assert classify(1.0, (0.99, 1.01), 1.03, (1.02, 1.04), min_effect=0.01)[0] == "regression"
    assert classify(1.0, (0.9, 1.1), 0.7, (0.6, 0.8), min_effect=0.05)[0] == "improvement"


def test_clear_slowdown_is_a_regression_and_exits_1(batch_result, tmp_path, capsys):
    base, new = batch_result("base", seed=1), batch_result("new", seed=2, slowdown=1.2)
    result = compare_envelopes(read_envelope(base), read_envelope(new))
    assert len(result.points) == 7
    assert result.counts() == {"regression": 7, "improvement": 0, "unchanged": 0, "inconclusive": 0}
    for p in result.points:
        assert p.latency_change == pytest.approx(0.2, abs=0.03)
        assert p.new_ci_ms[0] > p.base_ci_ms[1]
    out_json = tmp_path / "cmp.json"
    assert run_cli(["compare", str(base), str(new), "--json", str(out_json)]) == 1
    text = capsys.readouterr().out
    assert "REGRESSION" in text
    assert "7 regression(s), 0 improvement(s), 0 unchanged, 0 inconclusive of 7 matched point(s)" in text
    saved = json.loads(out_json.read_text())
    assert saved["has_regression"] is True
    assert saved["points"][0]["status"] == "regression"


def test_same_machine_noise_is_not_a_regression(batch_result, capsys):
    base, new = batch_result("base", seed=1), batch_result("new", seed=2)
    assert run_cli(["compare", str(base), str(new)]) == 0
    assert "0 regression(s), 0 improvement(s), 7 unchanged" in capsys.readouterr().out


def test_a_noisy_ten_percent_change_stays_within_noise(batch_result):
    """A fixed 5 % threshold would fail this run; the intervals say the noise is larger than the change."""
    base = batch_result("base", seed=1, noise=0.5, samples=7)
    new = batch_result("new", seed=2, noise=0.5, samples=7, slowdown=1.10)
    result = compare_envelopes(read_envelope(base), read_envelope(new))
    assert not result.has_regression
    assert sum(p.latency_change > 0.05 for p in result.points) >= 1  # a naive threshold would have fired
    assert all("within run-to-run noise" in p.reason for p in result.points if p.latency_change > 0.05)


def test_small_but_certain_change_respects_min_effect(batch_result, capsys):
    base = batch_result("base", seed=1, noise=0.002, samples=40)
    new = batch_result("new", seed=2, noise=0.002, samples=40, slowdown=1.03)
    result = compare_envelopes(read_envelope(base), read_envelope(new))
    assert result.counts()["unchanged"] == 7
    assert all("below the 5% minimum effect" in p.reason for p in result.points)
    assert run_cli(["compare", str(base), str(new), "--min-effect", "1%"]) == 1
    assert "7 regression(s)" in capsys.readouterr().out


def test_improvement_and_unmatched_points(batch_result, capsys):
    base = batch_result("base", seed=1, batch_sizes=(1, 2, 4, 8))
    new = batch_result("new", seed=2, batch_sizes=(2, 4, 8, 16), slowdown=0.7)
    result = compare_envelopes(read_envelope(base), read_envelope(new))
    assert [p.batch_size for p in result.improvements] == [2, 4, 8]
    assert result.only_in_base == [("mlp", "cpu", "float32", 1)]
    assert result.only_in_new == [("mlp", "cpu", "float32", 16)]
    assert run_cli(["compare", str(base), str(new), "--changes-only"]) == 0
    out = capsys.readouterr().out
    assert "only in base: mlp (cpu, float32) @ 1" in out
    assert "only in new: mlp (cpu, float32) @ 16" in out


def test_too_few_samples_is_inconclusive(batch_result):
    base, new = batch_result("base", samples=2, seed=1), batch_result("new", samples=2, seed=2, slowdown=2.0)
    result = compare_envelopes(read_envelope(base), read_envelope(new))
    assert {p.status for p in result.points} == {INCONCLUSIVE}
    assert not result.has_regression


def test_environment_differences_are_noted(batch_result):
    base = batch_result("base", seed=1)
    new = batch_result("new", seed=2, environment={"torch": "9.9", "device_name": "Other CPU"})
    notes = compare_envelopes(read_envelope(base), read_envelope(new)).notes
    assert notes == ["environments differ in device_name: Test CPU -> Other CPU",
                     "environments differ in torch: 2.0 -> 9.9"]


def test_bad_input_exits_2(batch_result, experiment_result, tmp_path, capsys):
    cpu, gpu = batch_result("cpu"), batch_result("gpu", device="cuda")
    assert run_cli(["compare", str(cpu), str(gpu)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "have no point in common" in err
    assert "base has mlp (cpu, float32); new has mlp (cuda, float32)" in err
    assert run_cli(["compare", str(cpu), str(experiment_result("exp"))]) == 2
    assert "compare works on batch-size results, this is a 'eigenfaces' result" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert run_cli(["compare", str(broken), str(cpu)]) == 2
    assert f"results file {str(broken)!r} is not valid JSON" in capsys.readouterr().err
    with pytest.raises(UserInputError, match="--confidence"):
        compare_envelopes(read_envelope(cpu), read_envelope(cpu), confidence=1.5)
