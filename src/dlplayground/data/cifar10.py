"""CIFAR-10 "python version" batches, read without letting the file run code.

The format (https://www.cs.toronto.edu/~kriz/cifar.html): the folder ``cifar-10-batches-py`` holds
``data_batch_1`` ... ``data_batch_5``, ``test_batch`` and ``batches.meta``, each a dict pickled by
Python 2's cPickle. A batch has bytes keys: ``b'data'`` a uint8 array of shape (N, 3072) -- each row the
1024 red, then 1024 green, then 1024 blue values of a 32 x 32 image in row-major order --, ``b'labels'``
a list of N ints in 0..9, ``b'batch_label'`` and ``b'filenames'``. ``batches.meta`` holds
``b'label_names'``.

A pickle is a program: ``pickle.load`` on an untrusted file can call any importable function (the classic
``os.system`` payload). We therefore unpickle with ``RestrictedUnpickler``, whose ``find_class`` admits
only the numpy globals an array needs to be rebuilt -- ``numpy.core.multiarray._reconstruct`` (the name in
the real files, written by numpy 1.x) and its numpy 2 spelling ``numpy._core.multiarray._reconstruct``,
``numpy.ndarray``, ``numpy.dtype``, and ``_frombuffer`` for batches re-pickled with protocol 5 -- and
refuses every other global *before* it is looked up, so nothing else is imported or called. Dicts, lists,
ints and Python 2 strings need no globals at all. ``encoding='bytes'`` keeps Python 2 strings as bytes, as
the format's bytes keys require.

``load_cifar10`` accepts the ``cifar-10-batches-py`` folder, its parent, one batch file, or the downloaded
``cifar-10-python.tar.gz`` itself (members are read from the archive in memory; nothing is extracted).
"""

from __future__ import annotations

import importlib
import io
import pickle
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from dlplayground.errors import UserInputError

CIFAR10_LABEL_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
SIDE_PX = 32
ROW_LENGTH = 3 * SIDE_PX * SIDE_PX
BATCH_FOLDER = "cifar-10-batches-py"
_BATCH_NAME = re.compile(r"^(data_batch_\d+|test_batch)$")
META_NAME = "batches.meta"

# (module, name) -> (module to import, attribute). numpy 2 moved numpy.core to numpy._core; both
# spellings resolve to the real module (trying numpy._core first avoids numpy 2's deprecation shim).
_ALLOWED_GLOBALS: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("numpy.core.multiarray", "_reconstruct"): (("numpy._core.multiarray", "numpy.core.multiarray"), "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): (("numpy._core.multiarray", "numpy.core.multiarray"), "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): (("numpy._core.numeric", "numpy.core.numeric"), "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): (("numpy._core.numeric", "numpy.core.numeric"), "_frombuffer"),
    ("numpy", "ndarray"): (("numpy",), "ndarray"),
    ("numpy", "dtype"): (("numpy",), "dtype"),
}


