"""The verdict rule, written out from the numbers.

The eigenface classifier "uses more than the sources' trivial statistics" only if the paired bootstrap
interval of its AUC gain over the strongest shortcut baseline lies above 0; "No" if it lies below; "Not
shown" otherwise. The rest of the text says how strong the source confound was and how the raw-pixel and
distance-from-face-space baselines compare.
"""

from __future__ import annotations

from dlplayground.studies.eigenfaces.analysis import DFFS, RAW_PIXELS, EigenfacesOutcome
from dlplayground.studies.eigenfaces.shortcut import ORIGINAL_SIDE

CONFOUND_AUC = 0.8
"""A shortcut (CV or test) ROC-AUC from which trivial statistics are said to give the source away."""


def eigenfaces_verdict(out: EigenfacesOutcome, *, variance: float, matched: bool) -> str:
    """The verdict text for ``out``; ``variance`` is the explained-variance target, ``matched`` whether the
    non-faces were matched to the faces on trivial statistics."""
    best, short = out.methods[out.headline], out.methods[out.shortcut]
    raw, dffs = out.methods[RAW_PIXELS], out.methods[DFFS]
    gain = out.intervals.gain
    ci = out.intervals.per_method[out.headline]
    level = f"{gain.level:.0%}"
    head = (f"{out.headline} (whitened PCA, k={out.n_components} components for {variance:.0%} variance) "
            f"reaches test ROC-AUC {best.roc_auc:.3f} [{ci.low:.3f}, {ci.high:.3f}], balanced accuracy "
            f"{best.balanced_accuracy:.3f}; the strongest shortcut baseline ({out.shortcut}, trivial image "
            f"statistics only) reaches {short.roc_auc:.3f}.")
    interval = f"[{gain.low:+.3f}, {gain.high:+.3f}]"
    if gain.low > 0:
        verdict = (f"Yes, on this data the eigenface classifier uses more than the sources' trivial statistics: "
                   f"{head} The gain of {gain.estimate:+.3f} AUC has a {level} paired-bootstrap interval "
                   f"{interval} that excludes 0.")
    elif gain.high < 0:
        verdict = (f"No: the shortcut beats the eigenface classifier. {head} Gain {gain.estimate:+.3f} AUC, {level} "
                   f"interval {interval}: trivial statistics of the sources separate the classes better.")
    else:
        verdict = (f"Not shown: {head} The gain of {gain.estimate:+.3f} AUC has a {level} interval {interval} "
                   "that includes 0, so this data cannot tell face learning from source learning.")
    image_stats = [row for row in out.feature_aucs if row.statistic != ORIGINAL_SIDE]
    if matched:
        verdict += (f" The non-faces were matched to the faces on those statistics; before matching they separated "
                    f"faces from the non-face pool with CV ROC-AUC {out.pool_shortcut_cv_auc:.3f}, so an unmatched "
                    "comparison would mostly measure the data source.")
    elif out.pool_shortcut_cv_auc >= CONFOUND_AUC:
        verdict += (f" Caution: the non-faces were not matched and trivial statistics alone separate the sources "
                    f"(CV ROC-AUC {out.pool_shortcut_cv_auc:.3f}; {image_stats[0].statistic} best), so accuracy "
                    "alone overstates face detection.")
    if short.roc_auc >= CONFOUND_AUC and matched:
        verdict += (f" Even after matching, the shortcut reaches {short.roc_auc:.3f}: the joint statistics still "
                    "differ, so read the gain, not the classifier's AUC.")
    versus_raw = "falls short of" if raw.roc_auc > best.roc_auc else "matches or beats"
    verdict += (f" The PCA classifier {versus_raw} logistic regression on raw pixels ({raw.roc_auc:.3f}, no PCA); "
                f"the distance-from-face-space detector "
                f"(eigenfaces of faces only, no non-faces in training) reaches {dffs.roc_auc:.3f}.")
    return verdict
