"""Does a Longformer beat a tuned bag of words on GODS 4.0 posts, and does its long context help?

Method: nested cross-validation -- imbalance strategy, seed and TF-IDF settings chosen on inner folds with the
same budget, every model scored on held-out posts with paired intervals -- a short-context twin of the same
model, and fp32/bf16/fp16 autocast x one/two DDP processes measured. The full question, method and how to read
the answer are in the study's module, ``dlplayground.studies.gods.study``, and in ``docs/gods_longformer.md``.

Run it (flags: ``--help``; every study has ``--quick``, ``--out DIR``, ``--seed N``, ``--device D``)::

    python experiments/gods_longformer.py --quick
    dlplayground run gods_longformer --quick          # the same, from an installed package
    python experiments/gods_longformer.py --train Train.csv --test Test.csv --model ./longformer-base-4096

Distributed over two processes: ``torchrun --standalone --nproc_per_node 2 experiments/gods_longformer.py``.

It prints its verdict and where its results went (``result.json``, figures, ``submission.csv``); render them
with ``dlplayground report``.
"""

from dlplayground.studies.gods.study import main

if __name__ == "__main__":
    raise SystemExit(main())
