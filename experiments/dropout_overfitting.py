"""Does accuracy kept under eval-time dropout predict how far a model prunes and how well it distils, beyond clean
accuracy and robustness to random pruning?

Method: a population of small trained models; predictors (mean accuracy under eval-dropout, the MC-dropout
predictive's uncertainty) and targets (prunability, distillation gain) measured on disjoint data; the
incremental partial correlation with simultaneous bootstrap intervals, judged by a written rule, with the power
of the population stated. The full question, method and how to read the answer are in the study's module,
``dlplayground.studies.dropout.study``, and in ``docs/dropout_overfitting.md``.

Run it (flags: ``--help``; every study has ``--quick``, ``--out DIR``, ``--seed N``, ``--device D``)::

    python experiments/dropout_overfitting.py --quick
    python experiments/dropout_overfitting.py --olivetti  # + CNNs on real face images (scikit-learn's cache)
    dlplayground run dropout_overfitting --quick          # the same, from an installed package

It prints its verdict and where its results went (``result.json``, figures); render them with
``dlplayground report``.
"""

from dlplayground.studies.dropout.study import main

if __name__ == "__main__":
    raise SystemExit(main())
