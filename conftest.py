"""Thin door: the batch-size study's pytest plugin lives in the package (``dlplayground.bench.plugin``)."""

pytest_plugins = ["dlplayground.bench.plugin"]
