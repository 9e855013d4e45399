"""The dropout-vs-compressibility study: a --quick run end to end, its population design, and bad input."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch

from dlplayground.results import read_envelope

ROOT = Path(__file__).resolve().parents[1]


def _load_experiment():
    """The study module (a package module: importable, no file-path loading)."""
    return importlib.import_module("dlplayground.studies.dropout.study")


@pytest.fixture(scope="module")
def exp():
    return _load_experiment()


@pytest.mark.slow
def test_quick_run_writes_a_complete_envelope(exp, tmp_path, capsys):
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
    assert env.config["torch_threads"] == 1  # the envelope records the count the run used
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


def test_population_design_balances_every_factor(exp):
    args = exp.build_parser().parse_args(["--population", "40"])
    settings = exp.settings_from_args(args)
    members = exp.design_population(settings, seed=0)
    assert len(members) == 40
    assert len({m.seed for m in members}) == 40
    for factor in ("dropout", "label_noise", "train_fraction", "weight_decay", "width", "train_steps"):
        levels = getattr(settings, factor)
        counts = [sum(getattr(m, factor) == level for m in members) for level in levels]
        assert max(counts) - min(counts) <= 1, factor  # each level used equally often, up to one
        assert sum(counts) == 40
    groups = [m.group for m in members]
    assert groups.count("digits-cnn") >= 8
    assert groups.count("breast_cancer-mlp") >= 8
    assert exp.design_population(settings, seed=0) == members  # reproducible
    assert exp.design_population(settings, seed=1) != members


def test_label_noise_flips_the_asked_fraction_to_other_classes(exp):
    data = exp.load_dataset("digits", 0)
    member = exp.Member(index=0, dataset="digits", arch="mlp", width=32, label_noise=0.4, train_fraction=1.0,
                        weight_decay=0.0, dropout=0.0, train_steps=1, seed=11)
    x, y = exp._training_subset(member, data)
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
    ],
)
def test_bad_input_is_one_clear_error_and_nothing_is_written(exp, tmp_path, capsys, flags, message):
    out = tmp_path / "run"
    code = exp.main(["--quick", "--out", str(out), *flags])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no half-written temporary folder either
