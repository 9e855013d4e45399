"""Can PCA eigenface features tell a face from a non-face, or only one data set from another?

Method: whitened PCA + a linear or kernel classifier against shortcut and raw-pixel baselines on held-out
images. The full question, method and how to read the answer are in the study's module,
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
