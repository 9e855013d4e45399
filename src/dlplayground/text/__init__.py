"""Text classification under imbalance, mixed precision and DistributedDataParallel.

Small single-concern modules used by ``experiments/gods_longformer.py``:

``sampler``      distributed weighted sampling (over/under-sampling that works under DDP)
``amp``          which autocast dtype and whether a GradScaler, per device and ``--precision``
``longformer``   tokenizer training, model building/loading, padding to the attention window
``distributed``  process-group setup from torchrun's environment, and failing fast instead of hanging
``train``        the training loop and sharded prediction
``metrics``      accuracy, macro-F1, per-class recall and the confusion matrix
``baselines``    majority class and TF-IDF + logistic regression
"""
