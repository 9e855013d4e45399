"""Does accuracy kept under eval-time dropout predict how far a model prunes and how well it distils?

Method: a population of small trained models; eval-time-dropout robustness against prunability and
distillability, with rank correlations, bootstrap intervals, partial correlations and baselines. The full
question, method and how to read the answer are in the study's module, ``dlplayground.studies.dropout.study``,
and in ``docs/dropout_overfitting.md``.

Run it (flags: ``--help``; every study has ``--quick``, ``--out DIR``, ``--seed N``, ``--device D``)::

    python experiments/dropout_overfitting.py --quick
    dlplayground run dropout_overfitting --quick          # the same, from an installed package

It prints its verdict and where its results went (``result.json``, figures); render them with
``dlplayground report``.
"""

from dlplayground.studies.dropout.study import main

if __name__ == "__main__":
    raise SystemExit(main())
