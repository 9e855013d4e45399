"""The record type and the JSON envelope: round trips, derived statistics, strict reading, atomic writes."""

from __future__ import annotations

import json

import pytest

from dlplayground.atomic import atomic_directory, atomic_write_text, ensure_writable_dir
from dlplayground.errors import UserInputError
from dlplayground.results import (
    SCHEMA_VERSION,
    EnvelopeError,
    Figure,
    StudyResult,
    Table,
    TimingRecord,
    make_envelope,
    read_envelope,
    write_envelope,
)


def record(**overrides) -> TimingRecord:
    base = dict(model="m", family="mlp", device="cpu", dtype="float32", batch_size=8, threads=2,
                warmup_calls=3, times_s=(0.004, 0.002, 0.003, 0.010, 0.001))
    return TimingRecord(**{**base, **overrides})


def test_statistics_are_derived_from_the_raw_samples():
    rec = record()
    assert rec.p50_ms == pytest.approx(3.0)
    assert rec.mean_ms == pytest.approx(4.0)
    assert rec.throughput_items_s == pytest.approx(8 / 0.003)
    assert rec.p50_ms <= rec.p90_ms <= rec.p99_ms <= 10.0


def test_record_round_trip_recomputes_rather_than_trusts_statistics():
    data = record().to_dict()
    data["p50_ms"] = 999.0  # a tampered derived field is ignored on reading
    back = TimingRecord.from_dict(data)
    assert back == record()
    assert back.p50_ms == pytest.approx(3.0)


@pytest.mark.parametrize(("field", "value"), [("batch_size", 0), ("times_s", ()), ("times_s", (1.0, float("nan")))])
def test_invalid_records_are_refused(field, value):
    with pytest.raises(ValueError):
        record(**{field: value})


def passed(**overrides) -> TimingRecord:
    """Three passes of two samples each (pass 1 slower)."""
    return record(times_s=(0.001, 0.003, 0.010, 0.012, 0.002, 0.004), pass_index=(0, 0, 1, 1, 2, 2), **overrides)


def test_samples_keep_their_pass():
    rec = passed(block_times_s=(0.0015, 0.0105, 0.0025))
    assert rec.passes == 3
    assert rec.pass_matrix.tolist() == [[0.001, 0.003], [0.010, 0.012], [0.002, 0.004]]
    assert rec.pass_medians_s == pytest.approx([0.002, 0.011, 0.003])
    assert rec.p50_ms == pytest.approx(3.5)  # pooled over all passes
    data = rec.to_dict()
    assert (data["passes"], data["pass_index"]) == (3, [0, 0, 1, 1, 2, 2])
    assert data["pass_medians_ms"] == pytest.approx([2.0, 11.0, 3.0])
    back = TimingRecord.from_dict(json.loads(json.dumps(data)))
    assert back == rec
    assert back.block_times_s == (0.0015, 0.0105, 0.0025)
    single = record()
    assert (single.passes, single.pass_matrix.shape) == (1, (1, 5))  # no pass index: one block


def test_passes_are_found_by_their_index_not_their_position():
    rec = record(times_s=(0.001, 0.010, 0.002, 0.011), pass_index=(0, 3, 0, 3))
    assert rec.pass_matrix.tolist() == [[0.001, 0.002], [0.010, 0.011]]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"pass_index": (0, 0, 1)}, "pass_index has 3 entries for 6 samples"),
    ({"pass_index": (0, 0, 0, 1, 1, 2)}, r"same number of samples, got \[3, 2, 1\]"),
    ({"pass_index": (0, 0, 1, 1, -1, -1)}, "pass_index must be >= 0"),
    ({"times_s": (0.001, 0.0, 0.01, 0.01, 0.002, 0.002)}, "finite and > 0 seconds"),
    ({"block_times_s": (0.001, 0.002)}, "block_times_s has 2 entries for 3 passes"),
    ({"block_times_s": (0.001, 0.0, 0.002)}, "block_times_s must be finite and > 0"),
])
def test_inconsistent_passes_are_refused(overrides, message):
    base = {"times_s": (0.001, 0.003, 0.010, 0.012, 0.002, 0.004), "pass_index": (0, 0, 1, 1, 2, 2)}
    with pytest.raises(ValueError, match=message):
        record(**{**base, **overrides})


