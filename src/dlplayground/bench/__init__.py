"""The batch-size study: batch size vs. inference time, per model and device, with its uncertainty.

The modules, in the order a point flows through them:

``config``     the typed options (declared once; pytest options and the CLI are generated from them)
``models``     the zoo: a registry of ``(model, make_input)`` factories, built-in and user models alike
``timing``     the one synchronized timer (warm-up, threads, device sync, raw samples)
``sweep``      builds each model once, explores its range and measures its points, recording the OOM boundary
``visits``     a model built for timing, a point's inputs, one visit of a point (shared by the sweep and workers)
``worker``     each pass in a fresh worker process (``python -m dlplayground.bench.worker``) and its client
``flops``      FLOPs and estimated bytes of one forward pass
``peaks``      the device's measured matmul and copy ceilings
``saturation`` where a bigger batch stops paying off, with its interval
``roofline``   where each point sits against the ceilings, and what bounds it
``profiling``  an optional torch.profiler trace per point
``summary``    the terminal summary
``plugin``     the pytest plugin: options, fixtures, JSON hooks
``suite``      the parametrized pytest-benchmark test (``pytest benchmarks`` runs it from a checkout;
               ``dlplayground bench`` runs it from an installed package)

Nothing here imports a study (``dlplayground.studies``).
"""
