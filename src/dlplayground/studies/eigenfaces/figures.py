"""The study's figures: the lead (leave-one-source-out heat map and AUC per negative source), eigenfaces,
the baselines' matrices, samples of every source, the classifier's worst-ranked images, explained variance.

Each function draws one PNG from an ``EigenfacesOutcome`` and writes it to ``path``; none computes a number the
record does not also hold. Drawn with matplotlib's object API (no pyplot: no global state, no display).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from dlplayground.results import Figure as ResultFigure
from dlplayground.studies.eigenfaces.analysis import EigenfacesOutcome
from dlplayground.studies.eigenfaces.classifiers import DFFS, EIGENFACES, RAW_PIXELS, SHORTCUT
from dlplayground.studies.eigenfaces.evaluation import MethodTransfer, Spread
from dlplayground.studies.eigenfaces.images import FACE, FACES
from dlplayground.studies.eigenfaces.transfer import ALL_SOURCES
from dlplayground.studies.eigenfaces.verdict import DETECT_AUC

DPI = 110
SHOWN = 8
AUC_RANGE = (0.5, 1.0)
"""Colour range of the heat maps: chance (red) to perfect (green); AUCs below chance get chance's colour."""


def _show_image(ax, image: np.ndarray, title: str, *, signed: bool = False) -> None:
    if signed:
        lim = float(np.abs(image).max()) or 1.0
        ax.imshow(image, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=6)
    ax.axis("off")


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def _heat_map(ax, method: MethodTransfer, title: str):
    """Rows: training negatives (each source, then all pooled); columns: test negatives. Cell: mean [spread];
    cross-source cells at the simultaneous level the verdict reads them at."""
    sources = method.sources
    trains = (*sources, ALL_SOURCES)
    means = np.array([[method.cells[(t, s)].mean for s in sources] for t in trains])
    image = ax.imshow(means, cmap="RdYlGn", vmin=AUC_RANGE[0], vmax=AUC_RANGE[1], aspect="auto")
    for i, t in enumerate(trains):
        for j, s in enumerate(sources):
            cell = method.cross_cells.get((t, s), method.cells[(t, s)])
            ax.text(j, i, f"{cell.mean:.3f}\n[{cell.low:.2f}, {cell.high:.2f}]", ha="center", va="center", fontsize=7)
            if t == s:
                ax.add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False, lw=1.2, ls="--", ec="black"))
    ax.axhline(len(sources) - 0.5, color="black", lw=1.5)
    ax.set_xticks(range(len(sources)), [f"vs. {s}" for s in sources], fontsize=7, rotation=15)
    ax.set_yticks(range(len(trains)), [f"trained vs. {t}" for t in trains], fontsize=7)
    ax.set_xlabel("tested against (held-out faces vs. held-out images of this source)", fontsize=7)
    ax.set_title(title, fontsize=9)
    return image


def _per_source(ax, out: EigenfacesOutcome) -> None:
    """Each method's AUC per negative source (trained against all sources; DFFS: faces only), mean and spread."""
    summary = out.summary
    series: list[tuple[str, dict[str, Spread]]] = [(EIGENFACES, summary.classifier.pooled)]
    series += [(name, summary.baselines[name].pooled) for name in (RAW_PIXELS, SHORTCUT) if name in summary.baselines]
    series.append((f"{DFFS} (faces only)", summary.dffs))
    sources = summary.sources
    width = 0.8 / len(series)
    for k, (name, cells) in enumerate(series):
        x = np.arange(len(sources)) + (k - (len(series) - 1) / 2) * width
        mean = np.array([cells[s].mean for s in sources])
        low = np.array([cells[s].low for s in sources])
        high = np.array([cells[s].high for s in sources])
        ax.errorbar(x, mean, yerr=[mean - low, high - mean], fmt="o", ms=4, capsize=2, label=name)
    ax.axhline(DETECT_AUC, color="grey", ls="--", lw=1, label=f"verdict threshold {DETECT_AUC}")
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set_xticks(range(len(sources)), sources, fontsize=7, rotation=15)
    ax.set_ylabel("AUC, faces vs. this source (mean, per-fold spread)", fontsize=7)
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.02)
    ax.set_title("AUC per negative source", fontsize=9)
    ax.legend(fontsize=6, loc="lower left")


