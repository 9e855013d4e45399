"""The study's figures: samples, mean face and eigenfaces, explained variance and sweep, ROC/PR, errors.

Each function draws one PNG from an ``EigenfacesOutcome`` and writes it to ``path``; none computes a
number the record does not also hold. Drawn with matplotlib's object API (no pyplot: no global state, no
display, nothing to close).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from dlplayground.studies.eigenfaces.analysis import EigenfacesOutcome
from dlplayground.studies.eigenfaces.images import FACE, NONFACE

DPI = 110
ERRORS_SHOWN = 8


def _show_image(ax, image: np.ndarray, title: str, *, signed: bool = False) -> None:
    if signed:
        lim = float(np.abs(image).max()) or 1.0
        ax.imshow(image, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def figure_samples(out: EigenfacesOutcome, path: Path, rng: np.random.Generator) -> None:
    """Ten random faces and ten random non-faces, as the models see them before standardisation."""
    data = out.data
    fig = Figure(figsize=(10, 2.8))
    axes = fig.subplots(2, 10)
    for row, (label, name) in enumerate(((FACE, "faces"), (NONFACE, "non-faces"))):
        members = np.nonzero(data.labels == label)[0]
        pick = rng.choice(members, size=min(10, len(members)), replace=False)
        for c, ax in enumerate(axes[row]):
            if c < len(pick):
                _show_image(ax, data.images[pick[c]], data.origins[pick[c]].replace("skimage:", "")[:16])
            else:
                ax.axis("off")
        axes[row, 0].text(-0.15, 0.5, name, transform=axes[row, 0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=8)
    fig.suptitle(f"Random images after the shared grey conversion and resize ({data.size}x{data.size})", fontsize=9)
    _save(fig, path)


def figure_eigenfaces(out: EigenfacesOutcome, path: Path) -> None:
    """The mean face and the top eigenfaces of the distance-from-face-space model."""
    pca = out.dffs.pca
    size = out.data.size
    n_show = min(11, pca.n_components_)
    fig = Figure(figsize=(9, 3.4))
    axes = fig.subplots(2, 6)
    axes = axes.ravel()
    axes[0].imshow(pca.mean_.reshape(size, size), cmap="gray")
    axes[0].set_title("mean face\n(standardised)", fontsize=7)
    axes[0].axis("off")
    for i in range(1, 12):
        if i - 1 < n_show:
            _show_image(axes[i], pca.components_[i - 1].reshape(size, size),
                        f"eigenface {i}\n{pca.explained_variance_ratio_[i - 1]:.1%} var", signed=True)
        else:
            axes[i].axis("off")
    fig.suptitle("Mean face and top eigenfaces (PCA of the training faces only; red +, blue -)", fontsize=9)
    _save(fig, path)


def figure_variance(out: EigenfacesOutcome, path: Path) -> None:
    """Cumulative explained variance with the rule's k (left) and the sweep's CV ROC-AUC against k (right)."""
    target = out.curve_all.target
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    for curve, label in ((out.curve_all, "all training images"), (out.curve_faces, "training faces only")):
        ks = np.arange(1, len(curve.ratios) + 1)
        left.plot(ks, curve.cumulative, label=f"{label} (k={curve.n_components})")
        left.axvline(curve.n_components, ls=":", color=left.lines[-1].get_color())
    left.axhline(target, color="grey", ls="--", lw=1, label=f"target {target:.0%}")
    left.set_xscale("log")
    left.set_xlabel("number of components k")
    left.set_ylabel("cumulative explained variance")
    left.set_title("Explained variance", fontsize=10)
    left.legend(fontsize=8)
    right.plot([p.n_components for p in out.sweep], [p.cv_roc_auc for p in out.sweep], "o-")
    for point in out.sweep:
        right.annotate(f"{point.target:.0%}", (point.n_components, point.cv_roc_auc), textcoords="offset points",
                       xytext=(2, 4), fontsize=7)
    right.axvline(out.n_components, color="grey", ls="--", lw=1, label="k chosen by the rule")
    right.set_xscale("log")
    right.set_xlabel("number of components k (label: variance target)")
    right.set_ylabel("CV ROC-AUC (training set)")
    right.set_title("Sweep: whitened PCA(k) + logistic regression", fontsize=10)
    right.legend(fontsize=8)
    _save(fig, path)


def figure_roc(out: EigenfacesOutcome, path: Path) -> None:
    """ROC and precision-recall curves of every method on the held-out test set."""
    y_test = out.y_test
    fig = Figure(figsize=(10, 4.2))
    left, right = fig.subplots(1, 2)
    for name, result in out.methods.items():
        style = "--" if name.startswith("shortcut") else "-"
        fpr, tpr, _ = roc_curve(y_test, result.scores)
        left.plot(fpr, tpr, style, label=f"{name} ({result.roc_auc:.3f})")
        precision, recall, _ = precision_recall_curve(y_test, result.scores)
        right.plot(recall, precision, style, label=f"{name} ({result.pr_auc:.3f})")
    left.plot([0, 1], [0, 1], color="grey", lw=0.8)
    left.set_xlabel("false positive rate (non-faces called faces)")
    left.set_ylabel("true positive rate (faces found)")
    left.set_title("ROC, held-out test set (AUC)", fontsize=10)
    right.axhline(float(np.mean(y_test == FACE)), color="grey", lw=0.8, label="chance")
    right.set_xlabel("recall (faces)")
    right.set_ylabel("precision")
    right.set_title("Precision-recall (average precision)", fontsize=10)
    for ax in (left, right):
        ax.legend(fontsize=7, loc="lower left" if ax is right else "lower right")
    _save(fig, path)


def figure_errors(out: EigenfacesOutcome, path: Path) -> None:
    """False positives and false negatives of the headline classifier (closest calls when there are none)."""
    result = out.methods[out.headline]
    y_test = out.y_test
    images = out.data.images[out.test_idx]
    origins = [out.data.origins[i] for i in out.test_idx]
    wrong_pos = np.nonzero((y_test == NONFACE) & (result.predictions == FACE))[0]
    wrong_neg = np.nonzero((y_test == FACE) & (result.predictions == NONFACE))[0]
    rows = [
        ("non-faces called faces", wrong_pos[np.argsort(-result.scores[wrong_pos])],
         np.argsort(-np.where(y_test == NONFACE, result.scores, -np.inf))),
        ("faces missed", wrong_neg[np.argsort(result.scores[wrong_neg])],
         np.argsort(np.where(y_test == FACE, result.scores, np.inf))),
    ]
    fig = Figure(figsize=(10, 3.2))
    axes = fig.subplots(2, ERRORS_SHOWN)
    for r, (title, errors, closest) in enumerate(rows):
        shown = errors[:ERRORS_SHOWN] if len(errors) else closest[:ERRORS_SHOWN]
        label = f"{title} ({len(errors)})" if len(errors) else f"{title}: none -- closest calls"
        for c in range(ERRORS_SHOWN):
            ax = axes[r, c]
            if c < len(shown):
                i = shown[c]
                _show_image(ax, images[i], f"{origins[i][:16]}\nscore {result.scores[i]:.2f}")
            else:
                ax.axis("off")
        axes[r, 0].text(-0.15, 0.5, label, transform=axes[r, 0].transAxes, rotation=90, va="center",
                        ha="right", fontsize=7)
    fig.suptitle(f"Test-set errors of {out.headline} (score: decision value; > 0 means face for SVC, "
                 "log-odds for logistic)", fontsize=8)
    _save(fig, path)
