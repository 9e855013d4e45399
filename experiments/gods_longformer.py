"""Does resampling help a Longformer on the GODS 4.0 mental-health posts, and does it beat a bag of words?

Method: a Longformer classifier trained with mixed precision, distributed over ranks, under four imbalance
strategies, against majority and TF-IDF baselines. The full question, method and how to read the answer are in
the study's module, ``dlplayground.studies.gods.study``, and in ``docs/gods_longformer.md``.

Run it (flags: ``--help``; every study has ``--quick``, ``--out DIR``, ``--seed N``, ``--device D``)::

    python experiments/gods_longformer.py --quick
    dlplayground run gods_longformer --quick          # the same, from an installed package

Distributed over two processes: ``torchrun --standalone --nproc_per_node 2 experiments/gods_longformer.py``.

It prints its verdict and where its results went (``result.json``, figures); render them with
``dlplayground report``.
"""

from dlplayground.studies.gods.study import main

if __name__ == "__main__":
    raise SystemExit(main())
