"""Is the Laplacian a better edge detector than the gradient, judged against ground truth?

Method: gradient (magnitude + NMS) and Laplacian (zero-crossing) operators, scale and threshold chosen on tuning
images and scored on held-out ones against exact ground truth (step, line, roof and textured edges under blur and
noise), paired per image and Holm-corrected over the conditions; BSDS500 with its own protocol when given
(``--bsds DIR``); stability on real faces. The full question, method, verdict rule and how to read the answer are
in the study's module, ``dlplayground.studies.edges.study``, and in ``docs/edge_operators.md``.

Run it (flags: ``--help``; every study has ``--quick``, ``--out DIR``, ``--seed N``, ``--device D``)::

    python experiments/edge_operators.py --quick
    dlplayground run edge_operators --quick          # the same, from an installed package
    python experiments/edge_operators.py --bsds BSR/BSDS500/data   # add the real photographs

It prints its verdict and where its results went (``result.json``, figures); render them with
``dlplayground report``.
"""

from dlplayground.studies.edges.study import main

if __name__ == "__main__":
    raise SystemExit(main())
