"""The GODS Longformer study end to end: a 2-rank quick run, user CSVs + a local checkpoint, bad input."""

from __future__ import annotations

import csv
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dlplayground.data.zindi import read_zindi_csv, sample_paths
from dlplayground.results import read_envelope
from dlplayground.studies.gods import distributed
from dlplayground.studies.gods.longformer import QUICK_SPEC, build_scratch_model, train_tokenizer, wrap_tokenizer

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
    result = read_envelope(out / "result.json").result
    assert "Zindi GODS CSV" in result.data_source
    assert "offline" not in result.data_source
    settings = dict(next(t for t in result.tables if t.title == "Run settings").rows)
    assert settings["model"] == f"Longformer checkpoint {checkpoint}"
    assert settings["precision"] == "fp32"
    rows = list(csv.reader((out / "submission.csv").open(encoding="utf-8")))
    assert [r[0] for r in rows[1:]] == [f"ID_{i:05d}" for i in range(10)]


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
