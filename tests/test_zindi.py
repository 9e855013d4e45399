"""The Zindi GODS CSV reader/writer: the real format, the packaged sample, and every bad input."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from dlplayground.data.zindi import (
    check_known_labels,
    check_trainable,
    join_text,
    read_zindi_csv,
    sample_paths,
    stratified_split,
    submission_text,
    write_submission,
)
from dlplayground.errors import UserInputError


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


TRAIN_HEADER = ["id", "title", "content", "target"]


def test_reads_train_and_joins_title_and_content(tmp_path: Path) -> None:
    path = _write(tmp_path / "Train.csv", TRAIN_HEADER, [
        ["a1", "Feeling low", "I cannot sleep.", "Depression"],
        ["a2", "Why?", "Drinking every night", "Alcohol"],
        ["a3", "", "only content", "Depression"],
        ["007", "only title", "", "Alcohol"],
    ])
    data = read_zindi_csv(path, labelled=True)
    assert data.ids == ("a1", "a2", "a3", "007")  # ids keep their spelling (no int conversion)
    assert data.texts == ("Feeling low. I cannot sleep.", "Why? Drinking every night", "only content", "only title")
    assert data.labels == ("Depression", "Alcohol", "Depression", "Alcohol")
    assert data.label_set == ("Alcohol", "Depression")
    assert data.class_counts() == {"Alcohol": 2, "Depression": 2}
    check_trainable(data)


def test_reads_test_file_without_target_and_ignores_extra_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "Test.csv", ["id", "title", "content", "extra"], [["t1", "x", "y", "z"]])
    data = read_zindi_csv(path, labelled=False)
    assert data.labels is None
    assert data.texts == ("x. y",)


def test_join_text_handles_empty_parts() -> None:
    assert join_text("  ", "  body ") == "body"
    assert join_text("Help!", "text") == "Help! text"


def test_packaged_sample_is_imbalanced_with_four_classes() -> None:
    train_path, test_path = sample_paths()
    train = read_zindi_csv(train_path, labelled=True)
    test = read_zindi_csv(test_path, labelled=False)
    assert len(train) == 400
    assert len(test) == 100
    counts = train.class_counts()
    assert len(counts) == 4
    assert sorted(counts.values()) == [40, 60, 120, 180]
    assert all(i.startswith("demo_") for i in train.ids + test.ids)  # marked as illustrative


@pytest.mark.parametrize(
    ("name", "content", "labelled", "message"),
    [
        ("missing.csv", None, True, "does not exist"),
        ("data.txt", "id,title,content,target\n1,a,b,c\n", True, "is not a .csv file"),
        ("empty.csv", "", True, "is empty"),
        ("header.csv", "id,title,content,target\n", True, "no data rows"),
        ("nocol.csv", "id,title,target\n1,a,x\n", True, "lacks column(s) 'content'"),
        ("notarget.csv", "id,title,content\n1,a,b\n", True, "lacks column(s) 'target'"),
        ("nan.csv", "id,title,content,target\n1,a,b,x\n2,c,d,\n", True, "missing target on line(s) 3"),
        ("noid.csv", "id,title,content\n,a,b\n", False, "empty id on line(s) 2"),
        ("dup.csv", "id,title,content\n1,a,b\n1,c,d\n", False, "duplicated id(s) '1'"),
        ("bad.csv", 'id,title,content\n1,"a,b\n', False, "is not a valid CSV"),
    ],
)
def test_reader_rejects_bad_input(tmp_path: Path, name: str, content: str | None, labelled: bool,
                                  message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        read_zindi_csv(path, labelled=labelled)
    assert str(path) in str(info.value)  # the message names the file


def test_reader_rejects_a_folder_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="is a folder"):
        read_zindi_csv(tmp_path, labelled=True)
    path = tmp_path / "latin.csv"
    path.write_bytes("id,title,content\n1,caf\xe9,x\n".encode("latin-1"))
    with pytest.raises(UserInputError, match="not UTF-8"):
        read_zindi_csv(path, labelled=False)


def test_single_class_training_data_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.csv", TRAIN_HEADER, [["1", "a", "b", "x"], ["2", "c", "d", "x"]])
    with pytest.raises(UserInputError, match="only one class"):
        check_trainable(read_zindi_csv(path, labelled=True))


def test_unknown_validation_label_is_named() -> None:
    check_known_labels(["a", "b"], ["a", "b", "c"], "validation CSV 'v.csv'")
    with pytest.raises(UserInputError, match="'zebra' that the training data does not contain"):
        check_known_labels(["a", "zebra"], ["a", "b"], "validation CSV 'v.csv'")


def test_stratified_split_keeps_priors_and_every_class_in_training() -> None:
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 1
    train, val = stratified_split(labels, 0.2, seed=3)
    assert sorted(train + val) == list(range(len(labels)))
    assert Counter(labels[i] for i in val) == {"a": 10, "b": 6, "c": 2}  # singleton 'd' stays in training
    assert Counter(labels[i] for i in train)["d"] == 1
    assert stratified_split(labels, 0.2, seed=3) == (train, val)  # seeded
    with pytest.raises(UserInputError, match="--val-fraction"):
        stratified_split(labels, 1.0, seed=0)


def test_stratified_split_refuses_what_cannot_keep_the_classes() -> None:
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 1
    # Too small to hold one example of each splittable class: scikit-learn's stratified split refuses.
    with pytest.raises(UserInputError, match="cannot make a stratified split of 91 rows"):
        stratified_split(labels, 0.02, seed=0)
    # So large that a small class would leave training entirely: refused, not trained without it.
    with pytest.raises(UserInputError, match="leaves no training example of 'c'"):
        stratified_split(labels, 0.99, seed=0)
    # Nothing rounds up to a validation example: everything stays in training.
    assert stratified_split(labels, 0.001, seed=0) == (list(range(len(labels))), [])


def test_submission_round_trips_atomically(tmp_path: Path) -> None:
    out = write_submission(tmp_path / "sub" / "submission.csv", ["x1", "x,2"], ["Depression", "Alcohol"])
    assert out.read_text(encoding="utf-8") == 'id,target\nx1,Depression\n"x,2",Alcohol\n'
    assert [p.name for p in out.parent.iterdir()] == ["submission.csv"]  # no temporary left behind
    with pytest.raises(ValueError, match="2 ids but 1 predictions"):
        submission_text(["a", "b"], ["c"])
