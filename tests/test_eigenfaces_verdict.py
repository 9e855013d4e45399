"""The eigenfaces verdict rule: synthetic per-fold AUCs where each answer holds, and two synthetic pools run
through the study's own pipeline -- one where faces and non-faces differ only by a resize-history artefact (the
rule must say the classifier learned the source) and one where they differ by face structure (it must not)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from dlplayground.data.image_folder import to_square
from dlplayground.data.nonfaces import LFW_BACKGROUNDS, SAMPLE_PATCHES, SHIFTED_CROPS
from dlplayground.studies.eigenfaces.classifiers import EIGENFACES, SHORTCUT
from dlplayground.studies.eigenfaces.config import SearchGrids
from dlplayground.studies.eigenfaces.evaluation import TransferSummary, spread, summarise, summarise_method
from dlplayground.studies.eigenfaces.images import FACE, FACES, NONFACE, standardise_images
from dlplayground.studies.eigenfaces.shortcut import shortcut_features
from dlplayground.studies.eigenfaces.splits import grouped_splits
from dlplayground.studies.eigenfaces.transfer import ALL_SOURCES, TransferSettings, run_transfer
from dlplayground.studies.eigenfaces.verdict import answer, eigenfaces_verdict, short_answer, source_sentence

SOURCES = ("backgrounds", "patches", SHIFTED_CROPS)
FOLDS = 10


def _auc(within, cross, *, sources=SOURCES, pooled=None, folds=FOLDS) -> np.ndarray:
    """``auc[train, source, fold]``: ``within``/``cross`` are a number or per-fold values; the pooled row is
    ``within`` unless ``pooled`` gives a value per source."""
    trains = (*sources, ALL_SOURCES)
    auc = np.empty((len(trains), len(sources), folds))
    for i, t in enumerate(trains):
        for j, s in enumerate(sources):
            value = within if t in (s, ALL_SOURCES) else cross
            if t == ALL_SOURCES and pooled is not None:
                value = pooled[s]
            auc[i, j] = np.broadcast_to(value, folds)
    return auc


def _summary(within, cross, *, sources=SOURCES, shortcut=None) -> TransferSummary:
    """``shortcut``: the shortcut baseline's AUC per source when trained against all sources (None: no baseline)."""
    trains = (*sources, ALL_SOURCES)
    classifier = summarise_method(EIGENFACES, _auc(within, cross, sources=sources), trains, sources, 0.95)
    baselines = {}
    if shortcut is not None:
        baselines[SHORTCUT] = summarise_method(SHORTCUT, _auc(0.5, 0.5, sources=sources, pooled=shortcut),
                                               trains, sources, 0.95)
    dffs = {s: spread(np.full(FOLDS, 0.7), 0.95) for s in sources}
    return TransferSummary(classifier, baselines, dffs, 0.95, FOLDS)


FOLD_JITTER = np.linspace(-0.01, 0.01, FOLDS)


# --------------------------------------------------------------------------------- synthetic per-fold AUCs
def test_faces_when_every_cross_source_cell_transfers() -> None:
    summary = _summary(0.98 + FOLD_JITTER, 0.95 + FOLD_JITTER)
    assert answer(summary.classifier) == "faces"
    text = eigenfaces_verdict(summary)
    assert text.startswith("Yes, it detects faces rather than the data source")
    assert "lowest cross-source AUC is 0.950" in text
    assert "mostly measures faces, not the data source" in text  # gap 0.03 of 0.48 above chance
    assert "shifted crops of the same face images" in text
    assert "distance-from-face-space detector, trained on faces only, 0.700-0.700" in text


def test_source_when_a_cell_fails_but_its_own_source_is_separated() -> None:
    summary = _summary(0.99 + FOLD_JITTER, 0.55 + FOLD_JITTER)
    assert answer(summary.classifier) == "source"
    text = eigenfaces_verdict(summary)
    assert text.startswith("No, it learned the data source, not faces: in 6 of 6 cross-source cells")
    assert "although against its own training source it does separate the faces (backgrounds: 0.990" in text
    assert "mostly measures the data source: changing the negative source costs +0.440 AUC" in text


def test_neither_when_the_classifier_fails_within_its_own_source_too() -> None:
    summary = _summary(0.6 + FOLD_JITTER, 0.52 + FOLD_JITTER)
    assert answer(summary.classifier) == "neither"
    assert eigenfaces_verdict(summary).startswith("No, it separates nothing")


