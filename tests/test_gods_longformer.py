"""The GODS Longformer study end to end: a 2-rank quick run, user CSVs + a local checkpoint, bad input."""

from __future__ import annotations

import csv
import importlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from dlplayground.data.zindi import read_zindi_csv, sample_paths
from dlplayground.results import read_envelope
from dlplayground.studies.gods import distributed
from dlplayground.studies.gods.analysis import MAJORITY, TFIDF, ScoreSummary, best_strategy, longformer_name
from dlplayground.studies.gods.baselines import majority_predictions
from dlplayground.studies.gods.longformer import (
    QUICK_SPEC,
    ScratchSpec,
    build_scratch_model,
    train_tokenizer,
    wrap_tokenizer,
)
from dlplayground.studies.gods.metrics import classification_scores
from dlplayground.studies.gods.verdict import imbalance_verdict, is_clear_difference

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--quick", "--steps", "2", "--imbalance", "oversample"]


@pytest.fixture(scope="module")
def study() -> ModuleType:
    """The study module (a package module: importable, no file-path loading)."""
    return importlib.import_module("dlplayground.studies.gods.study")


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _small_corpus(tmp_path: Path) -> tuple[Path, Path]:
    """A user's competition-format files: 120 labelled rows (with Zindi-like ids) and 10 test rows."""
    sample = read_zindi_csv(sample_paths()[0], labelled=True)
    rows = [[f"ID_{i:05d}", text.split(". ", 1)[0], text.split(". ", 1)[-1], label]
            for i, (text, label) in enumerate(zip(sample.texts[:120], sample.labels or (), strict=False))]
    train = _write_csv(tmp_path / "Train.csv", ["id", "title", "content", "target"], rows)
    test = _write_csv(tmp_path / "Test.csv", ["id", "title", "content"], [r[:3] for r in rows[:10]])
    return train, test


@pytest.mark.distributed
def test_quick_run_on_two_gloo_ranks(tmp_path: Path) -> None:
    out = tmp_path / "quick"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "dlplayground.studies.gods.study",
         "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("results written to") == 1  # only rank 0 reports
    assert "illustrative" in proc.stderr  # the offline fallback is announced
    result = read_envelope(out / "result.json").result
    assert result is not None
    assert result.metrics["world_size"] == 2
    assert result.metrics["precision"] == "bf16"  # --precision auto on the CPU
    assert "illustrative" in result.data_source
    assert "offline fallback" in result.data_source
    for strategy in ("none", "weighted_loss", "oversample", "undersample"):
        assert 0.0 <= result.metrics[f"accuracy_{strategy}"] <= 1.0
    assert result.metrics["accuracy_majority"] == pytest.approx(36 / 80)  # 45 % prior, 80 validation posts
    assert result.metrics["accuracy_tfidf_logreg"] > 0.8
    titles = [t.title for t in result.tables]
    assert any(t.startswith("Class mix fed to training") for t in titles)
    mix = next(t for t in result.tables if t.title.startswith("Class mix"))
    oversampled = next(r for r in mix.rows if r[0] == "oversample")
    assert min(oversampled[1:]) > 0.1  # the 10 % class is drawn well above its prior
    submission = list(csv.reader((out / "submission.csv").open(encoding="utf-8")))
    assert submission[0] == ["id", "target"]
    assert [r[0] for r in submission[1:]] == list(read_zindi_csv(sample_paths()[1], labelled=False).ids)
    assert {r[1] for r in submission[1:]} <= {"alcohol", "anxiety", "depression", "drugs"}
    assert sorted(p.name for p in out.iterdir()) == [
        "confusion.png", "loss.png", "result.json", "scores.png", "submission.csv", "submission_tfidf_baseline.csv"]


