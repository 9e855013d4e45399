"""The dropout-vs-compressibility study: a --quick run end to end, its resolved config, its population design,
and bad input."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace

import pytest
import torch

from dlplayground.results import read_envelope
from dlplayground.stats import Interval
from dlplayground.studies.dropout import study as exp
from dlplayground.studies.dropout.analysis import MAIN_TARGETS, PRIMARY, PairResult
from dlplayground.studies.dropout.config import FULL_SIZES, QUICK_SIZES, DropoutStudyConfig
from dlplayground.studies.dropout.correlation import Correlation
from dlplayground.studies.dropout.datasets import load_split
from dlplayground.studies.dropout.population import Member, design_population, training_subset
from dlplayground.studies.dropout.verdict import target_verdict, verdict_text


def _resolved(*flags: str) -> DropoutStudyConfig:
    return exp.resolve(exp.build_parser().parse_args(list(flags)))


def _numbers_or_intervals(value: object) -> bool:
    """A table cell or metric as the results store them: raw number, text, None, bool or a [low, high] pair."""
    if isinstance(value, list):
        return len(value) == 2 and all(v is None or isinstance(v, int | float) for v in value)
    return value is None or isinstance(value, int | float | str | bool)


@pytest.mark.slow
def test_quick_run_writes_a_complete_envelope(tmp_path, capsys):
    out = tmp_path / "run"
    # --threads 1: these models are tiny, and on a CPU shared with other jobs one thread is much faster.
    threads_before = torch.get_num_threads()
    code = exp.main(["--quick", "--out", str(out), "--threads", "1", "--seed", "3"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "results written to" in printed
    assert "Smoke run with 8 models" in printed
    env = read_envelope(out / "result.json")
    result = env.result
    assert env.study == "dropout_overfitting"
    assert result is not None
    assert env.config["quick"] is True
    assert env.config["seed"] == 3
    assert result.metrics["models"] == 8
    assert result.metrics["torch_threads_used"] == 1
    assert env.config["threads"] == 1  # the envelope records the count the run used (the common --threads)
    assert torch.get_num_threads() == threads_before  # and torch's setting is restored afterwards
    assert result.metrics["kd_temperature"] == 2.0
    assert result.metrics["kd_alpha"] == 0.5
    assert "load_digits" in result.data_source
    assert "load_breast_cancer" in result.data_source
    tables = {t.title: t for t in result.tables}
    population = tables["Population: one row per model"]
    assert len(population.rows) == 8
    row = dict(zip(population.columns, population.rows[0], strict=True))
    assert 0.0 <= row["test acc"] <= 1.0
    assert 0.0 < row["AUC native"] <= 1.5
    assert row["prune sparsity (fine-tuned)"] >= row["prune sparsity (one-shot)"]
    assert {r[1] for r in population.rows} == {"digits-mlp", "digits-cnn", "breast_cancer-mlp"}
    correlations = tables["Correlations of each predictor with each target"]
    assert len(correlations.rows) == 6 * 4  # predictors x targets
    assert {r[1] for r in correlations.rows} == {"prunability (one-shot)", "prunability (fine-tuned)",
                                                 "distillability", "distillation gain"}
    assert "partial spearman | train dropout" in correlations.columns
    for fig in result.figures:
        assert (out / fig.path).is_file()
        assert (out / fig.path).stat().st_size > 1000

    # the recorded config is the resolved one: every value filled in, none standing for "the default"
    expected = _resolved("--quick", "--out", str(out), "--threads", "1", "--seed", "3").to_dict()
    assert env.config == json.loads(json.dumps(expected))
    assert all(v is not None for v in env.config.values())
    # raw values, not formatted ones: numbers unrounded, intervals as [low, high] pairs of numbers
    for table in result.tables:
        for r in table.rows:
            assert all(_numbers_or_intervals(cell) for cell in r), (table.title, r)
    settings = dict(tables["Settings"].rows)
    assert settings["population"] == 8
    assert settings["kd_alpha"] == 0.5
    assert settings["rates"] == "0.25, 0.5"  # a sequence as text of its exact values, never read as an interval
    assert settings.keys() == env.config.keys()
    spearman_ci = correlations.columns.index("spearman CI")
    assert all(isinstance(r[spearman_ci], list) and len(r[spearman_ci]) == 2 for r in correlations.rows)
    assert all(_numbers_or_intervals(v) for v in result.metrics.values())
    assert isinstance(result.metrics["spearman_prunability_one_shot_ci"], list)
    assert any(isinstance(v, float) and v != round(v, 3) for v in row.values())  # not rounded to 3 decimals
    # the per-pass accuracies and per-level pruning curves behind every summary are kept
    raw = result.raw
    assert raw["bootstrap"]["resamples"] == 200
    assert raw["bootstrap"]["level"] == 0.95
    assert len(raw["members"]) == 8
    first = raw["members"][0]
    assert first["native"]["rates"] == [0.25, 0.5]
    assert [len(passes) for passes in first["native"]["accuracies"]] == [3, 3]  # [rate][pass]
    assert len(first["prune_oneshot"]["accuracies"]) == 4  # every sparsity of the quick grid
    assert len(first["random_prune_aucs"]) == 1
    mean_auc = first["native"]["accuracies"]
    assert row["AUC native"] == pytest.approx(
        _auc([0.25, 0.5], [sum(a) / len(a) for a in mean_auc], first["native"]["clean_accuracy"]))
    assert len(raw["correlations"]) == 24
    assert raw["correlations"][0]["spearman"]["resamples"] == 200


def _auc(rates: list[float], means: list[float], clean: float) -> float:
    """Trapezoidal area under accuracy/clean from rate 0 (ratio 1), over the span: an independent recomputation."""
    xs, ys = [0.0, *rates], [1.0, *(m / clean for m in means)]
    return sum((ys[i] + ys[i + 1]) / 2 * (xs[i + 1] - xs[i]) for i in range(len(xs) - 1)) / xs[-1]


def test_resolved_config_fills_every_default():
    full, quick = _resolved(), _resolved("--quick")
    for config in (full, quick):
        values = dataclasses.asdict(config)
        assert all(v is not None for v in values.values()), values
        json.dumps(config.to_dict())  # plain JSON, as recorded in result.json
    assert (full.population, full.passes, full.bootstrap_resamples) == (40, 10, 2000)
    assert (quick.population, quick.passes, quick.bootstrap_resamples) == (8, 3, 200)
    assert full.rates == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
    assert quick.rates == (0.25, 0.5)
    assert full.datasets == ("digits", "breast_cancer")
    assert _resolved("--dataset", "Digits").datasets == ("digits",)
    assert {k: getattr(full, k) for k in FULL_SIZES} == FULL_SIZES
    assert {k: getattr(quick, k) for k in QUICK_SIZES} == QUICK_SIZES
    assert full.threads == torch.get_num_threads()  # the common --threads, resolved to the count in force
    assert _resolved("--threads", "1", "--rates", "0.5,0.1,0.5").rates == (0.1, 0.5)  # sorted, de-duplicated
    assert _resolved("--threads", "1").threads == 1


def test_the_study_has_no_thread_flag_of_its_own():
    options = [a for action in exp.build_parser()._actions for a in action.option_strings]
    assert options.count("--threads") == 1  # the common one from common_parser


def test_population_design_balances_every_factor():
    config = _resolved("--population", "40")
    members = design_population(config, seed=0)
    assert len(members) == 40
    assert len({m.seed for m in members}) == 40
    for factor in ("dropout", "label_noise", "train_fraction", "weight_decay", "width", "train_steps"):
        levels = getattr(config, f"{factor}_levels")
        counts = [sum(getattr(m, factor) == level for m in members) for level in levels]
        assert max(counts) - min(counts) <= 1, factor  # each level used equally often, up to one
        assert sum(counts) == 40
    groups = [m.group for m in members]
    assert groups.count("digits-cnn") >= 8
    assert groups.count("breast_cancer-mlp") >= 8
    assert design_population(config, seed=0) == members  # reproducible
    assert design_population(config, seed=1) != members


def test_label_noise_flips_the_asked_fraction_to_other_classes():
    data = load_split("digits", 0)
    member = Member(index=0, dataset="digits", arch="mlp", width=32, label_noise=0.4, train_fraction=1.0,
                        weight_decay=0.0, dropout=0.0, train_steps=1, seed=11)
    x, y = training_subset(member, data)
    assert x.shape[0] == data.x_train.shape[0]
    flipped = float((y != data.y_train).float().mean())
    assert flipped == pytest.approx(0.4, abs=0.05)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rates", "0.2,1.0"], "--rates: 1.0 is outside [0, 1)"),
        (["--rates", "-0.1"], "outside [0, 1)"),
        (["--rates", "0.1,abc"], "'abc' is not a number"),
        (["--rates", "0"], "at least one rate must be > 0"),
        (["--population", "5"], "--population 5 is too small"),
        (["--dataset", "mnist"], "--dataset 'mnist' is unknown; choose 'digits', 'breast_cancer' or 'both'"),
        (["--passes", "0"], "--passes must be >= 1"),
        (["--kd-alpha", "2"], "--kd-alpha must be in [0, 1]"),
        (["--threads", "0"], "--threads must be >= 1"),
        (["--bootstrap", "50"], "--bootstrap must be >= 100"),
    ],
)
def test_bad_input_is_one_clear_error_and_nothing_is_written(tmp_path, capsys, flags, message):
    out = tmp_path / "run"
    code = exp.main(["--quick", "--out", str(out), *flags])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no half-written temporary folder either


def _corr(estimate: float, low: float, high: float) -> Correlation:
    return Correlation("spearman", Interval(estimate, low, high, 0.95, 200, 200), 0.01, 40)


@pytest.mark.parametrize(
    ("partial", "partial_all", "status"),
    [
        ((0.4, 0.1, 0.7), (0.3, 0.05, 0.6), "supported"),
        ((0.4, 0.1, 0.7), (0.1, -0.2, 0.4), "weak"),
        ((0.1, -0.2, 0.4), (0.1, -0.2, 0.4), "confounded"),
    ],
)
def test_verdict_status_is_computed_from_the_intervals(partial, partial_all, status):
    pair = PairResult(PRIMARY, "distillability", _corr(0.5, 0.2, 0.8), _corr(0.4, 0.1, 0.6), _corr(*partial),
                      _corr(*partial_all))
    got, sentence = target_verdict(pair, ("weight norm", _corr(0.6, 0.3, 0.9)))
    assert got == status
    assert "Spearman +0.50 [+0.20, +0.80]" in sentence
    assert "baseline 'weight norm' does at least as well (+0.60)" in sentence
    assert target_verdict(replace(pair, spearman=_corr(-0.5, -0.8, -0.2)), None)[0] == "contradicted"
    assert target_verdict(replace(pair, spearman=_corr(0.1, -0.2, 0.4)), None)[0] == "not supported"


def test_verdict_head_needs_twenty_models():
    pairs = [PairResult(PRIMARY, t, *(_corr(0.5, 0.2, 0.8),) * 4) for t in MAIN_TARGETS]
    text, statuses = verdict_text(pairs, 40)
    assert text.startswith("The claim holds on this evidence (40 models) for every target.")
    assert set(statuses.values()) == {"supported"}
    assert verdict_text(pairs, 8)[0].startswith("Smoke run with 8 models")
