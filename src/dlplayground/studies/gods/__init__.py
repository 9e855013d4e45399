"""Does a Longformer beat a tuned bag of words on GODS 4.0 posts, and does its long context help?

The ``gods_longformer`` study: ``study`` runs it (``main(argv)``); the other modules of this package are its parts.
"""
