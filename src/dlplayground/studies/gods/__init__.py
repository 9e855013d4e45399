"""Does resampling help a Longformer on the GODS 4.0 mental-health posts, and does it beat a bag of words?

The ``gods_longformer`` study: ``study`` runs it (``main(argv)``); the other modules of this package are its parts.
"""
