"""Eigenfaces study end to end: the --quick run on the offline default (lead figure, labelled metrics, tables that
fit a page, raw values, and an answer and verdict that re-derive from them), user folders, Olivetti subject groups,
and bad input.

The parts are tested on known answers in ``test_eigenfaces_parts.py``; the verdict rule and the synthetic
source-artefact pools in ``test_eigenfaces_verdict.py``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from dlplayground.data.nonfaces import LFW_BACKGROUNDS, SAMPLE_PATCHES, SHIFTED_CROPS
from dlplayground.results import read_envelope
from dlplayground.studies.eigenfaces.classifiers import EIGENFACES, RAW_PIXELS, SHORTCUT
from dlplayground.studies.eigenfaces.config import EigenfacesConfig, SearchGrids
from dlplayground.studies.eigenfaces.evaluation import TransferSummary, spread, summarise_method
from dlplayground.studies.eigenfaces.images import FACES
from dlplayground.studies.eigenfaces.tables import BASELINES_TITLE, PER_SOURCE_TITLE, SWEEP_TITLE, TRANSFER_TITLE
from dlplayground.studies.eigenfaces.transfer import ALL_SOURCES
from dlplayground.studies.eigenfaces.verdict import eigenfaces_verdict, short_answer

MAX_COLUMNS = 7
"""A table fits the report's ~1100 px page."""


@pytest.fixture(scope="module")
def study() -> ModuleType:
    """The study module (a package module: importable, no file-path loading)."""
    return importlib.import_module("dlplayground.studies.eigenfaces.study")


