"""The dropout-vs-compressibility study: a --quick run end to end (report order, fallback announced, labelled
metrics, narrow tables, raw values), its resolved config, its population design, and bad input."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from dlplayground.results import read_envelope
from dlplayground.studies.dropout import study as exp
from dlplayground.studies.dropout.config import FULL_SIZES, QUICK_SIZES, DropoutStudyConfig
from dlplayground.studies.dropout.datasets import load_packaged
from dlplayground.studies.dropout.population import Member, design_population, training_subset


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
    threads_before = torch.get_num_threads()
    code = exp.main(["--quick", "--out", str(out), "--seed", "3"])
    assert code == 0
    printed = capsys.readouterr()
    assert "results written to" in printed.out
    assert "dropout_overfitting: Not judged: 8 models are a smoke run" in printed.out  # the answer
    assert "no real image set given" in printed.err  # the offline fallback is announced ...
    env = read_envelope(out / "result.json")
    result = env.result
    assert result is not None
    assert "offline default" in result.data_source  # ... and recorded
    assert env.study == "dropout_overfitting"
    assert env.config["quick"] is True
    assert env.config["seed"] == 3
    assert env.config["threads"] == 1  # this study's default: tiny models, a shared CPU
    assert result.raw["torch_threads_used"] == 1  # as measured inside the run: bookkeeping, kept raw
    assert torch.get_num_threads() == threads_before  # restored afterwards
    assert result.metrics["models"] == 8
    assert "load_digits" in result.data_source
    assert "load_breast_cancer" in result.data_source
    # the report leads with the predictor-vs-targets figure, then the core test, and ends with the long tables
    assert result.figures[0].path == "lead.png"
    assert "colour = dataset" in result.figures[0].caption
    assert [t.title for t in result.tables][:2] == [
        "Incremental value: what each predictor adds beyond clean accuracy and random-pruning robustness",
        "What the data can resolve (power of the core test)"]
    assert [t.title for t in result.tables][-4:] == ["Models: recipe", "Models: predictors", "Models: targets",
                                                     "Settings"]
    assert {"incremental_prunability_one_shot", "incremental_prunability_one_shot_ci", "verdict_distillation_gain",
            "min_detectable_partial_rho", "models_needed_for_min_effect",
            "distillation_gain_reliability"} <= result.metrics.keys()
    assert len(result.metrics) <= 25  # headline numbers only; the detail is in the tables
    # every metric is labelled (read back from the JSON), and a few carry the answer
    assert result.unlabelled_metrics() == []
    assert all(label.label and label.label != key for key, label in result.labels.items())
    key_numbers = [k for k, label in result.labels.items() if label.key]
    assert 3 <= len(key_numbers) <= 6, key_numbers
    assert {"models", "incremental_prunability_one_shot", "incremental_distillation_gain"} <= set(key_numbers)
    assert result.labels["incremental_prunability_one_shot"].ci == "incremental_prunability_one_shot_ci"
    assert result.answer == "Not judged: 8 models are a smoke run, too few to tell (a verdict needs >= 30)."
    tables = {t.title: t for t in result.tables}
    assert all(len(t.columns) <= 8 for t in result.tables), [(t.title, len(t.columns)) for t in result.tables]
    recipe, predictors, targets = (tables[f"Models: {part}"] for part in ("recipe", "predictors", "targets"))
    assert [len(t.rows) for t in (recipe, predictors, targets)] == [8, 8, 8]
    assert [r[0] for r in recipe.rows] == [r[0] for r in predictors.rows] == [r[0] for r in targets.rows]
    row = dict(zip(predictors.columns, predictors.rows[0], strict=True))
    assert 0.0 <= row["clean acc"] <= 1.0
    assert 0.0 < row["AUC native"] <= 1.5
    assert row["MC mutual info"] >= 0.0
    assert dict(zip(targets.columns, targets.rows[0], strict=True))["KD temperature"] in (1.0, 4.0)
    assert {r[1] for r in recipe.rows} == {"digits-mlp", "digits-cnn", "breast_cancer-mlp"}
    incremental = tables["Incremental value: what each predictor adds beyond clean accuracy and random-pruning "
                         "robustness"]
    assert len(incremental.rows) == 4 * 3
    assert {r[-1] for r in incremental.rows[:6]} <= {"holds", "fails", "unresolved", "undefined"}
    assert all(r[-1] is None for r in incremental.rows[6:])  # the covariates' rows are for reference only
    plain = tables["Every predictor x target: rho and the floor effect"]
    partial = tables["Every predictor x target: incremental and given everything"]
    assert len(plain.rows) == len(partial.rows) == 8 * 4
    assert [r[:2] for r in plain.rows] == [r[:2] for r in partial.rows]  # the same pairs, in the same order
    for fig in result.figures:
        assert (out / fig.path).is_file()
        assert (out / fig.path).stat().st_size > 1000

    # the recorded config is the resolved one: every value filled in, none standing for "the default"
    expected = _resolved("--quick", "--out", str(out), "--seed", "3").to_dict()
    assert env.config == json.loads(json.dumps(expected))
    assert {k for k, v in env.config.items() if v is None} == {"olivetti", "cifar"}  # "not given"
    for table in result.tables:
        for r in table.rows:
            assert all(_numbers_or_intervals(cell) for cell in r), (table.title, r)
    settings = dict(tables["Settings"].rows)
    assert settings["population"] == 8
    assert settings["rates"] == "0.25, 0.5"  # a sequence as text of its exact values, never read as an interval
    assert settings.keys() == env.config.keys()
    assert all(_numbers_or_intervals(v) for v in result.metrics.values())
    # the raw values behind every summary are kept
    raw = result.raw
    assert raw["bootstrap"]["resamples"] == 200
    assert len(raw["members"]) == 8
    first = raw["members"][0]
    native = first["predictors"]["native"]
    assert native["rates"] == [0.25, 0.5]
    assert [len(passes) for passes in native["accuracies"]] == [3, 3]  # [rate][pass]
    assert row["AUC native"] == pytest.approx(
        _auc([0.25, 0.5], [sum(a) / len(a) for a in native["accuracies"]], native["clean_accuracy"]))
    assert len(first["targets"]["prune_oneshot"]["accuracies"]) == 4  # every sparsity of the quick grid
    assert len(first["targets"]["distillation"]["validation_accuracies"]) == 2
    assert len(raw["correlations"]) == 32
    assert len(raw["judgements"]) == 6


def _auc(rates: list[float], means: list[float], clean: float) -> float:
    """Trapezoidal area under accuracy/clean from rate 0 (ratio 1), over the span: an independent recomputation."""
    xs, ys = [0.0, *rates], [1.0, *(m / clean for m in means)]
    return sum((ys[i] + ys[i + 1]) / 2 * (xs[i + 1] - xs[i]) for i in range(len(xs) - 1)) / xs[-1]


def test_resolved_config_fills_every_default():
    full, quick = _resolved(), _resolved("--quick")
    for config in (full, quick):
        values = dataclasses.asdict(config)
        assert {k for k, v in values.items() if v is None} == {"olivetti", "cifar"}, values  # only "not given"
        json.dumps(config.to_dict())  # plain JSON, as recorded in result.json
    assert (full.population, full.passes, full.bootstrap_resamples) == (104, 6, 2000)
    assert (quick.population, quick.passes, quick.bootstrap_resamples) == (8, 3, 200)
    assert full.rates == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
    assert (full.mc_rate, quick.mc_rate) == (0.3, 0.25)  # the rate nearest 0.3
    assert quick.rates == (0.25, 0.5)
    assert full.datasets == ("digits", "breast_cancer")
    assert full.kd_temperatures == (1.0, 4.0)
    assert (full.min_effect, full.min_reliability, full.power) == (0.3, 0.5, 0.8)
    assert _resolved("--dataset", "Digits").datasets == ("digits",)
    assert {k: getattr(full, k) for k in FULL_SIZES} == FULL_SIZES
    assert {k: getattr(quick, k) for k in QUICK_SIZES} == QUICK_SIZES
    assert full.threads == 1  # this study's default (the common flag, with the study's default)
    assert _resolved("--threads", "2").threads == 2
    assert _resolved("--rates", "0.5,0.1,0.5").rates == (0.1, 0.5)  # sorted, de-duplicated
    assert _resolved("--kd-temperatures", "4,1,4").kd_temperatures == (1.0, 4.0)


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
    data = load_packaged("digits", 0)
    member = Member(index=0, dataset="digits", arch="mlp", width=32, label_noise=0.4, train_fraction=1.0,
                    weight_decay=0.0, dropout=0.0, train_steps=1, seed=11)
    x, y = training_subset(member, data)
    assert x.shape[0] == data.fit.size
    flipped = float((y != data.fit.y).float().mean())
    assert flipped == pytest.approx(0.4, abs=0.05)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rates", "0.2,1.0"], "--rates: 1.0 is outside [0, 1)"),
        (["--rates", "-0.1"], "outside [0, 1)"),
        (["--rates", "0.1,abc"], "'abc' is not a number"),
        (["--rates", "0"], "at least one rate must be > 0"),
        (["--population", "5"], "--population 5 is too small"),
        (["--dataset", "mnist"], "--dataset 'mnist' is unknown; choose 'digits', 'breast_cancer' or 'all'"),
        (["--passes", "1"], "--passes must be >= 2"),
        (["--kd-temperatures", "1,-2"], "--kd-temperatures: -2 is not a positive temperature"),
        (["--mc-rate", "0.4"], "--mc-rate 0.4 must be one of the positive --rates"),
        (["--min-effect", "1.5"], "--min-effect must be in (0, 1)"),
        (["--cifar", "/nonexistent/cifar"], "--cifar '/nonexistent/cifar': no such file or folder"),
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
