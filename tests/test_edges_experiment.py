"""experiments/edge_operators.py end to end (--quick) and its answers to bad input."""

from __future__ import annotations

import importlib

import joblib
import numpy as np
import pytest

from dlplayground.data.olivetti import CACHE_FILE
from dlplayground.results import read_envelope
from dlplayground.studies.edges.operators import operator_label


@pytest.fixture(scope="module")
def study():
    """The study module (a package module: importable, no file-path loading)."""
    return importlib.import_module("dlplayground.studies.edges.study")


@pytest.fixture
def no_default_olivetti(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn_home"))


def test_quick_run_writes_a_complete_envelope(study, tmp_path, no_default_olivetti, capsys):
    out = tmp_path / "run"
    assert study.main(["--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "offline fallback" in printed.err  # the fallback faces are announced
    env = read_envelope(out / "result.json")
    result = env.result
    assert env.study == "edge_operators"
    assert "offline fallback" in result.data_source
    assert "claim" in result.verdict
    assert result.metrics["conditions"] == 4
    assert result.metrics["face_data_fallback"] == 1
    assert 0 <= result.metrics["mean_ods_f_best_gradient"] <= 1
    titles = {t.title for t in result.tables}
    assert {"Gradient vs Laplacian per condition", "Winner per condition", "Face stability under noise",
            "Pratt's figure of merit (best scale, ODS threshold)", "Cross-checks against scikit-image"} <= titles
    checks = next(t for t in result.tables if t.title.startswith("Cross-checks"))
    assert checks.columns[2] == "pixels differing"
    assert checks.rows[0][2] == 0  # our Canny == skimage's
    assert checks.rows[0][3] > 0
    for fig in result.figures:
        assert (out / fig.path).is_file()
    assert len(result.figures) == 5
    # the recorded config is the resolved one: every value filled in (only the optional data path is None)
    assert env.config["quick"] is True
    assert env.config["bootstrap_resamples"] == 200
    assert env.config["workers"] == 1
    assert [k for k, v in env.config.items() if v is None] == ["olivetti"]


def test_result_keeps_raw_values_and_per_image_scores(study, tmp_path, no_default_olivetti):
    out = tmp_path / "run"
    assert study.main(["--quick", "--out", str(out), "--seed", "3"]) == 0
    env = read_envelope(out / "result.json")
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
    family = next(t for t in result.tables if t.title == "Gradient vs Laplacian per condition")
    column = family.columns.index("best gradient F")
    assert result.metrics["mean_ods_f_best_gradient"] == pytest.approx(np.mean([r[column] for r in family.rows]))
    low, high = family.rows[0][family.columns.index("95% CI")]
    assert low <= family.rows[0][family.columns.index("difference")] <= high
    # the raw record: bootstrap settings and the per-image values behind the tables
    raw = result.raw
    assert raw["bootstrap"]["synthetic"] == {"resamples": 200, "level": 0.95, "seed": 3}
    assert raw["bootstrap"]["faces"] == {"resamples": 200, "level": 0.95, "seed": 4}
    assert raw["bootstrap"]["unit"] == "image"
    assert len(raw["synthetic"]) == result.metrics["conditions"]
    scores = next(t for t in result.tables if t.title.startswith("ODS/OIS/FOM"))
    fom_col = scores.columns.index("FOM")
    first = raw["synthetic"][0]
    assert len(first["true_pixels"]) == 4
    for op, entry in first["operators"].items():
        assert len(entry["matched"]) == len(entry["detected"]) == len(entry["fom"]) == 4
        row = next(r for r in scores.rows if r[:4] == [first["kind"], first["blur_px"], first["noise"],
                                                       operator_label(op)])
        assert row[fom_col] == pytest.approx(np.mean(entry["fom"]))
        # pooled counts at the recorded threshold give the table's ODS precision
        assert row[scores.columns.index("ODS P")] == pytest.approx(sum(entry["matched"]) / sum(entry["detected"]))
    assert {len(f["agreement_f"]) for f in raw["faces"]} == {result.metrics["face_images"]}
    assert (out / "result.json").stat().st_size < 200_000


def test_resolve_fills_every_default(study):
    parser = study.build_parser()
    quick = study.resolve(parser.parse_args(["--quick"]))
    full = study.resolve(parser.parse_args([]))
    for config in (quick, full):
        assert [k for k, v in config.to_dict().items() if v is None] == ["olivetti"]
    assert (full.images_per_kind, full.bootstrap_resamples, full.sigmas_px) == (30, 1000, (0.0, 1.0, 2.0, 3.0))
    assert (quick.images_per_kind, quick.workers) == (4, 1)
    assert 1 <= full.workers <= 2
    overridden = study.resolve(parser.parse_args(["--quick", "--bootstrap", "300", "--noise-levels", "0.05",
                                                  "--threads", "1", "--workers", "2"]))
    assert (overridden.bootstrap_resamples, overridden.noise_levels, overridden.threads, overridden.workers) == (
        300, (0.05,), 1, 2)
    assert overridden.sigmas_px == quick.sigmas_px


def test_quick_run_reads_olivetti_from_a_given_path(study, tmp_path):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 255, size=(10, 4096)).astype(np.uint8)
    joblib.dump(faces, tmp_path / CACHE_FILE, compress=6)
    out = tmp_path / "run"
    assert study.main(["--quick", "--out", str(out), "--olivetti", str(tmp_path), "--face-images", "2",
                       "--images-per-kind", "2", "--noise-levels", "0.1", "--operators", "dog,log"]) == 0
    result = read_envelope(out / "result.json").result
    assert "Olivetti faces (10 images)" in result.data_source
    assert result.metrics["face_data_fallback"] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--olivetti", "/no/such/olivetti.pkz"], "no such file"),
        (["--operators", "sobel,prewitt"], "unknown operator 'prewitt'"),
        (["--noise-levels", "0,abc"], "comma-separated numbers"),
        (["--noise-levels", "0,nan"], "finite and >= 0"),
        (["--sigmas", "-1"], "finite and >= 0"),
        (["--sigmas", "0", "--operators", "log,dog"], "no operator is defined"),
        (["--images-per-kind", "0"], "--images-per-kind must be >= 2"),
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
    joblib.dump(np.zeros((0, 4096)), bad, compress=6)  # empty dataset
    assert study.main(["--quick", "--out", str(tmp_path / "o3"), "--olivetti", str(bad)]) == 2
    assert "n >= 1" in capsys.readouterr().err
    bad.write_text("not a pickle")
    assert study.main(["--quick", "--out", str(tmp_path / "o4"), "--olivetti", str(bad)]) == 2
    assert "not a joblib pickle" in capsys.readouterr().err
