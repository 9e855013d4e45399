"""experiments/edge_operators.py end to end (--quick, with and without a BSDS folder) and its answers to bad input."""

from __future__ import annotations

import importlib
import re

import joblib
import numpy as np
import pytest

from dlplayground.data.olivetti import CACHE_FILE
from dlplayground.results import read_envelope
from dlplayground.studies.edges.operators import operator_label
from dlplayground.studies.edges.scenes import SCENE_KINDS
from dlplayground.studies.edges.scoring import heldout_f
from test_bsds import write_bsds_folder


@pytest.fixture(scope="module")
def study():
    """The study module (a package module: importable, no file-path loading)."""
    return importlib.import_module("dlplayground.studies.edges.study")


@pytest.fixture
def no_default_olivetti(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn_home"))


@pytest.fixture(scope="module")
def quick_run(study, tmp_path_factory):
    """One --quick run (seed 3) shared by the checks on its envelope."""
    home = tmp_path_factory.mktemp("sklearn_home")
    out = tmp_path_factory.mktemp("edges") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCIKIT_LEARN_DATA", str(home))
        assert study.main(["--quick", "--out", str(out), "--seed", "3"]) == 0
    return out, read_envelope(out / "result.json")


def _sentences(text):
    return len(re.findall(r"[.!?](?=\s|$)", text))


def check_labels_and_answer(result, key_numbers):
    """Every metric labelled, the given key numbers, a short answer, and tables that fit a page."""
    assert result.unlabelled_metrics() == []
    assert sorted(k for k, label in result.labels.items() if label.key) == sorted(key_numbers)
    assert 3 <= len(key_numbers) <= 6
    for key, label in result.labels.items():
        assert label.label
        assert label.label != key
        if label.ci:
            low, high = result.metrics[label.ci]
            assert low <= result.metrics[key] <= high
    assert result.answer.split(":")[0] in ("Yes", "No", "Yes, where the benchmark can tell",
                                            "No, where the benchmark can tell", "Not resolved", "Only in places",
                                            "Mostly yes")
    assert 1 <= _sentences(result.answer) <= 2
    assert len(result.answer) <= 300
    for table in result.tables:
        assert len(table.columns) <= 7, table.title
        assert all(len(c) <= 20 for c in table.columns), table.title
        for row in table.rows:
            assert all(len(cell) <= 40 for cell in row if isinstance(cell, str)), table.title


def test_quick_run_writes_a_complete_envelope(quick_run):
    out, env = quick_run
    result = env.result
    assert env.study == "edge_operators"
    assert "offline fallback" in result.data_source
    assert result.metrics["conditions_compared"] == 2 * len(SCENE_KINDS)  # every kind at noise 0 and 0.1
    assert result.raw["face_data_fallback"] is True
    assert sum(result.metrics[f"conditions_{k}"] for k in ("gradient_better", "laplacian_better", "unresolved")) == \
        result.metrics["conditions_compared"]
    assert "Holm-corrected" in result.verdict
    check_labels_and_answer(result, ["conditions_gradient_better", "conditions_laplacian_better",
                                     "conditions_unresolved", "median_heldout_f_difference",
                                     "face_agreement_difference"])
    low, high = result.metrics["face_agreement_difference_ci"]
    stability = {1: "the gradient's edge maps are the more stable under noise.",
                 -1: "the Laplacian's edge maps are the more stable under noise.",
                 0: "neither family's edge maps are resolved as the more stable under noise."}
    assert result.answer.endswith(" On real faces (lfw_subset) " + stability[(low > 0) - (high < 0)])
    # the lead figure is the example grid, then the per-condition paired difference
    assert [f.path for f in result.figures[:2]] == ["examples.png", "differences.png"]
    assert result.lead_figures == 2
    assert len(result.figures) == 6
    for fig in result.figures:
        assert (out / fig.path).is_file()
    # short tables first, the long per-condition ones last
    titles = [t.title for t in result.tables]
    assert titles[0] == "Gradient vs Laplacian per scene kind"
    assert titles[-8:] == ["Gradient vs Laplacian per condition (held-out, Holm-corrected)",
                           "Family members per condition", "Best operator per condition (held-out F)",
                           "Per operator: held-out F", "Per operator: ODS F, OIS F and AP",
                           "Per operator: precision, recall and FOM",
                           "Tuning images: ODS F per scale (Sobel + NMS, Scharr + NMS, DoG + NMS)",
                           "Tuning images: ODS F per scale (3x3 Laplacian ZC, LoG ZC, Canny (skimage))"]
    checks = next(t for t in result.tables if t.title.startswith("Cross-checks"))
    assert checks.columns[2] == "pixels differing"
    assert checks.rows[0][2] == 0  # our Canny == skimage's
    assert checks.rows[0][3] > 0
    # the recorded config is the resolved one: every value filled in (only the optional data paths are None)
    assert env.config["quick"] is True
    assert (env.config["bootstrap_resamples"], env.config["permutations"], env.config["workers"]) == (200, 500, 1)
    assert [k for k, v in env.config.items() if v is None] == ["olivetti", "bsds"]


def test_result_keeps_raw_values_and_per_image_counts(quick_run):
    out, env = quick_run
    result = env.result
    # no pre-formatted numbers: cells are numbers, labels, None or [low, high] intervals
    for table in result.tables:
        for row in table.rows:
            for cell in row:
                if isinstance(cell, str):
                    with pytest.raises(ValueError):
                        float(cell.split()[0].strip("+[],()"))
                elif isinstance(cell, list):
                    assert len(cell) == 2
                    assert all(isinstance(v, float) for v in cell)
    family = next(t for t in result.tables if t.title.startswith("Gradient vs Laplacian per condition"))
    members = next(t for t in result.tables if t.title == "Family members per condition")
    col = members.columns.index
    gradient_f = [r[col("held-out F")] for r in members.rows if r[col("family")] == "gradient"]
    laplacian_f = [r[col("held-out F")] for r in members.rows if r[col("family")] == "Laplacian"]
    assert result.metrics["mean_heldout_f_gradient"] == pytest.approx(np.mean(gradient_f))
    assert result.metrics["mean_heldout_f_laplacian"] == pytest.approx(np.mean(laplacian_f))
    col = family.columns.index
    assert [r[col("difference")] for r in family.rows] == pytest.approx(np.subtract(gradient_f, laplacian_f))
    for row, record in zip(family.rows, result.raw["conditions"], strict=True):
        low, high = row[col(family.columns[4])]
        assert low <= row[col("difference")] <= high
        assert row[col("Holm p")] == record["family"]["p_holm"] >= record["family"]["p"]
    raw = result.raw
    assert raw["bootstrap"]["synthetic"] == {"resamples": 200, "level": 0.95, "seed": 3, "permutations": 500}
    assert raw["bootstrap"]["faces"]["seed"] == 4
    assert raw["count_columns"] == ["matched_detected", "detected", "matched_true", "true"]
    assert len(raw["conditions"]) == result.metrics["conditions_compared"]
    scores = next(t for t in result.tables if t.title == "Per operator: held-out F")
    details = next(t for t in result.tables if t.title == "Per operator: precision, recall and FOM")
    first = raw["conditions"][0]
    assert len(first["true_pixels"]) == 4  # held-out images
    for op, entry in first["operators"].items():
        matched = entry.get("matched_true", entry["matched_detected"])  # one annotator: the same
        counts = np.column_stack([entry["matched_detected"], entry["detected"], matched, first["true_pixels"]])
        assert counts.shape == (4, 4)
        assert len(entry["fom"]) == 4
        key = [first["kind"], first["blur_px"], first["noise"], operator_label(op)]
        row = next(r for r in scores.rows if r[:4] == key)
        detail = next(r for r in details.rows if r[:4] == key)
        # the tables' held-out F and FOM are those of the recorded per-image values
        assert row[scores.columns.index("held-out F")] == pytest.approx(float(heldout_f(counts)))
        assert detail[details.columns.index("FOM")] == pytest.approx(np.mean(entry["fom"]))
        assert row[scores.columns.index("sigma (px)")] == entry["sigma_px"]
    assert first["family"]["p_holm"] >= first["family"]["p"]
    assert {len(f["agreement_f"]) for f in raw["faces"]} == {result.metrics["face_images"]}
    assert (out / "result.json").stat().st_size < 300_000


def test_the_same_seed_gives_the_same_result(study, quick_run, tmp_path, no_default_olivetti):
    _, first = quick_run
    out = tmp_path / "again"
    assert study.main(["--quick", "--out", str(out), "--seed", "3"]) == 0
    again = read_envelope(out / "result.json")
    assert again.result.verdict == first.result.verdict
    assert again.result.raw == first.result.raw


def test_quick_run_scores_a_bsds_folder(study, tmp_path, no_default_olivetti):
    write_bsds_folder(tmp_path / "bsds", per_split=3)
    out = tmp_path / "run"
    assert study.main(["--quick", "--out", str(out), "--scene-kinds", "shapes", "--bsds", str(tmp_path / "bsds"),
                       "--bsds-images", "2"]) == 0
    result = read_envelope(out / "result.json").result
    assert "BSDS500 from" in result.data_source
    assert "tuned on 2 val images, scored on 2 test images" in \
        result.data_source
    assert result.metrics["conditions_compared"] == 3  # shapes at two noise levels + BSDS
    check_labels_and_answer(result, ["conditions_gradient_better", "conditions_laplacian_better",
                                     "conditions_unresolved", "median_heldout_f_difference",
                                     "bsds_heldout_f_difference", "face_agreement_difference"])
    assert "On BSDS500 photographs the" in result.answer
    assert "On BSDS500 photographs (tuned on val, scored on test" in result.verdict
    family = next(t for t in result.tables if t.title.startswith("Gradient vs Laplacian per condition"))
    assert family.rows[-1][0] == "BSDS500"
    bsds = result.raw["conditions"][-1]
    assert bsds["kind"] == "BSDS500"
    assert bsds["true_pixels"] == [24 + (24 + 36 - 1)] * 2  # both annotators' boundary pixels, summed
    assert all(v is None for entry in bsds["operators"].values() for v in entry["fom"])  # FOM: one truth only
    assert all(len(entry["matched_true"]) == 2 for entry in bsds["operators"].values())  # two annotators


def test_resolve_fills_every_default(study):
    parser = study.build_parser()
    quick = study.resolve(parser.parse_args(["--quick"]))
    full = study.resolve(parser.parse_args([]))
    for config in (quick, full):
        assert [k for k, v in config.to_dict().items() if v is None] == ["olivetti", "bsds"]
    assert (full.score_images_per_kind, full.tune_images_per_kind, full.bootstrap_resamples) == (24, 8, 1000)
    assert full.scene_kinds == SCENE_KINDS
    assert full.blur_levels_px == (0.0, 1.0, 2.0)
    assert (quick.score_images_per_kind, quick.workers) == (4, 1)
    assert 1 <= full.workers <= 2
    overridden = study.resolve(parser.parse_args(["--quick", "--bootstrap", "300", "--noise-levels", "0.05",
                                                  "--threads", "1", "--workers", "2", "--scene-kinds", "roofs,lines",
                                                  "--tune-images", "5", "--permutations", "1000"]))
    assert (overridden.bootstrap_resamples, overridden.noise_levels, overridden.threads, overridden.workers) == (
        300, (0.05,), 1, 2)
    assert (overridden.scene_kinds, overridden.tune_images_per_kind, overridden.permutations) == (
        ("roofs", "lines"), 5, 1000)
    assert overridden.sigmas_px == quick.sigmas_px


def test_quick_run_reads_olivetti_from_a_given_path(study, tmp_path):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 255, size=(10, 4096)).astype(np.uint8)
    joblib.dump(faces, tmp_path / CACHE_FILE, compress=6)
    out = tmp_path / "run"
    assert study.main(["--quick", "--out", str(out), "--olivetti", str(tmp_path), "--face-images", "4",
                       "--images-per-kind", "2", "--tune-images", "1", "--noise-levels", "0.1",
                       "--operators", "dog,log", "--scene-kinds", "faces"]) == 0
    result = read_envelope(out / "result.json").result
    assert "Olivetti faces (10 images)" in result.data_source
    assert result.raw["face_data_fallback"] is False
    assert "On real faces (Olivetti" in result.verdict
    assert "On real faces (Olivetti)" in result.answer


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--olivetti", "/no/such/olivetti.pkz"], "no such file"),
        (["--bsds", "/no/such/bsds"], "--bsds '/no/such/bsds': no such folder"),
        (["--operators", "sobel,prewitt"], "unknown operator 'prewitt'"),
        (["--scene-kinds", "shapes,clouds"], "unknown scene kind 'clouds'"),
        (["--noise-levels", "0,abc"], "comma-separated numbers"),
        (["--noise-levels", "0,nan"], "finite and >= 0"),
        (["--sigmas", "-1"], "finite and >= 0"),
        (["--sigmas", "0", "--operators", "log,dog"], "no operator is defined"),
        (["--images-per-kind", "0"], "--images-per-kind must be >= 2"),
        (["--permutations", "10"], "--permutations must be >= 100"),
        (["--bsds-images", "0"], "--bsds-images must be >= 1"),
        (["--face-images", "1"], "--face-images must be >= 2"),
        (["--tolerance-px", "-2"], "--tolerance-px"),
        (["--face-edge-density", "0.9"], "--face-edge-density"),
    ],
)
def test_bad_input_exits_2_with_one_line(study, tmp_path, no_default_olivetti, capsys, argv, message):
    code = study.main(["--quick", "--out", str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_bad_olivetti_files_exit_2(study, tmp_path, capsys):
    bad = tmp_path / CACHE_FILE
    joblib.dump(np.full((3, 4096), np.nan), bad, compress=6)  # NaNs
    assert study.main(["--quick", "--out", str(tmp_path / "o1"), "--olivetti", str(bad)]) == 2
    assert "NaN" in capsys.readouterr().err
    joblib.dump(np.zeros((3, 3, 3)), bad, compress=6)  # wrong dims: not images of 64x64
    assert study.main(["--quick", "--out", str(tmp_path / "o2"), "--olivetti", str(bad)]) == 2
    assert "shape" in capsys.readouterr().err
    bad.write_text("not a pickle")
    assert study.main(["--quick", "--out", str(tmp_path / "o4"), "--olivetti", str(bad)]) == 2
    assert "not a joblib pickle" in capsys.readouterr().err


def test_bad_bsds_folder_exits_2_before_any_work(study, tmp_path, no_default_olivetti, capsys):
    data = write_bsds_folder(tmp_path / "bsds", per_split=1)
    (data / "groundTruth" / "test" / "100t.mat").unlink()
    assert study.main(["--quick", "--out", str(tmp_path / "o"), "--bsds", str(tmp_path / "bsds")]) == 2
    err = capsys.readouterr().err
    assert "no ground truth" in err
    assert "100t.mat" in err
    assert "synthetic benchmark" not in err  # refused before the long work