@pytest.fixture(scope="module")
def quick_run(study: ModuleType, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("eigenfaces") / "quick"
    code = study.main(["--quick", "--out", str(out)])
    return code, out


# --------------------------------------------------------------------------------------- end to end
def test_quick_run_leads_with_the_transfer_matrix(quick_run) -> None:
    code, out = quick_run
    assert code == 0
    result = read_envelope(out / "result.json").result
    m = result.metrics
    assert "offline fallback" in result.data_source
    assert m["n_faces"] == 100
    assert result.raw["negative_sources"] == [LFW_BACKGROUNDS, SAMPLE_PATCHES, SHIFTED_CROPS]
    assert m["outer_folds"] == 6
    assert m["faces_grouped_by"] == "image"  # lfw_subset ships no identities
    assert result.raw["answer"] in {"faces", "source", "neither", "unresolved"}
    # the report leads with the per-source AUC and the leave-one-source-out heat map, then eigenfaces, baselines
    assert [f.path for f in result.figures[:3]] == ["transfer.png", "eigenfaces.png", "baselines.png"]
    for figure in result.figures:
        assert (out / figure.path).is_file()
    assert [t.title for t in result.tables[:2]] == [PER_SOURCE_TITLE, BASELINES_TITLE]
    assert result.tables[-1].title == TRANSFER_TITLE  # the long table last
    assert len(result.tables[0].rows) == 3
    assert {t.title for t in result.tables} >= {SWEEP_TITLE, "Chosen hyper-parameters", "Data by source and origin"}
    assert all(len(t.columns) <= MAX_COLUMNS for t in result.tables), [t.title for t in result.tables]
    # the hard negatives: against shifted crops of its own faces, the pooled classifier is reported separately
    assert m["hard_negative_auc"] is not None
    assert m["hard_negative_auc_ci"][0] <= m["hard_negative_auc"] <= m["hard_negative_auc_ci"][1]
    assert m["worst_cross_source_auc_ci"][0] <= m["worst_cross_source_auc"] <= m["worst_cross_source_auc_ci"][1]
    assert m["mean_within_source_auc"] > 0.9


def test_quick_run_labels_every_metric_and_leads_with_a_short_answer(quick_run) -> None:
    """Every metric carries a label (read back from result.json), 3-6 are key numbers, the question and the
    answer speak of face vs. no-face detection, and the answer is short."""
    _, out = quick_run
    result = read_envelope(out / "result.json").result
    assert result.unlabelled_metrics() == []
    assert all(label.label for label in result.labels.values())
    keys = [key for key, label in result.labels.items() if label.key]
    assert 3 <= len(keys) <= 6
    assert {"worst_cross_source_auc", "source_gap", "hard_negative_auc"} <= set(keys)
    assert result.labels["n_faces"].unit == "images"
    assert "face vs. no-face detection" in result.question.lower()
    assert "recogni" not in (result.question + result.answer + result.verdict).lower()
    assert "recogni" not in " ".join(f.title + f.caption for f in result.figures).lower()
    assert result.answer.split(":")[0] in {"Yes, it detects faces, not the data source",
                                           "No, it learned the data source, not faces", "No, it separates nothing",
                                           "Not resolved"}
    assert len(result.answer) <= 320


def test_quick_run_verdict_rederives_from_the_recorded_per_fold_aucs(quick_run) -> None:
    """The verdict is the rule applied to the raw per-fold AUCs in result.json, nothing else."""
    _, out = quick_run
    result = read_envelope(out / "result.json").result
    raw = result.raw
    level, sources = raw["spread"]["level"], tuple(raw["negative_sources"])
    trains = (*sources, ALL_SOURCES)

    def method(name: str):
        auc = np.array([[raw["fold_auc"][name][t][s] for s in sources] for t in trains])
        return summarise_method(name, auc, trains, sources, level)

    summary = TransferSummary(
        classifier=method(EIGENFACES), baselines={name: method(name) for name in (RAW_PIXELS, SHORTCUT)},
        dffs={s: spread(raw["fold_auc_distance_from_face_space"][s], level) for s in sources},
        level=level, n_folds=result.metrics["outer_folds"],
    )
    assert eigenfaces_verdict(summary) == result.verdict
    assert short_answer(summary) == result.answer


def test_quick_run_folds_are_grouped_stratified_and_leak_free(quick_run) -> None:
    _, out = quick_run
    envelope = read_envelope(out / "result.json")
    raw = envelope.result.raw
    groups = np.asarray(raw["images"]["group"], dtype=object)
    sources = np.asarray(raw["images"]["source"], dtype=object)
    assert len(raw["folds"]) == 6
    for fold in raw["folds"]:
        train, test = np.asarray(fold["train_indices"]), np.asarray(fold["test_indices"])
        assert not set(groups[train]) & set(groups[test])  # a face and its shifted crop never on both sides
        assert set(sources[test]) == {FACES, LFW_BACKGROUNDS, SAMPLE_PATCHES, SHIFTED_CROPS}
        n_faces = np.sum(sources[test] == FACES)
        for source in (LFW_BACKGROUNDS, SAMPLE_PATCHES, SHIFTED_CROPS):  # the per-fold quota: 1 per face
            assert np.sum(sources[test] == source) <= round(n_faces * envelope.config["nonfaces_per_face"])
    # raw numbers, spreads as [low, high] pairs of numbers, never text
    table = envelope.result.tables[0]
    for row in table.rows:
        assert isinstance(row[2], float)
        assert [type(v) for v in row[3]] == [float, float]
    chosen = raw["chosen"][EIGENFACES][ALL_SOURCES]
    assert len(chosen) == 6
    assert all(p["family"] in {"logistic", "SVC"} for p in chosen)
    assert all(p["k"] >= 1 for p in chosen)
    scores = raw["first_repeat_out_of_fold_scores"][EIGENFACES]
    tested = sorted({i for fold in raw["folds"] if fold["repeat"] == 0 for i in fold["test_indices"]})
    assert all(scores[i] is not None for i in tested)
    # the resolved config is what was recorded: every --quick default filled in, None only for absent paths
    config = envelope.config
    assert config["search"] == {"folds": 3, "logistic_C": [0.1, 1.0], "svc_C": [1.0, 10.0], "svc_gamma_scale": [1.0]}
    assert (config["outer_folds"], config["outer_repeats"]) == (3, 2)
    assert config["variance"] in config["sweep_targets"]
    assert {key for key, value in config.items() if value is None} == {"faces", "olivetti", "cifar"}


def test_resolve_fills_every_default(study: ModuleType, tmp_path: Path) -> None:
    parser = study.build_parser()
    quick = study.resolve(parser.parse_args(["--quick", "--out", str(tmp_path)]))
    full = study.resolve(parser.parse_args(["--variance", "0.93", "--faces", str(tmp_path), "--threads", "1"]))
    custom = study.resolve(parser.parse_args(["--quick", "--outer-folds", "4", "--outer-repeats", "1"]))
    assert isinstance(quick, EigenfacesConfig)
    assert quick.search == SearchGrids.quick()
    assert full.search == SearchGrids()
    assert (quick.outer_folds, quick.outer_repeats) == (3, 2)
    assert (full.outer_folds, full.outer_repeats) == (5, 4)
    assert (custom.outer_folds, custom.outer_repeats) == (4, 1)
    assert (full.image_size_px, full.window_share, full.crops_per_face, full.match) == (15, 0.6, 1, True)
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


def _write_faces(folder: Path, n: int, *, nonfaces: int = 0) -> None:
    """``n`` synthetic face crops (bright oval, two dark eyes) in mixed modes; optional ``non_face/`` blobs."""
    folder.mkdir()
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:40, :32]
    for i in range(n):
        face = 0.4 + 0.3 * np.exp(-(((xx - 16) / 9) ** 2 + ((yy - 20) / 12) ** 2)) + rng.normal(0, 0.03, (40, 32))
        face[14:17, 9:13] = face[14:17, 19:23] = 0.1  # two dark "eyes"
        mode = "L" if i % 2 else "RGB"
        Image.fromarray((np.clip(face, 0, 1) * 255).astype(np.uint8)).convert(mode).save(folder / f"{i}.png")
    if nonfaces:
        (folder / "non_face").mkdir()
        for i in range(nonfaces):
            blob = np.clip(rng.normal(0.5, 0.2, (36, 36)), 0, 1)
            Image.fromarray((blob * 255).astype(np.uint8)).save(folder / "non_face" / f"{i}.png")