def test_unresolved_when_a_spread_straddles_the_threshold() -> None:
    straddling = np.linspace(0.7, 0.9, FOLDS)
    summary = _summary(0.95 + FOLD_JITTER, straddling)
    assert answer(summary.classifier) == "unresolved"
    text = eigenfaces_verdict(summary)
    assert text.startswith("Not resolved: no cross-source cell fails, but 6 of 6 have spreads that straddle 0.8")


def test_one_negative_source_cannot_answer() -> None:
    summary = _summary(0.99, 0.5, sources=("cifar",))
    assert answer(summary.classifier) == "unresolved"
    text = eigenfaces_verdict(summary)
    assert text.startswith("Not resolved: there is only one negative source (cifar)")
    assert source_sentence(summary.classifier) == ""


@pytest.mark.parametrize(
    ("within", "cross", "expected"),
    [
        (0.9, 0.85, "mostly measures faces, not the data source"),            # gap 0.05 < 0.2 = half of 0.4
        (0.9, 0.6, "mostly measures the data source"),                        # gap 0.3 > 0.2
        (0.9, np.linspace(0.6, 0.8, FOLDS), "cannot be told"),                # gap 0.1..0.3 straddles 0.2
        (0.45, 0.45, "does not beat chance"),
    ],
)
def test_source_sentence_is_derived_from_the_measured_gap(within, cross, expected) -> None:
    text = source_sentence(_summary(within, cross).classifier)
    assert expected in text


def test_shortcut_sentence_names_the_sources_trivial_statistics_give_away() -> None:
    given_away = _summary(0.98, 0.95, shortcut={"backgrounds": 0.99, "patches": 0.6, SHIFTED_CROPS: 0.85})
    text = eigenfaces_verdict(given_away)
    assert f"separate the faces from backgrounds (0.990), {SHIFTED_CROPS} (0.850)" in text
    clean = eigenfaces_verdict(_summary(0.98, 0.95, shortcut=dict.fromkeys(SOURCES, 0.6)))
    assert "separate the faces from no source (shortcut AUC at most 0.600" in clean


# ------------------------------------------------------------------------------------------ the short answer
OFFLINE = (LFW_BACKGROUNDS, SAMPLE_PATCHES, SHIFTED_CROPS)  # the real run's names, for the length check
ANSWER_CASES = {
    "faces": (0.98 + FOLD_JITTER, 0.95 + FOLD_JITTER),
    "source": (0.99 + FOLD_JITTER, 0.55 + FOLD_JITTER),
    "neither": (0.6 + FOLD_JITTER, 0.52 + FOLD_JITTER),
    "unresolved": (0.95 + FOLD_JITTER, np.linspace(0.7, 0.9, FOLDS)),
}


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip())


def test_short_answer_is_the_rules_answer_in_at_most_two_sentences() -> None:
    texts = {}
    for expected, (within, cross) in ANSWER_CASES.items():
        summary = _summary(within, cross, sources=OFFLINE)
        assert answer(summary.classifier) == expected
        texts[expected] = short_answer(summary)
        assert len(_sentences(texts[expected])) <= 2, texts[expected]
        assert len(texts[expected]) <= 320, texts[expected]
    assert len(set(texts.values())) == len(texts)
    assert texts["faces"].startswith("Yes, it detects faces, not the data source")
    assert f"lowest AUC 0.950, trained against {LFW_BACKGROUNDS}" in texts["faces"]
    assert texts["faces"].endswith("mostly measures faces: an unseen source costs 0.030 of its 0.480 AUC above chance.")
    assert texts["source"].startswith(f"No, it learned the data source, not faces: trained against {LFW_BACKGROUNDS} "
                                      "(AUC 0.990 on them), it scores only 0.550")
    assert "mostly measures the source: an unseen source costs 0.440" in texts["source"]
    assert texts["neither"].startswith("No, it separates nothing")
    assert texts["unresolved"].startswith("Not resolved: no cross-source AUC is surely below 0.8")
    assert "cannot be told: an unseen source costs 0.150 of its 0.450" in texts["unresolved"]


def test_short_answer_follows_the_numbers() -> None:
    """Same outcome, other numbers: the answer's figures move with them; one source: nothing to transfer to."""
    a = short_answer(_summary(0.98 + FOLD_JITTER, 0.95 + FOLD_JITTER))
    b = short_answer(_summary(0.97 + FOLD_JITTER, 0.90 + FOLD_JITTER))
    assert a != b
    assert "lowest AUC 0.900" in b
    single = short_answer(_summary(0.99, 0.5, sources=("cifar",)))
    assert single.startswith("Not resolved: with one negative source (cifar)")
    assert len(_sentences(single)) == 1
    no_edge = short_answer(_summary(0.45, 0.45))
    assert no_edge.endswith("Even within a source it does not beat chance (AUC 0.450).")


