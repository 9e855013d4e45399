"""DL-Playground: a benchmarking harness and experiment lab for deep-learning practitioners.

One synchronized timer, one record type, one JSON envelope and one report generator serve the
batch-size study (``benchmarks/``) and the scripted studies (``experiments/``).
"""

__version__ = "0.1.0"
