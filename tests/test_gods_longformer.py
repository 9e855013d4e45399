"""The GODS Longformer study end to end: the real-data path with a local checkpoint, a 2-rank run, bad input."""

from __future__ import annotations

import csv
import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import LongformerConfig, LongformerModel, PreTrainedTokenizerFast

from dlplayground.data.zindi import read_zindi_csv, sample_paths
from dlplayground.results import read_envelope
from dlplayground.studies.gods import distributed
from dlplayground.studies.gods.baselines import majority_predictions, tfidf_grid
from dlplayground.studies.gods.longformer import QUICK_SPEC, ScratchSpec
from dlplayground.studies.gods.metrics import classification_scores

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--quick", "--steps", "2", "--imbalance", "oversample", "--skip-efficiency"]
TRAIN_HEADER = ["id", "title", "content", "target"]


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


WORDS = {"sleep": "tired night awake bed dark heavy", "money": "rent bills debt job cost bank",
         "panic": "heart fast breath fear shaking sweat"}


def _tiny_competition_files(tmp_path: Path) -> tuple[Path, Path]:
    """Zindi-format files: 36 labelled posts over three classes, a third of them long, and 6 test posts."""
    rows = []
    for i in range(36):
        label = list(WORDS)[i % 3]
        words = WORDS[label].split()
        length = 40 if i % 3 == 0 else 2  # long posts run past the attention window (8 tokens), short ones fit
        content = " ".join(words[(i + j) % len(words)] for j in range(length))
        rows.append([f"ID_{i:04d}", f"post {i}", content, label])
    train = _write_csv(tmp_path / "Train.csv", TRAIN_HEADER, rows)
    test = _write_csv(tmp_path / "Test.csv", TRAIN_HEADER[:3], [[f"T_{i}", r[1], r[2]] for i, r in enumerate(rows[:6])])
    return train, test


