"""The scripted studies: one package per study, each with a ``study`` module whose ``main(argv)`` runs it.

``STUDIES`` maps the name a user types (``dlplayground run NAME``) to that module. The packages share the
runner (``studies.runner``: common flags, seeding, threads, output folder, envelope) and the foundation below
them (devices, seeding, results, stats, nets, data); none imports the batch-size study (``dlplayground.bench``)
and the bench imports none of them. Importing this package is cheap: a study is imported only when run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from dlplayground.errors import UserInputError, choices_text

STUDIES: dict[str, str] = {
    "dropout_overfitting": "dlplayground.studies.dropout.study",
    "edge_operators": "dlplayground.studies.edges.study",
    "eigenfaces": "dlplayground.studies.eigenfaces.study",
    "gods_longformer": "dlplayground.studies.gods.study",
}


def study_main(name: str) -> Callable[[Sequence[str] | None], int]:
    """The ``main(argv)`` of the study called ``name``; ``UserInputError`` naming the choices if unknown."""
    module = STUDIES.get(name)
    if module is None:
        raise UserInputError(f"unknown study {name!r}; choose {choices_text(STUDIES)}")
    return importlib.import_module(module).main
