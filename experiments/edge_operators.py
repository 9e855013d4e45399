"""Is the Laplacian a better edge detector than the gradient, judged against ground truth?

Method: gradient (magnitude + NMS) and Laplacian (zero-crossing) operators at matched scales, scored against
exact ground truth on synthetic scenes and for stability on faces. The full question, method and how to read
the answer are in the study's module, ``dlplayground.studies.edges.study``, and in ``docs/edge_operators.md``.

Run it (flags: ``--help``; every study has ``--quick``, ``--out DIR``, ``--seed N``, ``--device D``)::

    python experiments/edge_operators.py --quick
    dlplayground run edge_operators --quick          # the same, from an installed package

It prints its verdict and where its results went (``result.json``, figures); render them with
``dlplayground report``.
"""

from dlplayground.studies.edges.study import main

if __name__ == "__main__":
    raise SystemExit(main())