class ForbiddenGlobalError(pickle.UnpicklingError):
    """The pickle asked for a global outside the allow-list (it was not imported, let alone called)."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild dicts, lists, strings, numbers and numpy arrays, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise ForbiddenGlobalError(f"global '{module}.{name}' is not allowed in a CIFAR-10 batch")
        candidates, attribute = allowed
        for candidate in candidates:
            try:
                return getattr(importlib.import_module(candidate), attribute)
            except (ImportError, AttributeError):
                continue
        raise ForbiddenGlobalError(f"global '{module}.{name}' is not available in this numpy")


def restricted_load(handle: BinaryIO) -> Any:
    """Unpickle a Python 2 cPickle stream (``encoding='bytes'``) with only numpy globals allowed."""
    return RestrictedUnpickler(handle, encoding="bytes").load()


# ----------------------------------------------------------------------------------------- one batch
@dataclass(frozen=True)
class CifarBatch:
    """One decoded batch: images as (N, 32, 32, 3) uint8 RGB and labels as (N,) int64."""

    name: str
    images: np.ndarray
    labels: np.ndarray


def _str_keys(obj: dict) -> dict[str, Any]:
    return {(k.decode("latin-1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def _unpickle(handle: BinaryIO, where: str) -> Any:
    try:
        return restricted_load(handle)
    except ForbiddenGlobalError as exc:
        raise UserInputError(
            f"--cifar {where}: refused to load: {exc}. A CIFAR-10 batch only needs numpy arrays; this "
            "pickle would import other code, so it was not executed"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, UnicodeDecodeError, OverflowError, MemoryError) as exc:
        raise UserInputError(
            f"--cifar {where}: not a CIFAR-10 python batch (unpickling failed: {type(exc).__name__}: {exc})"
        ) from None


def parse_batch(obj: Any, where: str, name: str = "batch") -> CifarBatch:
    """Check an unpickled object is a CIFAR-10 batch dict and decode it; errors name ``where``."""
    if not isinstance(obj, dict):
        raise UserInputError(
            f"--cifar {where}: holds a {type(obj).__name__}, expected a CIFAR-10 batch dict with "
            "b'data' and b'labels'"
        )
    batch = _str_keys(obj)
    if "fine_labels" in batch or "coarse_labels" in batch:
        raise UserInputError(f"--cifar {where}: this is a CIFAR-100 batch (fine/coarse labels); expected CIFAR-10")
    missing = [k for k in ("data", "labels") if k not in batch]
    if missing:
        raise UserInputError(
            f"--cifar {where}: batch dict lacks {', '.join(repr(k) for k in missing)} "
            f"(has {sorted(batch)}); expected a CIFAR-10 python batch"
        )
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW_LENGTH:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", type(data).__name__)
        raise UserInputError(
            f"--cifar {where}: b'data' is {dtype} of shape {shape}, expected uint8 of shape (N, {ROW_LENGTH})"
        )
    try:
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (TypeError, ValueError):
        raise UserInputError(f"--cifar {where}: b'labels' is not a list of integers") from None
    if labels.shape != (data.shape[0],):
        raise UserInputError(
            f"--cifar {where}: {labels.size} labels for {data.shape[0]} images; expected one label per row"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_LABEL_NAMES)):
        raise UserInputError(f"--cifar {where}: labels outside 0..9 (min {labels.min()}, max {labels.max()})")
    images = data.reshape(-1, 3, SIDE_PX, SIDE_PX).transpose(0, 2, 3, 1).copy()
    return CifarBatch(name=name, images=images, labels=labels)


def load_cifar_batch(path: Path | str) -> CifarBatch:
    """Read one batch file (e.g. ``data_batch_1``) safely; ``UserInputError`` names the file on any problem."""
    path = Path(path)
    where = repr(str(path))
    if not path.is_file():
        raise UserInputError(f"--cifar {where}: no such file")
    try:
        with path.open("rb") as handle:
            obj = _unpickle(handle, where)
    except OSError as exc:
        raise UserInputError(f"--cifar {where}: cannot be read: {exc.strerror or exc}") from None
    return parse_batch(obj, where, path.name)


# ------------------------------------------------------------------------------------ the data set
@dataclass(frozen=True)
class CifarImages:
    """CIFAR-10 images (N, 32, 32, 3) uint8 RGB, labels (N,), the class names and the batches read."""

    images: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    batches: tuple[str, ...]
    source: str


def _iter_members(path: Path) -> Iterator[tuple[str, str, bytes | Path]]:
    """(member name, display name, bytes or file path) for batch and meta files in a folder or archive."""
    if path.is_file() and (_BATCH_NAME.match(path.name) or path.name == META_NAME):
        yield path.name, repr(str(path)), path  # one batch file named directly
        return
    if path.is_file():
        try:
            with tarfile.open(path, "r:*") as archive:
                for member in archive.getmembers():
                    base = Path(member.name).name
                    if member.isfile() and (_BATCH_NAME.match(base) or base == META_NAME):
                        handle = archive.extractfile(member)
                        if handle is not None:
                            yield base, f"{str(path)!r} member {member.name!r}", handle.read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UserInputError(
                f"--cifar {str(path)!r}: not a folder of CIFAR-10 batches nor a readable "
                f"cifar-10-python.tar.gz ({type(exc).__name__}: {exc})"
            ) from None
        return
    folder = path / BATCH_FOLDER if (path / BATCH_FOLDER).is_dir() else path
    try:
        children = sorted(folder.iterdir())
    except OSError as exc:
        raise UserInputError(f"--cifar {str(folder)!r}: cannot be listed: {exc.strerror or exc}") from None
    for child in children:
        if child.is_file() and (_BATCH_NAME.match(child.name) or child.name == META_NAME):
            yield child.name, repr(str(child)), child


def _batch_order(name: str) -> tuple[int, int]:
    match = re.match(r"data_batch_(\d+)$", name)
    return (0, int(match.group(1))) if match else (1, 0)


def load_cifar10(path: Path | str, *, include_test: bool = True) -> CifarImages:
    """Read every CIFAR-10 batch under ``path`` (folder, its parent, the .tar.gz archive, or one batch file).

    Raises ``UserInputError`` naming the path when it is missing, holds no batch files, or any batch is
    not a CIFAR-10 batch -- including a pickle that asks for code outside the numpy allow-list.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise UserInputError(f"--cifar {str(root)!r}: no such file or folder")
    batches: list[tuple[str, CifarBatch]] = []
    label_names = CIFAR10_LABEL_NAMES
    for name, where, content in _iter_members(root):
        if isinstance(content, Path):
            try:
                raw = content.read_bytes()
            except OSError as exc:
                raise UserInputError(f"--cifar {where}: cannot be read: {exc.strerror or exc}") from None
        else:
            raw = content
        obj = _unpickle(io.BytesIO(raw), where)
        if name == META_NAME:
            meta = _str_keys(obj) if isinstance(obj, dict) else {}
            names = meta.get("label_names")
            if isinstance(names, list) and len(names) == len(CIFAR10_LABEL_NAMES):
                label_names = tuple(n.decode("latin-1") if isinstance(n, bytes) else str(n) for n in names)
            continue
        if name == "test_batch" and not include_test:
            continue
        batches.append((name, parse_batch(obj, where, name)))
    if not batches:
        raise UserInputError(
            f"--cifar {str(root)!r}: no CIFAR-10 batch files found (expected data_batch_1..5 and/or test_batch "
            f"in the folder, in {BATCH_FOLDER}/ below it, or a cifar-10-python.tar.gz)"
        )
    batches.sort(key=lambda item: _batch_order(item[0]))
    images = np.concatenate([b.images for _, b in batches])
    labels = np.concatenate([b.labels for _, b in batches])
    names = tuple(name for name, _ in batches)
    return CifarImages(
        images=images, labels=labels, label_names=label_names, batches=names,
        source=f"CIFAR-10 ({len(images)} images from {', '.join(names)}) in {str(root)}",
    )
