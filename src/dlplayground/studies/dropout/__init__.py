"""Does accuracy kept under eval-time dropout predict how far a model prunes and distils, beyond cheaper scores?

The ``dropout_overfitting`` study: ``study`` runs it (``main(argv)``); the other modules of this package are its parts.
"""