@pytest.mark.distributed
def test_bad_input_under_torchrun_exits_non_zero_with_the_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "dlplayground.studies.gods.study",
         *FAST, "--train", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode != 0
    assert f"error: training CSV '{tmp_path / 'missing.csv'}' does not exist" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_user_csvs_and_a_local_checkpoint(study: ModuleType, tmp_path: Path) -> None:
    train, test = _small_corpus(tmp_path)
    checkpoint = tmp_path / "ckpt"
    texts = read_zindi_csv(train, labelled=True).texts
    tokenizer = wrap_tokenizer(train_tokenizer(texts, QUICK_SPEC.vocab_size), 64)
    build_scratch_model(QUICK_SPEC, tokenizer, ["x", "y"], 64).save_pretrained(checkpoint)  # other head size
    tokenizer.save_pretrained(checkpoint)
    out = tmp_path / "run"
    code = study.main([*FAST, "--train", str(train), "--test", str(test), "--model", str(checkpoint),
                       "--precision", "fp32", "--out", str(out)])
    assert code == 0
    envelope = read_envelope(out / "result.json")
    result = envelope.result
    assert "Zindi GODS CSV" in result.data_source
    assert "offline" not in result.data_source
    settings = dict(next(t for t in result.tables if t.title == "Run settings").rows)
    assert settings["model"] == f"Longformer checkpoint {checkpoint}"
    assert settings["precision"] == "fp32"
    rows = list(csv.reader((out / "submission.csv").open(encoding="utf-8")))
    assert [r[0] for r in rows[1:]] == [f"ID_{i:05d}" for i in range(10)]
    # The recorded config is the resolved one: a checkpoint's defaults, no scratch model, the given files.
    config = envelope.config
    assert config["checkpoint"] == {"name": str(checkpoint), "local": True, "allow_download": False}
    assert config["scratch"] is None
    assert config["dropout"] is None  # not given: the checkpoint keeps its own
    assert config["learning_rate"] == pytest.approx(3e-5)
    assert (config["train_csv"], config["test_csv"], config["val_csv"]) == (str(train), str(test), None)
    assert (config["steps"], config["batch_size"], config["repeats"], config["max_length"]) == (2, 8, 1, 64)
    assert config["strategies"] == ["oversample"]
    # Raw per-run values, unrounded, are what the tables show.
    (run,) = result.raw["runs"]
    per_run = next(t for t in result.tables if t.title == "Per-run scores")
    assert per_run.rows == [["oversample", 0, run["accuracy"], run["macro_f1"], run["losses"][-1], run["train_s"]]]
    assert len(run["losses"]) == 2
    assert sum(run["seen_per_class"]) == 2 * 8
    assert result.metrics["accuracy_oversample"] == run["accuracy"]


def test_quick_config_resolves_every_value(study: ModuleType, tmp_path: Path) -> None:
    config = study.resolve(study.build_parser().parse_args(["--quick", "--out", str(tmp_path)]))
    assert (config.steps, config.batch_size, config.repeats, config.max_length) == (8, 8, 1, 64)
    assert config.scratch == QUICK_SPEC
    assert config.dropout == QUICK_SPEC.dropout
    assert config.learning_rate == pytest.approx(1e-3)
    assert config.precision == "bf16"  # --precision auto, resolved for the CPU
    assert config.strategies == ("none", "weighted-loss", "oversample", "undersample")
    assert config.threads >= 1
    # None only where nothing was given: no data files (the packaged sample) and no checkpoint.
    unset = {name for name, value in config.to_dict().items() if value is None}
    assert unset == {"train_csv", "test_csv", "val_csv", "checkpoint"}


def test_full_config_defaults_and_overrides(study: ModuleType, tmp_path: Path) -> None:
    config = study.resolve(study.build_parser().parse_args(["--out", str(tmp_path)]))
    assert (config.steps, config.batch_size, config.repeats, config.max_length) == (300, 16, 3, 512)
    assert config.scratch == ScratchSpec()
    config = study.resolve(study.build_parser().parse_args(
        ["--quick", "--dropout", "0", "--steps", "5", "--imbalance", "undersample,none", "--precision", "fp32"]))
    assert config.scratch == replace(QUICK_SPEC, dropout=0.0)
    assert config.dropout == 0.0
    assert (config.steps, config.strategies, config.precision) == (5, ("undersample", "none"), "fp32")