def test_a_record_with_unequal_passes_in_a_file_names_the_file(tmp_path):
    data = passed().to_dict()
    data["pass_index"] = [0, 0, 0, 1, 1, 2]
    env = make_envelope(study="batch_size", environment={"device": "cpu"}, config={},
                        benchmarks=[{"name": "p", "extra_info": data}])
    path = write_envelope(tmp_path / "uneven.json", env)
    with pytest.raises(EnvelopeError, match=r"uneven.json.*benchmarks\[0\].*same number of samples"):
        read_envelope(path)


def test_schema_1_batch_size_files_are_refused_and_schema_1_studies_still_read(tmp_path):
    old = make_envelope(study="batch_size", environment={"device": "cpu"}, config={},
                        benchmarks=[{"name": "p", "extra_info": record().to_dict()}])
    old["dlplayground"]["schema"] = 1
    path = write_envelope(tmp_path / "old_bench.json", old)
    with pytest.raises(EnvelopeError, match="schema-1 batch-size file") as info:
        read_envelope(path)
    assert "old_bench.json" in str(info.value)
    assert "Re-run `dlplayground bench`" in str(info.value)
    study = make_envelope(study="demo", environment={"device": "cpu"}, config={"seed": 1},
                          result=StudyResult(study="demo", question="Q?", verdict="No.", data_source="synthetic"))
    assert study["dlplayground"]["schema"] == SCHEMA_VERSION == 2
    study["dlplayground"]["schema"] = 1
    parsed = read_envelope(write_envelope(tmp_path / "old_study.json", study))
    assert parsed.result.verdict == "No."


def test_experiment_envelope_round_trip(tmp_path):
    result = StudyResult(study="demo", question="Q?", verdict="No.", data_source="synthetic",
                         metrics={"auc": 0.9, "nan_metric": float("nan")},
                         tables=[Table("t", ["a", "b"], [[1, "x"]])], figures=[Figure("f", "f.png")])
    env = make_envelope(study="demo", environment={"device": "cpu"}, config={"seed": 1}, result=result)
    path = write_envelope(tmp_path / "result.json", env)
    parsed = read_envelope(path)
    assert parsed.study == "demo"
    assert parsed.result.verdict == "No."
    assert parsed.result.metrics["nan_metric"] is None  # strict JSON: NaN written as null
    assert parsed.result.tables[0].rows == [[1, "x"]]
    assert parsed.config == {"seed": 1}


def test_table_rows_must_match_columns():
    with pytest.raises(ValueError, match="row 0 has 1 cells, expected 2"):
        Table("t", ["a", "b"], [[1]])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", "is not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"benchmarks": []}', "no 'dlplayground' section"),
        ('{"dlplayground": {"study": "x", "schema": 99}}', "schema version 99"),
        ('{"dlplayground": {"study": "x", "schema": 1}, "benchmarks": [{"extra_info": {"times_s": []}}]}',
         r"benchmarks\[0\] is not a valid timing record"),
    ],
)
def test_reading_bad_files_names_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(EnvelopeError, match=message) as info:
        read_envelope(path)
    assert "bad.json" in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(EnvelopeError, match="does not exist"):
        read_envelope(tmp_path / "nope.json")


def test_atomic_directory_leaves_nothing_on_failure_and_replaces_on_success(tmp_path):
    final = tmp_path / "report"
    with atomic_directory(final) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (final / "a.txt").read_text() == "first"

    def fail_half_way() -> None:
        with atomic_directory(final) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_half_way()
    assert (final / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    with atomic_directory(final) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]


def test_atomic_write_text_and_unwritable_targets(tmp_path):
    target = atomic_write_text(tmp_path / "x.json", json.dumps({"a": 1}))
    assert json.loads(target.read_text()) == {"a": 1}
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserInputError, match="is a file, not a folder"):
        ensure_writable_dir(blocker)
    with pytest.raises(UserInputError, match="cannot be created"):
        ensure_writable_dir(blocker / "sub")