# ----------------------------------------------------------------------------- synthetic pools, end to end
SIDE = 15


def _textures(rng: np.random.Generator, n: int, side: int = 60, sigma: float = 2.0) -> np.ndarray:
    """``n`` smooth random grey fields in [0, 1]: the same content for every class of a pool."""
    x = gaussian_filter(rng.normal(size=(n, side, side)), sigma=(0, sigma, sigma))
    low, high = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    return (x - low) / (high - low)


def _letterboxed(image: np.ndarray, axis: int) -> np.ndarray:
    """A resize history: padded to a square (black bands along ``axis``) instead of centre-cropped."""
    band = image.shape[0] // 10
    padded = image.copy()
    if axis == 0:
        padded[:band], padded[-band:] = 0.0, 0.0
    else:
        padded[:, :band], padded[:, -band:] = 0.0, 0.0
    return padded


def _run_pool(parts: list[tuple[str, np.ndarray]]) -> TransferSummary:
    """The study's pipeline on a synthetic pool: grouped splits, per-source and leave-one-source-out training of
    the eigenface classifier, summary (smallest grids, one repeat of 3 folds: a test, not a measurement)."""
    images = np.concatenate([imgs for _, imgs in parts])
    sources = np.array([name for name, imgs in parts for _ in imgs], dtype=object)
    labels = np.where(sources == FACES, FACE, NONFACE)
    groups = np.array([f"image {i}" for i in range(len(images))], dtype=object)
    splits = grouped_splits(sources, groups, folds=3, repeats=1, seed=0)
    grids = SearchGrids(folds=3, logistic_C=(1.0,), svc_C=(10.0,), svc_gamma_scale=(0.3,))
    settings = TransferSettings(variance=0.95, grids=grids, nonfaces_per_face=1.0, match=False, seed=0)
    record = run_transfer(standardise_images(images), shortcut_features(images), labels, sources, splits, settings,
                          methods=(EIGENFACES,))
    return summarise(record, 0.95, EIGENFACES)


def test_a_resize_artefact_alone_is_called_learning_the_source() -> None:
    """Faces and non-faces are the same random content; only the resize history differs (letterboxed wide or
    tall instead of centre-cropped). The classifier separates each source perfectly and transfers not at all."""
    rng = np.random.default_rng(0)
    n = 36
    faces = np.stack([to_square(t, SIDE) for t in _textures(rng, n)])
    wide = np.stack([to_square(_letterboxed(t, 0), SIDE) for t in _textures(rng, n)])
    tall = np.stack([to_square(_letterboxed(t, 1), SIDE) for t in _textures(rng, n)])
    summary = _run_pool([(FACES, faces), ("letterboxed wide", wide), ("letterboxed tall", tall)])
    c = summary.classifier
    assert c.within.mean > 0.95
    assert answer(c) == "source"
    text = eigenfaces_verdict(summary)
    assert text.startswith("No, it learned the data source, not faces")
    assert "mostly measures the data source" in text
    assert short_answer(summary).startswith("No, it learned the data source, not faces")


def test_face_structure_on_identical_resize_history_is_called_faces() -> None:
    """Every image has the same content generator and resize history; faces add a face pattern (two eyes, a
    mouth, a brighter oval), the negative sources plain texture or two random dark blobs."""
    rng = np.random.default_rng(1)
    n = 36
    yy, xx = np.mgrid[:SIDE, :SIDE]

    def blob(cy, cx, sy, sx) -> np.ndarray:
        return np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))

    face = 0.6 * blob(7, 7, 6.5, 5) - 0.7 * (blob(5, 4, 1.1, 1.3) + blob(5, 10, 1.1, 1.3)) - 0.6 * blob(11, 7, 0.9, 3)

    def texture(k: int) -> np.ndarray:
        return 0.45 * np.stack([to_square(t, SIDE) for t in _textures(rng, k)]) + 0.3

    faces = np.clip(texture(n) + face, 0, 1)
    plain = np.clip(texture(n), 0, 1)
    blobs = texture(n)
    for image in blobs:
        for cy, cx in rng.uniform(2, SIDE - 2, size=(2, 2)):
            image -= 0.7 * blob(cy, cx, 1.1, 1.3)
    summary = _run_pool([(FACES, faces), ("textures", plain), ("random blobs", np.clip(blobs, 0, 1))])
    assert answer(summary.classifier) == "faces"
    text = eigenfaces_verdict(summary)
    assert text.startswith("Yes, it detects faces rather than the data source")
    assert "mostly measures faces, not the data source" in text
    assert short_answer(summary).startswith("Yes, it detects faces, not the data source")