def _expect_error(study: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    assert study.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def test_bad_training_files_are_refused(study: ModuleType, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    header = ["id", "title", "content", "target"]
    no_content = _write_csv(tmp_path / "nocontent.csv", ["id", "title", "target"], [["1", "a", "x"]])
    _expect_error(study, [*FAST, "--train", str(no_content)], capsys, "lacks column(s) 'content'")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    _expect_error(study, [*FAST, "--train", str(empty)], capsys, "is empty")
    one_class = _write_csv(tmp_path / "one.csv", header, [[str(i), "t", "c", "same"] for i in range(20)])
    _expect_error(study, [*FAST, "--train", str(one_class)], capsys, "only one class", "'same'")
    _expect_error(study, [*FAST, "--train", str(tmp_path / "nope.csv")], capsys, "does not exist")


def test_unknown_validation_label_is_named(study: ModuleType, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = _small_corpus(tmp_path)
    val = _write_csv(tmp_path / "val.csv", ["id", "title", "content", "target"],
                     [["v1", "a", "b", "depression"], ["v2", "c", "d", "insomnia"]])
    _expect_error(study, [*FAST, "--train", str(train), "--val", str(val)], capsys,
                  "validation CSV", "'insomnia'", "does not contain")


def test_bad_model_and_flags_are_refused(study: ModuleType, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _expect_error(study, [*FAST, "--model", str(tmp_path / "missing_ckpt")], capsys, "does not exist")
    _expect_error(study, [*FAST, "--model", str(tmp_path)], capsys, "no config.json")
    _expect_error(study, [*FAST, "--model", "nobody-xyz/not-a-model"], capsys, "--allow-download")
    _expect_error(study, [*FAST, "--precision", "fp16"], capsys, "not supported on cpu")
    _expect_error(study, [*FAST, "--test", str(tmp_path / "t.csv")], capsys, "need --train")
    _expect_error(study, [*FAST, "--batch-size", "0"], capsys, "--batch-size must be >= 1")
    _expect_error(study, [*FAST, "--batch-size", "400"], capsys, "exceeds the 320 examples")


def test_more_ranks_than_data_is_refused_before_any_collective(
    study: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As if torchrun had started 400 ranks: this is rank 0, and the check runs before init_process_group.
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "400")
    exits: list[int] = []
    monkeypatch.setattr(distributed, "_hard_exit", exits.append)  # a real rank would os._exit here
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda *a, **k: pytest.fail("group started"))
    _expect_error(study, [*FAST, "--batch-size", "400"], capsys, "400 ranks", "only 320 training examples")
    assert exits == [2]


def test_a_checkpoint_of_another_architecture_is_refused(study: ModuleType, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    _expect_error(study, [*FAST, "--model", str(tmp_path)], capsys, "is a 'bert' checkpoint", "needs a Longformer")


def test_scores_leave_recall_undefined_for_a_class_without_examples() -> None:
    scores = classification_scores([0, 0, 1, 2], [0, 1, 1, 0], ["a", "b", "c", "d"])
    assert scores.accuracy == 0.5
    assert scores.recall == (0.5, 1.0, 0.0, None)  # 'd' has no validation example: no recall, not 0
    assert scores.confusion[2] == (1, 0, 0, 0)
    # Macro-F1 over the classes seen in truth or prediction (a, b, c): 1/2, 2/3 and 0.
    assert scores.macro_f1 == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)


def test_majority_baseline_predicts_the_most_frequent_class() -> None:
    assert majority_predictions([2, 2, 1, 0], 3) == [2, 2, 2]
    assert majority_predictions([1, 1, 0, 0], 2) == [0, 0]  # a tie goes to the lower class index


def _summary(name: str, accuracy: float, macro_f1: float, sd: float = 0.0) -> ScoreSummary:
    return ScoreSummary(name=name, accuracy=accuracy, accuracy_sd=sd, macro_f1=macro_f1, macro_f1_sd=sd,
                        recall=(), train_s=None, runs=3)


def test_verdict_counts_a_difference_only_beyond_the_noise_threshold() -> None:
    # Threshold: max(2 * the larger seed sd, one validation example).
    assert is_clear_difference(0.03, 0.01, 0.0, n_val=100)
    assert not is_clear_difference(0.03, 0.02, 0.0, n_val=100)
    assert not is_clear_difference(0.01, 0.0, 0.0, n_val=80)
    summaries = {
        MAJORITY: _summary(MAJORITY, 0.45, 0.15), TFIDF: _summary(TFIDF, 0.90, 0.85),
        longformer_name("none"): _summary(longformer_name("none"), 0.95, 0.90, sd=0.01),
        longformer_name("oversample"): _summary(longformer_name("oversample"), 0.94, 0.905, sd=0.01),
    }
    best = best_strategy(summaries, ["none", "oversample"])
    assert best == "none"
    text = imbalance_verdict(summaries, ["none", "oversample"], best, repeats=3, n_val=80, illustrative=False)
    assert "The Longformer beats the TF-IDF baseline." in text
    assert "Macro-F1 against TF-IDF: +0.050 (beyond the noise threshold)" in text
    assert "oversample +0.005 (within noise)" in text
    assert "does NOT even beat predicting the majority class" not in text
    assert "Illustrative" not in text
