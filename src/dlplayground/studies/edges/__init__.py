"""Is the Laplacian a better edge detector than the gradient, judged against ground truth?

The ``edge_operators`` study: ``study`` runs it (``main(argv)``); the other modules of this package are its parts.
"""
