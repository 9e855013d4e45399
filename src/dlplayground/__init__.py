"""DL-Playground: a benchmarking harness and experiment lab for deep-learning practitioners.

One synchronized timer, one record type, one JSON envelope and one report generator serve the
batch-size study (``dlplayground.bench``) and the scripted studies (``dlplayground.studies``). The layers and
the flow of one record: docs/architecture.md.
"""

__version__ = "0.1.0"
