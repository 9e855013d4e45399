"""Can PCA eigenface features tell a face from a non-face, or only one data set from another?

The ``eigenfaces`` study: ``study`` runs it (``main(argv)``); the other modules of this package are its parts.
"""