def _tiny_checkpoint(folder: Path, texts: list[str]) -> Path:
    """A tiny Longformer and a word-level tokenizer, built offline and saved the way a pretrained one is."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = {token: i for i, token in enumerate(specials)}
    for word in sorted({w for t in texts for w in t.lower().replace(".", " ").split()}):
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0),
                                                                                                ("</s>", 2)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", pad_token="<pad>", eos_token="</s>",
                                        unk_token="<unk>", model_max_length=128)
    config = LongformerConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, attention_window=8, max_position_embeddings=128 + 2,
                              pad_token_id=1, bos_token_id=0, eos_token_id=2, sep_token_id=2, type_vocab_size=1)
    LongformerModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_real_data_path_writes_a_submission_and_paired_intervals(study: ModuleType, tmp_path: Path) -> None:
    train, test = _tiny_competition_files(tmp_path)
    texts = [t.lower() for t in read_zindi_csv(train, labelled=True).texts]
    checkpoint = _tiny_checkpoint(tmp_path / "ckpt", texts)
    out = tmp_path / "run"
    code = study.main(["--train", str(train), "--test", str(test), "--model", str(checkpoint), "--folds", "2",
                       "--repeats", "1", "--imbalance", "none,oversample", "--steps", "2", "--batch-size", "4",
                       "--resamples", "200", "--efficiency-steps", "2", "--out", str(out)])
    assert code == 0
    envelope = read_envelope(out / "result.json")
    result, config = envelope.result, envelope.config
    assert result.data_source.startswith("Zindi GODS CSV: train")
    assert "offline" not in result.data_source
    # The lengths come from the checkpoint: its position table (130 - pad 1 - 1) and its attention window.
    assert (config["context_window"], config["attention_window"]) == (128, 8)
    assert (config["full_length"], config["short_length"], config["folds"]) == (128, 8, 2)
    assert config["checkpoint"] == {"name": str(checkpoint), "local": True, "allow_download": False}
    assert config["learning_rate"] == pytest.approx(3e-5)
    # A valid submission: the test ids in order, each with a label of the training file.
    rows = list(csv.reader((out / "submission.csv").open(encoding="utf-8")))
    assert rows[0] == ["id", "target"]
    assert [r[0] for r in rows[1:]] == [f"T_{i}" for i in range(6)]
    assert {r[1] for r in rows[1:]} <= set(WORDS)
    # The comparison table: every pair with a paired interval around its estimate, the short twin included.
    diffs = next(t for t in result.tables if t.title.startswith("Paired differences"))
    pairs = {(r[0], r[1], r[2]) for r in diffs.rows}
    assert ("Longformer, full context (128 tokens)", "Longformer, first 8 tokens", "accuracy") in pairs
    assert ("Longformer, full context (128 tokens)", "TF-IDF + logistic regression", "macro-F1") in pairs
    for row in diffs.rows:
        low, high = row[4]
        assert low <= row[3] <= high
    assert [c["difference"]["level"] for c in result.raw["comparisons"]] == pytest.approx([1 - 0.05 / 5] * 5)
    assert "at 99.0 %, simultaneous over the 5 rows" in diffs.note  # five differences, simultaneous
    assert result.metrics["held_out_posts"] == 36  # every labelled post held out once
    assert result.metrics["share_posts_beyond_short"] == pytest.approx(12 / 36)
    # The precision/process table ran the checkpoint in fresh processes, one and two gloo ranks.
    table = next(t for t in result.tables if t.title.startswith("Mixed precision"))
    assert [r[1] for r in table.rows] == ["measured", "measured", "skipped", "measured", "measured", "skipped"]
    assert "Speed against fp32 in one process" in result.verdict
    # Read first: a two-sentence answer and 3-6 labelled key numbers; every metric labelled; tables fit a page.
    assert result.unlabelled_metrics() == []
    assert 3 <= sum(label.key for label in result.labels.values()) <= 6
    assert result.answer.count(". ") == 1  # two sentences
    assert result.answer.endswith(".")
    assert "fp32 in one process" in result.answer  # the precision/process table ran, so the answer reads it
    assert all(len(t.columns) <= 7 for t in result.tables), [t.title for t in result.tables if len(t.columns) > 7]
    assert len(result.raw["scored"]["ids"]) == 36
    assert result.figures[0].path == "differences.png"
    assert (out / "submission_tfidf_baseline.csv").is_file()


def test_a_labelled_holdout_file_is_the_one_held_out_set(study: ModuleType, tmp_path: Path) -> None:
    train, _ = _tiny_competition_files(tmp_path)
    rows = list(csv.reader(train.open(encoding="utf-8")))[1:]
    holdout = _write_csv(tmp_path / "Holdout.csv", TRAIN_HEADER, [[f"H_{i}", *r[1:]] for i, r in enumerate(rows[:9])])
    out = tmp_path / "run"
    code = study.main([*FAST, "--imbalance", "none", "--batch-size", "4", "--train", str(train), "--holdout",
                       str(holdout), "--out", str(out)])
    assert code == 0
    result = read_envelope(out / "result.json").result
    assert result.metrics["held_out_posts"] == 9
    assert result.metrics["folds"] == 1
    assert result.raw["scored"]["ids"] == [f"H_{i}" for i in range(9)]
    assert "Held out (9 held-out posts)" in result.verdict


@pytest.mark.distributed
def test_quick_run_on_two_gloo_ranks(tmp_path: Path) -> None:
    out = tmp_path / "quick"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "dlplayground.studies.gods.study", "--quick", "--skip-efficiency", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("results written to") == 1  # only rank 0 reports
    assert "NOT competition data" in proc.stderr  # the offline fallback is announced
    result = read_envelope(out / "result.json").result
    assert result.metrics["world_size"] == 2
    assert result.metrics["precision"] == "fp32"  # --precision auto on the CPU
    assert result.data_source.startswith("Illustrative corpus written for this project, NOT competition data")
    assert "offline fallback" in result.data_source
    assert result.metrics["accuracy_majority"] == pytest.approx(0.45)  # 45 % prior, all 400 posts held out once
    assert result.metrics["accuracy_tfidf_logreg"] > 0.8
    assert result.unlabelled_metrics() == []
    mix = next(t for t in result.tables if t.title.startswith("Class mix"))
    oversampled = [r[mix.columns.index("oversample")] for r in mix.rows]
    assert min(oversampled) > 0.15  # the 10 % class is drawn well above its prior
    submission = list(csv.reader((out / "submission.csv").open(encoding="utf-8")))
    assert submission[0] == ["id", "target"]
    assert [r[0] for r in submission[1:]] == list(read_zindi_csv(sample_paths()[1], labelled=False).ids)
    assert sorted(p.name for p in out.iterdir()) == [
        "confusion.png", "differences.png", "loss.png", "result.json", "submission.csv",
        "submission_tfidf_baseline.csv", "token_lengths.png"]


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


def test_quick_config_resolves_every_value(study: ModuleType, tmp_path: Path) -> None:
    config = study.resolve(study.build_parser().parse_args(["--quick", "--out", str(tmp_path)]))
    assert (config.steps, config.batch_size, config.repeats, config.folds) == (8, 8, 1, 2)
    assert config.scratch == QUICK_SPEC
    assert (config.context_window, config.attention_window) == (QUICK_SPEC.max_positions, QUICK_SPEC.attention_window)
    assert (config.full_length, config.short_length) == (64, 16)
    assert config.learning_rate == pytest.approx(3e-3)
    assert config.precision == "fp32"  # --precision auto, resolved for the CPU
    assert config.threads == 1  # this study's default, not torch's
    assert config.strategies == ("none", "weighted-loss", "oversample", "undersample")
    assert (config.resamples, config.efficiency, config.efficiency_steps) == (400, True, 4)
    # None only where nothing was given: no data files (the packaged sample) and no checkpoint.
    unset = {name for name, value in config.to_dict().items() if value is None}
    assert unset == {"train_csv", "test_csv", "holdout_csv", "checkpoint"}


def test_full_config_defaults_and_overrides(study: ModuleType, tmp_path: Path) -> None:
    config = study.resolve(study.build_parser().parse_args(["--out", str(tmp_path)]))
    assert (config.steps, config.batch_size, config.repeats, config.folds) == (150, 16, 2, 3)
    assert config.scratch == ScratchSpec()
    assert (config.full_length, config.short_length) == (512, 32)  # the scratch model's windows
    config = study.resolve(study.build_parser().parse_args(
        ["--quick", "--dropout", "0", "--steps", "5", "--imbalance", "undersample,none", "--precision", "bf16",
         "--max-length", "48", "--short-length", "12", "--threads", "2", "--folds", "4"]))
    assert config.scratch.dropout == 0.0
    assert (config.steps, config.strategies, config.precision) == (5, ("undersample", "none"), "bf16")
    assert (config.full_length, config.short_length, config.threads, config.folds) == (48, 12, 2, 4)
    assert len(tfidf_grid(len(config.strategies) * config.repeats)) == 2  # the same budget as the Longformer


def _expect_error(study: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    assert study.main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: ")  # progress lines may come first, the error last
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def test_bad_training_files_are_refused(study: ModuleType, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    no_content = _write_csv(tmp_path / "nocontent.csv", ["id", "title", "target"], [["1", "a", "x"]])
    _expect_error(study, [*FAST, "--train", str(no_content)], capsys, "lacks column(s) 'content'")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    _expect_error(study, [*FAST, "--train", str(empty)], capsys, "is empty")
    one_class = _write_csv(tmp_path / "one.csv", TRAIN_HEADER, [[str(i), "t", "c", "same"] for i in range(20)])
    _expect_error(study, [*FAST, "--train", str(one_class)], capsys, "only one class", "'same'")
    _expect_error(study, [*FAST, "--train", str(tmp_path / "nope.csv")], capsys, "does not exist")
    thin = _write_csv(tmp_path / "thin.csv", TRAIN_HEADER, [[str(i), "t", "c", "a" if i else "b"] for i in range(20)])
    _expect_error(study, [*FAST, "--train", str(thin)], capsys, "'b' have fewer than --folds 2", "--holdout")


def test_unknown_holdout_label_is_named(study: ModuleType, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = _tiny_competition_files(tmp_path)
    holdout = _write_csv(tmp_path / "holdout.csv", TRAIN_HEADER, [["v1", "a", "b", "sleep"], ["v2", "c", "d", "x"]])
    _expect_error(study, [*FAST, "--train", str(train), "--holdout", str(holdout)], capsys,
                  "holdout CSV", "'x'", "does not contain")


def test_bad_model_and_flags_are_refused(study: ModuleType, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _expect_error(study, [*FAST, "--model", str(tmp_path / "missing_ckpt")], capsys, "does not exist")
    _expect_error(study, [*FAST, "--model", str(tmp_path)], capsys, "no config.json")
    _expect_error(study, [*FAST, "--model", "nobody-xyz/not-a-model"], capsys, "--allow-download")
    _expect_error(study, [*FAST, "--precision", "fp16"], capsys, "not supported on cpu")
    _expect_error(study, [*FAST, "--test", str(tmp_path / "t.csv")], capsys, "need --train")
    _expect_error(study, [*FAST, "--batch-size", "0"], capsys, "--batch-size must be >= 1")
    _expect_error(study, [*FAST, "--batch-size", "400"], capsys, "exceeds the 150 posts one 'oversample' epoch")
    _expect_error(study, [*FAST, "--max-length", "65"], capsys, "exceeds the model's context window of 64 tokens")
    _expect_error(study, [*FAST, "--short-length", "64"], capsys, "--short-length 64 must be", "below the full")
    _expect_error(study, [*FAST, "--folds", "3", "--holdout", str(tmp_path / "h.csv")], capsys, "exclude each other")


def test_more_ranks_than_data_is_refused_before_any_collective(
    study: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As if torchrun had started 400 ranks: this is rank 0, and the check runs before init_process_group.
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "400")
    exits: list[int] = []
    monkeypatch.setattr(distributed, "_hard_exit", exits.append)  # a real rank would os._exit here
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda *a, **k: pytest.fail("group started"))
    _expect_error(study, [*FAST, "--batch-size", "400"], capsys, "400 ranks", "only 150 inner training posts")
    assert exits == [2]


def test_a_checkpoint_of_another_architecture_is_refused(study: ModuleType, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    _expect_error(study, [*FAST, "--model", str(tmp_path)], capsys, "is a 'bert' checkpoint", "needs a Longformer")


def test_a_checkpoint_missing_encoder_weights_is_refused(study: ModuleType, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = _tiny_competition_files(tmp_path)
    checkpoint = _tiny_checkpoint(tmp_path / "ckpt", [t.lower() for t in read_zindi_csv(train, labelled=True).texts])
    config = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    config["num_hidden_layers"] = 2  # the saved weights hold one layer: the second would start random
    config["attention_window"] = [8, 8]
    (checkpoint / "config.json").write_text(json.dumps(config), encoding="utf-8")
    capsys.readouterr()  # the progress bars of building the checkpoint
    _expect_error(study, [*FAST, "--imbalance", "none", "--batch-size", "4", "--train", str(train), "--model",
                          str(checkpoint)], capsys, "encoder weight(s) are missing from the checkpoint", "layer.1")


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


def test_tfidf_grid_crosses_regularisation_with_class_weights() -> None:
    grid = tfidf_grid(8)
    assert [s.class_weight for s in grid] == [None, "balanced"] * 4
    assert [s.c for s in grid[::2]] == pytest.approx([0.3, 1.393, 6.463, 30.0], rel=1e-3)
    assert [s.label for s in tfidf_grid(1)] == ["C=1, unweighted"]
    assert len(tfidf_grid(5)) == 5


def test_a_checkpoint_whose_attention_windows_do_not_match_its_layers_is_one_clear_error():
    from transformers import LongformerConfig

    from dlplayground.errors import UserInputError
    from dlplayground.studies.gods.longformer import _check_longformer

    config = LongformerConfig(num_hidden_layers=1, attention_window=[8, 8])
    with pytest.raises(UserInputError, match=r"attention_window lists 2 value\(s\) for 1 layer\(s\)"):
        _check_longformer(config, "ckpt")
    _check_longformer(LongformerConfig(num_hidden_layers=2, attention_window=[8, 8]), "ckpt")  # consistent: fine
