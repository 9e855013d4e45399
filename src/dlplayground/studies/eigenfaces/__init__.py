"""Face vs. no-face detection: does a PCA eigenface classifier detect faces, or the data set its non-faces came from?

The ``eigenfaces`` study: ``study`` runs it (``main(argv)``); the other modules of this package are its parts.
"""