def test_quick_run_on_user_folders(study: ModuleType, tmp_path: Path) -> None:
    """--faces (a Kaggle-style labelled folder) with --cifar non-faces, end to end on tiny real-format inputs."""
    _write_faces(tmp_path / "faces", 16, nonfaces=15)
    _write_cifar(tmp_path / "cifar", 200)
    out = tmp_path / "out"
    code = study.main(["--quick", "--faces", str(tmp_path / "faces"), "--cifar", str(tmp_path / "cifar"),
                       "--outer-repeats", "1", "--out", str(out)])
    assert code == 0
    result = read_envelope(out / "result.json").result
    assert result.metrics["n_faces"] == 16
    assert result.unlabelled_metrics() == []
    assert result.raw["negative_sources"] == ["faces-folder negatives", "CIFAR-10", SHIFTED_CROPS]
    assert "offline fallback" not in result.data_source
    assert "CIFAR-10" in result.data_source


def test_olivetti_subjects_never_cross_a_split(study: ModuleType, tmp_path: Path) -> None:
    """A small file in Olivetti's format (3 subjects x 10 images): the splits are grouped by subject."""
    import joblib

    rng = np.random.default_rng(5)
    faces = np.concatenate([rng.normal(s, 1.0, size=(10, 4096)) for s in range(3)])
    joblib.dump(faces.astype(np.float32), tmp_path / "small_olivetti.pkz", compress=6)
    _write_cifar(tmp_path / "cifar", 100)
    out = tmp_path / "out"
    code = study.main(["--quick", "--olivetti", str(tmp_path / "small_olivetti.pkz"), "--cifar",
                       str(tmp_path / "cifar"), "--outer-repeats", "1", "--out", str(out)])
    assert code == 0
    result = read_envelope(out / "result.json").result
    assert result.metrics["faces_grouped_by"] == "subject"
    raw = result.raw
    groups = np.asarray(raw["images"]["group"], dtype=object)
    face_groups = {g for g, s in zip(groups, raw["images"]["source"], strict=True) if s == FACES}
    assert face_groups == {f"olivetti subject {s}" for s in range(3)}
    for fold in raw["folds"]:
        assert not set(groups[fold["train_indices"]]) & set(groups[fold["test_indices"]])


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--variance", "1.5"], "--variance must be in (0, 1]"),
        (["--image-size", "4"], "--image-size must be between 8 and 128"),
        (["--window-share", "0.1"], "--window-share must be between 0.3 and 1"),
        (["--window-share", "0.95"], "--window-share 0.95 leaves no room around a 15 px window"),
        (["--crops-per-face", "5"], "--crops-per-face must be 0-4"),
        (["--outer-folds", "1"], "--outer-folds must be >= 2"),
        (["--nonfaces-per-face", "0"], "--nonfaces-per-face must be a positive number"),
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
