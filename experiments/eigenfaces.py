"""Face vs. no-face detection: does a PCA eigenface classifier detect faces, or the data set its non-faces came from?

Method: whitened PCA + a linear or kernel classifier, trained against one negative source and tested against
each other one (leave-one-source-out), over repeated grouped cross-validation, beside raw-pixel, shortcut and
distance-from-face-space baselines; hard negatives are shifted crops of the faces' own images. The full
question, method and how to read the answer are in the study's module,
``dlplayground.studies.eigenfaces.study``, and in ``docs/eigenfaces.md``.

Run it (flags: ``--help``; every study has ``--quick``, ``--out DIR``, ``--seed N``, ``--device D``)::

    python experiments/eigenfaces.py --quick
    dlplayground run eigenfaces --quick          # the same, from an installed package

It prints its verdict and where its results went (``result.json``, figures); render them with
``dlplayground report``.
"""

from dlplayground.studies.eigenfaces.study import main

if __name__ == "__main__":
    raise SystemExit(main())
