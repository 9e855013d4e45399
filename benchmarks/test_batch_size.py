"""Thin door: ``pytest benchmarks --benchmark-json out.json`` runs the batch-size suite of the package.

The test itself is ``dlplayground.bench.suite.test_inference``; the options, fixtures and the parametrization
over (model, batch size) come from the plugin ``dlplayground.bench.plugin`` (registered by the root conftest).
"""

from dlplayground.bench.suite import test_inference

__all__ = ["test_inference"]
