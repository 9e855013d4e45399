"""Atomic writes: a reader sees the old output or the complete new one, never half of either.

Files are written to a temporary sibling and ``os.replace``-d into place; folders are built as a temporary
sibling and renamed, so an error mid-way leaves nothing behind but the previous result.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dlplayground.errors import UserInputError


def ensure_writable_dir(path: Path, what: str = "output folder") -> Path:
    """Create ``path``'s parent chain and check we may write there; raise a clear error otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserInputError(f"{what} {str(path)!r} exists and is not a folder")
    parent = path if path.exists() else path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"{what} {str(path)!r} cannot be created: {exc.strerror or exc}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserInputError(f"{what} {str(path)!r} is not writable (no write permission on {str(parent)!r})")
    return path


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    ensure_writable_dir(path.parent, "folder").mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    return path


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; on success it replaces ``final`` whole.

    On any exception the temporary folder is removed and ``final`` is untouched.
    """
    final = Path(final)
    ensure_writable_dir(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the result is meant to be shared
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.replace(old)
    tmp.replace(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
