"""experiments/edge_operators.py end to end (--quick) and its answers to bad input."""

from __future__ import annotations

import importlib

import joblib
import numpy as np
import pytest

from dlplayground.data.olivetti import CACHE_FILE
from dlplayground.results import read_envelope


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
    assert checks.rows[0][2].startswith("0 of ")  # our Canny == skimage's
    for fig in result.figures:
        assert (out / fig.path).is_file()
    assert len(result.figures) == 5


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
