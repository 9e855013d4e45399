"""Eigenfaces study: the explained-variance rule, the analysis pieces on known answers, end-to-end runs.

The end-to-end ``--quick`` run uses the default (offline) data with the default seed, so its envelope
carries the figures the issue asks for: the classifier's test ROC-AUC against the shortcut baseline's.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image
from sklearn.decomposition import PCA

from dlplayground.results import read_envelope
from dlplayground.studies.eigenfaces.classifiers import pca_logistic
from dlplayground.studies.eigenfaces.config import EigenfacesConfig, SearchGrids
from dlplayground.studies.eigenfaces.evaluation import auc_intervals, rank_auc
from dlplayground.studies.eigenfaces.face_space import DistanceFromFaceSpace, balanced_accuracy_threshold
from dlplayground.studies.eigenfaces.images import standardise_images
from dlplayground.studies.eigenfaces.matching import match_statistics
from dlplayground.studies.eigenfaces.shortcut import SHORTCUT_FEATURES, shortcut_features
from dlplayground.studies.eigenfaces.tables import SWEEP_TITLE
from dlplayground.studies.eigenfaces.variance import max_components_in_cv, n_components_for_variance, variance_curve

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study() -> ModuleType:
    """The study module (a package module: importable, no file-path loading)."""
    return importlib.import_module("dlplayground.studies.eigenfaces.study")


@pytest.fixture(scope="module")
def quick_run(study: ModuleType, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("eigenfaces") / "quick"
    code = study.main(["--quick", "--out", str(out)])
    return code, out


# ----------------------------------------------------------------------------- explained-variance rule
def _spectrum(ratios: list[float], n: int = 40, dims: int = 10) -> np.ndarray:
    """``n`` points in ``dims`` dimensions whose PCA explained-variance ratios are exactly ``ratios``."""
    rng = np.random.default_rng(5)
    centred = rng.normal(size=(n, dims))
    centred -= centred.mean(axis=0)
    basis = np.linalg.qr(centred)[0][:, :len(ratios)]  # orthonormal, centred columns
    return basis * np.sqrt(ratios) @ np.linalg.qr(rng.normal(size=(dims, dims)))[0][:len(ratios)]


@pytest.mark.parametrize(
    ("target", "expected"), [(0.49, 1), (0.79, 2), (0.81, 3), (0.94, 3), (0.96, 4), (1.0, 4)],
)
def test_n_components_for_variance_known_answers(target: float, expected: int) -> None:
    X = _spectrum([0.5, 0.3, 0.15, 0.05])
    np.testing.assert_allclose(PCA().fit(X).explained_variance_ratio_[:4], [0.5, 0.3, 0.15, 0.05])
    # 1.0 keeps the 4 real components, not the 6 more that only carry floating-point round-off
    assert n_components_for_variance(X, target) == expected


def test_n_components_for_variance_rejects_bad_targets() -> None:
    X = _spectrum([1.0])
    with pytest.raises(ValueError, match="target"):
        n_components_for_variance(X, 0.0)
    with pytest.raises(ValueError, match="target"):
        n_components_for_variance(X, 1.5)


def test_pca_component_count_matches_the_explained_variance_rule() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 40)) * np.linspace(5, 0.1, 40)  # decaying spectrum
    for target in (0.5, 0.8, 0.9, 0.95, 0.99):
        curve = variance_curve(X, target)
        # independent answer from the singular values of the centred data
        s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
        cumulative = np.cumsum(s**2) / np.sum(s**2)
        k = curve.n_components
        assert cumulative[k - 1] >= target - 1e-12
        assert k == 1 or cumulative[k - 2] < target
        np.testing.assert_allclose(curve.cumulative, cumulative[:len(curve.ratios)])
        assert k == PCA(n_components=target, svd_solver="full").fit(X).n_components_  # scikit-learn agrees
    # and the fitted classifier pipeline keeps exactly the rule's k components
    k = variance_curve(X, 0.9).n_components
    y = (X[:, 0] > 0).astype(int)
    search = pca_logistic(k, SearchGrids.quick(), seed=0).fit(X, y)
    assert search.best_estimator_.named_steps["pca"].n_components_ == k


def test_component_cap_fits_every_cv_fold() -> None:
    assert max_components_in_cv(225, 576, 3) == 148  # 225 - 75 - 2
    assert max_components_in_cv(1000, 64, 5) == 64


# ------------------------------------------------------------------------------------- analysis parts
def test_standardise_images() -> None:
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(5, 6, 6))
    images[4] = 0.3  # flat: floored, not divided by zero
    X = standardise_images(images)
    assert X.shape == (5, 36)
    np.testing.assert_allclose(X.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(X[:4].std(axis=1), 1.0)
    np.testing.assert_allclose(X[4], 0.0, atol=1e-12)


def test_shortcut_features_known_values() -> None:
    flat = np.full((1, 8, 8), 0.5)
    checker = (np.indices((8, 8)).sum(axis=0) % 2).astype(float)[None]
    feats = dict(zip(SHORTCUT_FEATURES, shortcut_features(np.concatenate([flat, checker])).T, strict=True))
    assert feats["mean"].tolist() == pytest.approx([0.5, 0.5])
    assert feats["std"].tolist() == pytest.approx([0.0, 0.5])
    assert feats["sharpness"].tolist() == pytest.approx([0.0, 1.0])
    assert feats["entropy"].tolist() == pytest.approx([0.0, 1.0])
    assert feats["dark_fraction"].tolist() == pytest.approx([0.0, 0.5])
    assert feats["bright_fraction"].tolist() == pytest.approx([0.0, 0.5])


def test_matching_picks_candidates_that_look_like_faces() -> None:
    rng = np.random.default_rng(2)
    faces = rng.normal(0, 1, size=(50, 3))
    near = rng.normal(0, 1, size=(200, 3))
    far = rng.normal(6, 1, size=(200, 3))
    chosen = match_statistics(faces, np.concatenate([near, far]), 100, rng)
    assert len(chosen) == len(set(chosen.tolist())) == 100
    assert np.mean(chosen < 200) > 0.95
    assert match_statistics(faces, near[:30], 100, rng).tolist() == list(range(30))  # too few: all


def test_distance_from_face_space_separates_a_subspace() -> None:
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(50, 5)))[0].T  # faces live in a 5-D subspace of R^50
    faces = rng.normal(size=(80, 5)) @ basis * 3 + rng.normal(0, 0.05, size=(80, 50))
    others = rng.normal(size=(80, 50))
    X = np.concatenate([faces, others])
    y = np.concatenate([np.ones(80, int), np.zeros(80, int)])
    model = DistanceFromFaceSpace(target=0.95, seed=0).fit(X, y)
    assert model.curve.n_components <= 6
    assert model.predict(X).tolist() == y.tolist()


def test_balanced_accuracy_threshold_matches_a_scan_of_every_threshold() -> None:
    rng = np.random.default_rng(6)
    for trial in range(20):
        labels = rng.integers(0, 2, size=40)
        labels[:2] = (0, 1)
        scores = np.round(rng.normal(size=40) + labels * trial / 10, 1)  # rounded: many ties
        best, best_t = -1.0, None
        for t in np.unique(scores):  # ascending: the lowest of equally good thresholds wins
            pred = scores >= t
            bacc = 0.5 * (pred[labels == 1].mean() + (~pred[labels == 0]).mean())
            if bacc > best + 1e-12:
                best, best_t = bacc, float(t)
        assert balanced_accuracy_threshold(labels, scores) == best_t


def test_rank_auc_is_roc_auc_row_by_row() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    faces, nonfaces = np.round(rng.normal(1, 1, (5, 12)), 1), np.round(rng.normal(0, 1, (5, 20)), 1)
    labels = np.r_[np.ones(12), np.zeros(20)]
    expected = [roc_auc_score(labels, np.r_[f, n]) for f, n in zip(faces, nonfaces, strict=True)]
    np.testing.assert_allclose(rank_auc(faces, nonfaces), expected)


def test_auc_intervals_known_answers() -> None:
    y = np.array([1] * 10 + [0] * 20)
    perfect = np.arange(30)[::-1].astype(float)
    boot = auc_intervals(y, {"a": perfect, "b": perfect.copy()}, ("a", "b"), resamples=300, level=0.95, seed=0)
    assert (boot.per_method["a"].low, boot.per_method["a"].high) == (1.0, 1.0)
    assert (boot.gain.estimate, boot.gain.low, boot.gain.high) == (0.0, 0.0, 0.0)
    chance = np.zeros(30)
    boot = auc_intervals(y, {"a": perfect, "c": chance}, ("a", "c"), resamples=300, level=0.95, seed=0)
    assert (boot.per_method["c"].low, boot.per_method["c"].high) == (0.5, 0.5)  # all ties
    assert boot.gain.estimate == pytest.approx(0.5)
    assert boot.settings()["resamples"] == 300


def test_auc_intervals_resample_each_class_and_pair_the_gain() -> None:
    rng = np.random.default_rng(8)
    y = np.array([1] * 15 + [0] * 30)
    a = rng.normal(size=45) + y
    b = a + rng.normal(0, 0.3, size=45)  # correlated with a: the paired gain is much tighter than either AUC
    boot = auc_intervals(y, {"a": a, "b": b}, ("a", "b"), resamples=500, level=0.9, seed=3)
    gain = boot.per_method["a"].distribution - boot.per_method["b"].distribution
    np.testing.assert_allclose(boot.gain.distribution, gain)  # same resamples for every method and the gain
    assert boot.gain.level == 0.9
    assert boot.gain.high - boot.gain.low < boot.per_method["a"].high - boot.per_method["a"].low


# --------------------------------------------------------------------------------------- end to end
def test_quick_run_classifier_beats_the_shortcut_on_default_data(quick_run) -> None:
    code, out = quick_run
    assert code == 0
    result = read_envelope(out / "result.json").result
    m = result.metrics
    assert m["n_faces"] == 100
    assert m["n_nonfaces"] == 200
    assert "offline fallback" in result.data_source
    assert m["nonfaces_matched"] == "yes"
    # the explained-variance rule picked k, and the PCA kept that many
    assert m["n_components"] == m["n_components_rule"]
    assert m["explained_variance_at_k"] >= m["variance_target"]
    sweep = next(t for t in result.tables if t.title == SWEEP_TITLE)
    assert [row[1] for row in sweep.rows if row[0] == m["variance_target"]] == [m["n_components"]]
    # the "done when": the classifier beats the shortcut baseline, with the paired CI above 0
    assert m["classifier_roc_auc"] > m["shortcut_roc_auc"]
    assert m["auc_gain_ci"][0] > 0
    assert m["classifier_roc_auc"] > 0.95
    # before matching, trivial statistics alone separate the offline sources: the confound is real
    assert m["unmatched_pool_shortcut_cv_roc_auc"] > 0.9
    assert result.verdict.startswith("Yes")
    for figure in result.figures:
        assert (out / figure.path).is_file()
    assert {f.path for f in result.figures} >= {"eigenfaces.png", "explained_variance.png", "roc.png", "errors.png"}


def test_quick_run_records_raw_values_and_the_resolved_config(quick_run) -> None:
    code, out = quick_run
    assert code == 0
    envelope = read_envelope(out / "result.json")
    result, m = envelope.result, envelope.result.metrics
    # raw numbers, intervals as [low, high] pairs of numbers, never text
    methods = result.tables[0]
    assert methods.columns[1:10] == ["ROC-AUC", "95% CI", "PR-AUC", "balanced acc.", "TN", "FP", "FN", "TP",
                                     "CV ROC-AUC"]
    for row in methods.rows:
        assert all(isinstance(v, int | float) for v in row[1:2] + row[3:9])
        assert len(row[2]) == 2
        assert all(isinstance(v, float) for v in row[2])
        assert row[9] is None or isinstance(row[9], float)
    params = next(t for t in result.tables if t.title == "Chosen hyper-parameters")
    assert all(isinstance(row[2], int | float) for row in params.rows)
    assert m["classifier_roc_auc_ci"][0] <= m["classifier_roc_auc"] <= m["classifier_roc_auc_ci"][1]
    assert m["auc_gain_ci"][0] <= m["auc_gain_over_shortcut"] <= m["auc_gain_ci"][1]
    raw = result.raw
    assert raw["bootstrap"]["resamples"] == 200
    assert raw["bootstrap"]["level"] == 0.95
    assert isinstance(raw["bootstrap"]["seed"], int)
    assert raw["bootstrap"]["gain"]["low"] == m["auc_gain_ci"][0]
    test = raw["test_images"]
    assert len(test["label"]) == len(test["origin"]) == m["n_test"]
    assert set(test["scores"]) == {row[0] for row in result.tables[0].rows}
    assert all(len(scores) == m["n_test"] for scores in test["scores"].values())
    assert len(raw["cv"]["methods"]["PCA + SVC"]["fold_roc_auc"]) == raw["cv"]["folds"] == 3
    assert len(raw["explained_variance"]["ratios_all_training_images"]) >= m["n_components"]
    assert len(raw["unmatched_pool_shortcut"]["fold_roc_auc"]) == 3
    # the resolved config is what was recorded: every --quick default filled in, None only for absent paths
    config = envelope.config
    assert config["search"] == {"folds": 3, "logistic_C": [0.1, 1.0], "svc_C": [1.0, 10.0],
                                "svc_gamma_scale": [1.0], "forest_trees": 50}
    assert config["bootstrap_resamples"] == 200
    assert config["variance"] in config["sweep_targets"]
    assert {key for key, value in config.items() if value is None} == {"faces", "olivetti", "cifar"}
    assert config["threads"] >= 1


def test_resolve_fills_every_default(study: ModuleType, tmp_path: Path) -> None:
    parser = study.build_parser()
    quick = study.resolve(parser.parse_args(["--quick", "--out", str(tmp_path)]))
    full = study.resolve(parser.parse_args(["--variance", "0.93", "--faces", str(tmp_path), "--threads", "1"]))
    assert isinstance(quick, EigenfacesConfig)
    assert quick.search == SearchGrids.quick()
    assert full.search == SearchGrids()
    assert (quick.bootstrap_resamples, full.bootstrap_resamples) == (200, 2000)
    assert full.sweep_targets == tuple(sorted(full.sweep_targets))
    assert 0.93 in full.sweep_targets
    assert full.faces == tmp_path
    assert full.threads == 1
    for config in (quick, full):
        unset = {name for name, value in vars(config).items() if value is None}
        assert unset <= {"faces", "olivetti", "cifar"}


def _write_cifar(folder: Path, n: int) -> None:
    """A CIFAR-10 batch (bytes keys, uint8 rows of 3072) of smooth random colour fields."""
    import pickle

    from skimage.transform import resize

    rng = np.random.default_rng(7)
    small = rng.uniform(size=(n, 4, 4, 3))
    images = np.stack([resize(img, (32, 32, 3), order=1) for img in small])
    data = (images.transpose(0, 3, 1, 2).reshape(n, 3072) * 255).astype(np.uint8)
    folder.mkdir()
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": [i % 10 for i in range(n)], b"data": data}
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=4))


def test_quick_run_on_user_folders(study: ModuleType, tmp_path: Path) -> None:
    """--faces (a Kaggle-style folder) with --cifar non-faces, end to end on tiny real-format inputs."""
    faces = tmp_path / "faces"
    faces.mkdir()
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:40, :32]
    for i in range(16):
        face = 0.4 + 0.3 * np.exp(-(((xx - 16) / 9) ** 2 + ((yy - 20) / 12) ** 2)) + rng.normal(0, 0.03, (40, 32))
        face[14:17, 9:13] = face[14:17, 19:23] = 0.1  # two dark "eyes"
        mode = "L" if i % 2 else "RGB"
        Image.fromarray((np.clip(face, 0, 1) * 255).astype(np.uint8)).convert(mode).save(faces / f"{i}.png")
    _write_cifar(tmp_path / "cifar", 200)
    out = tmp_path / "out"
    code = study.main(["--quick", "--faces", str(faces), "--cifar", str(tmp_path / "cifar"), "--image-size", "12",
                       "--out", str(out)])
    assert code == 0
    result = read_envelope(out / "result.json").result
    assert result.metrics["n_faces"] == 16
    assert result.metrics["n_nonfaces"] == 32
    assert "offline fallback" not in result.data_source
    assert "CIFAR-10" in result.data_source


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--variance", "1.5"], "--variance must be in (0, 1]"),
        (["--image-size", "4"], "--image-size must be between 8 and 128"),
        (["--cifar", "/no/such/cifar"], "--cifar '/no/such/cifar': no such file or folder"),
        (["--faces", "/no/such/faces"], "--faces '/no/such/faces': no such file or folder"),
        (["--olivetti", "/no/such/olivetti_py3.pkz"], "--olivetti '/no/such/olivetti_py3.pkz'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(study: ModuleType, tmp_path: Path, capsys, argv, message) -> None:
    code = study.main([*argv, "--quick", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {message}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_malicious_cifar_is_refused_through_the_cli(study: ModuleType, tmp_path: Path, capsys) -> None:
    import os
    import pickle

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    cifar = tmp_path / "cifar"
    cifar.mkdir()
    (cifar / "data_batch_1").write_bytes(pickle.dumps(Payload(), protocol=2))
    code = study.main(["--quick", "--cifar", str(cifar), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "data_batch_1" in err
    assert "refused" in err
    assert not marker.exists()


def test_empty_face_class_exits_2(study: ModuleType, tmp_path: Path, capsys) -> None:
    (tmp_path / "data" / "non_face").mkdir(parents=True)
    Image.new("L", (8, 8), 3).save(tmp_path / "data" / "non_face" / "a.png")
    code = study.main(["--quick", "--faces", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "face class is empty" in capsys.readouterr().err


def test_too_few_faces_exits_2(study: ModuleType, tmp_path: Path, capsys) -> None:
    (tmp_path / "few").mkdir()
    for i in range(3):
        Image.new("L", (8, 8), 30 * i).save(tmp_path / "few" / f"{i}.png")
    code = study.main(["--quick", "--faces", str(tmp_path / "few"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "only 3 face images" in capsys.readouterr().err