def figure_transfer(out: EigenfacesOutcome, path: Path) -> None:
    """The lead: the classifier's leave-one-source-out heat map, and every method's AUC per negative source."""
    summary = out.summary
    k = len(summary.sources)
    fig = Figure(figsize=(12, 1.4 + 0.75 * (k + 1)), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
    image = _heat_map(left, summary.classifier, "Eigenface classifier: leave-one-source-out AUC")
    fig.colorbar(image, ax=left, fraction=0.04, pad=0.02)
    _per_source(right, out)
    cross = next(iter(summary.classifier.cross_cells.values()), None)
    cross_text = f" ({cross.level:.1%} for the {len(summary.classifier.cross_cells)} cross-source cells together)" \
        if cross else ""
    fig.suptitle(f"Face vs. no-face detection. Off-diagonal cells: tested against a source never seen in training "
                 f"(dashed: same source). Mean and spread of {summary.n_folds} per-fold AUCs, "
                 f"{summary.level:.0%}{cross_text}.", fontsize=8)
    fig.savefig(path, dpi=DPI)


def figure_baselines(out: EigenfacesOutcome, path: Path) -> None:
    """The raw-pixel and shortcut baselines' matrices, in the lead's layout."""
    methods = [out.summary.baselines[name] for name in (RAW_PIXELS, SHORTCUT) if name in out.summary.baselines]
    k = len(out.summary.sources)
    fig = Figure(figsize=(6 * len(methods), 1.2 + 0.75 * (k + 1)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(methods)))
    for ax, method in zip(axes, methods, strict=True):
        image = _heat_map(ax, method, f"{method.method}: leave-one-source-out AUC")
    fig.colorbar(image, ax=list(axes), fraction=0.03, pad=0.02)
    fig.savefig(path, dpi=DPI)


def figure_samples(out: EigenfacesOutcome, path: Path, rng: np.random.Generator) -> None:
    """Ten random images of the faces and of every negative source, as the models see them before standardisation."""
    data = out.data
    rows = (FACES, *data.negative_sources)
    fig = Figure(figsize=(10, 1.1 * len(rows) + 0.4))
    axes = np.atleast_2d(fig.subplots(len(rows), 10))
    for r, source in enumerate(rows):
        members = np.nonzero(data.source_mask(source))[0]
        pick = rng.choice(members, size=min(10, len(members)), replace=False)
        for c, ax in enumerate(axes[r]):
            if c < len(pick):
                _show_image(ax, data.images[pick[c]], data.origins[pick[c]].replace("skimage:", "")[:18])
            else:
                ax.axis("off")
        axes[r, 0].text(-0.2, 0.5, source, transform=axes[r, 0].transAxes, rotation=90, va="center", ha="right",
                        fontsize=7)
    fig.suptitle(f"Random images per source, {data.size}x{data.size} px windows (before per-image standardisation)",
                 fontsize=9)
    _save(fig, path)


def figure_eigenfaces(out: EigenfacesOutcome, path: Path) -> None:
    """The mean face and the top eigenfaces of the first fold's training faces."""
    pca = out.face_space.pca
    size = out.data.size
    fig = Figure(figsize=(9, 3.4))
    axes = fig.subplots(2, 6).ravel()
    axes[0].imshow(pca.mean_.reshape(size, size), cmap="gray")
    axes[0].set_title("mean face\n(standardised)", fontsize=7)
    axes[0].axis("off")
    for i in range(1, 12):
        if i - 1 < pca.n_components_:
            _show_image(axes[i], pca.components_[i - 1].reshape(size, size),
                        f"eigenface {i}\n{pca.explained_variance_ratio_[i - 1]:.1%} var", signed=True)
        else:
            axes[i].axis("off")
    fig.suptitle("Mean face and top eigenfaces (PCA of the first fold's training faces; red +, blue -)", fontsize=9)
    _save(fig, path)


def figure_variance(out: EigenfacesOutcome, path: Path) -> None:
    """Cumulative explained variance with the rule's k (left) and the sweep's CV ROC-AUC against k (right)."""
    target = out.curve_all.target
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    for curve, label in ((out.curve_all, "training faces and non-faces"), (out.face_space.curve, "training faces")):
        ks = np.arange(1, len(curve.ratios) + 1)
        left.plot(ks, curve.cumulative, label=f"{label} (k={curve.n_components})")
        left.axvline(curve.n_components, ls=":", color=left.lines[-1].get_color())
    left.axhline(target, color="grey", ls="--", lw=1, label=f"target {target:.0%}")
    left.set_xscale("log")
    left.set_xlabel("number of components k")
    left.set_ylabel("cumulative explained variance")
    left.set_title("Explained variance (first fold's training set)", fontsize=10)
    left.legend(fontsize=8)
    right.plot([p.n_components for p in out.sweep], [p.cv_roc_auc for p in out.sweep], "o-")
    for point in out.sweep:
        right.annotate(f"{point.target:.0%}", (point.n_components, point.cv_roc_auc), textcoords="offset points",
                       xytext=(2, 4), fontsize=7)
    right.axvline(out.curve_all.n_components, color="grey", ls="--", lw=1, label="k chosen by the rule")
    right.set_xscale("log")
    right.set_xlabel("number of components k (label: variance target)")
    right.set_ylabel("inner-CV ROC-AUC (training set)")
    right.set_title("Sweep: whitened PCA(k) + logistic regression", fontsize=10)
    right.legend(fontsize=8)
    _save(fig, path)


def figure_errors(out: EigenfacesOutcome, path: Path) -> None:
    """Repeat 0, out of fold: the most face-like non-faces of every source and the least face-like faces."""
    scores = out.record.first_repeat_scores[EIGENFACES]
    data = out.data
    scored = np.isfinite(scores)
    rows = [(source, np.nonzero(scored & data.source_mask(source))[0], -1) for source in data.negative_sources]
    rows.append(("faces (lowest)", np.nonzero(scored & (data.labels == FACE))[0], 1))
    fig = Figure(figsize=(10, 1.45 * len(rows) + 0.4))
    axes = np.atleast_2d(fig.subplots(len(rows), SHOWN))
    for r, (title, members, direction) in enumerate(rows):
        shown = members[np.argsort(direction * scores[members])][:SHOWN]
        for c in range(SHOWN):
            if c < len(shown):
                i = shown[c]
                heading = f"{title}\n" if c == 0 else "\n"
                _show_image(axes[r, c], data.images[i], f"{heading}{data.origins[i][:18]}\nscore {scores[i]:.2f}")
            else:
                axes[r, c].axis("off")
    fig.suptitle("Eigenface classifier trained against all sources, repeat 0, out-of-fold decision values: each "
                 "source's most face-like images, and the least face-like faces", fontsize=8)
    _save(fig, path)


def draw_figures(out: EigenfacesOutcome, out_dir: Path, rng: np.random.Generator) -> list[ResultFigure]:
    """Draw every figure into ``out_dir``; the lead figure first."""
    figure_transfer(out, out_dir / "transfer.png")
    figure_eigenfaces(out, out_dir / "eigenfaces.png")
    figure_baselines(out, out_dir / "baselines.png")
    figure_samples(out, out_dir / "samples.png", rng)
    figure_errors(out, out_dir / "errors.png")
    figure_variance(out, out_dir / "explained_variance.png")
    level, n = f"{out.summary.level:.0%}", out.summary.n_folds
    return [
        ResultFigure("Face vs. no-face detection: AUC per negative source and leave-one-source-out", "transfer.png",
                     "Left: the eigenface classifier trained against one negative source (row) and tested against "
                     "each (column); the bottom row was trained against all sources. Right: every method's AUC per "
                     f"negative source. Mean and {level} spread of {n} grouped outer folds."),
        ResultFigure("Mean face and eigenfaces", "eigenfaces.png",
                     "PCA of the first fold's training faces (the distance-from-face-space model)."),
        ResultFigure("Baselines: leave-one-source-out AUC", "baselines.png",
                     "Logistic regression on raw pixels and on trivial image statistics (the shortcut), same layout."),
        ResultFigure("Samples of every source", "samples.png",
                     "Faces and each negative source after the shared grey conversion, resize and window."),
        ResultFigure("Most face-like non-faces and least face-like faces", "errors.png",
                     "Repeat 0's out-of-fold scores of the classifier trained against all sources."),
        ResultFigure("Explained variance and the component sweep", "explained_variance.png",
                     f"Left: cumulative explained variance, target {out.curve_all.target:.0%}. Right: inner-CV "
                     "ROC-AUC against k (diagnostic; k comes from the rule)."),
    ]
