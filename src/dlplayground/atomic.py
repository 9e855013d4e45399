"""Atomic writes: a reader sees the old output or the complete new one, never half of either.

Files are written to a temporary sibling and ``os.replace``-d into place; folders are built as a temporary
sibling and renamed, so an error mid-way leaves nothing behind but the previous result. Three more guards
keep a user's files safe:

* ``check_output_dir`` refuses, before any work, a folder that is not one of ours (it holds files but not our
  marker file), the current folder or one that contains it -- replacing those would delete the user's files;
* ``output_lock`` makes a second run writing to the same output fail at once with the first one's pid,
  instead of racing it (an advisory ``flock`` on a hidden sibling, released when the process ends, however
  it ends);
* temporary siblings carry the writer's pid, so one left by a killed run (SIGKILL, a power cut) is removed
  by the next run to the same output; SIGTERM and Ctrl-C unwind normally and remove their own.

Files are created with the permissions the umask gives (``mkstemp`` alone would make them private).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX; elsewhere (Windows) runs are not locked against each other
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

from dlplayground.errors import UserInputError


def ensure_writable_dir(path: Path, what: str = "output folder") -> Path:
    """Create ``path``'s parent chain and check we may write there; raise a clear error otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserInputError(f"{what} {str(path)!r} is a file, not a folder")
    parent = path if path.exists() else path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"{what} {str(path)!r} cannot be created: {exc.strerror or exc}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserInputError(f"{what} {str(path)!r} is not writable (no write permission on {str(parent)!r})")
    return path


def _umask_mode(full: int) -> int:
    """The mode ``open()`` (``full`` 0o666) or ``mkdir()`` (0o777) would give under the current umask: 0o644 and
    0o755 for umask 022. The umask can only be read by setting it, so it is set back at once."""
    mask = os.umask(0)
    os.umask(mask)
    return full & ~mask


def _output_path(path: Path, what: str) -> Path:
    """``path`` made absolute (``.`` and ``..`` resolved), refusing the current folder and the folders above it."""
    path = Path(path).resolve()
    cwd = Path.cwd().resolve()
    if path == cwd or path in cwd.parents or not path.name:
        raise UserInputError(f"{what} {str(path)!r} is the current folder or contains it; writing there would "
                             "replace your files: give a new folder, e.g. reports/my-run")
    return path


def check_output_dir(path: Path, *, marker: str, what: str = "output folder") -> Path:
    """Refuse, before any work, an output folder we may not replace; return it as an absolute path.

    A folder may be replaced when it does not exist, is empty, or holds ``marker`` (the file every output of
    this kind writes: ``result.json`` for a study, the manifest for a report), i.e. it is one of ours.
    """
    path = _output_path(Path(path), what)
    if path.exists() and not path.is_dir():
        raise UserInputError(f"{what} {str(path)!r} is a file, not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / marker).is_file():
        raise UserInputError(f"{what} {str(path)!r} exists and holds files that are not a DL-Playground output "
                             f"(no {marker}); refusing to replace it (choose a new folder, or remove it yourself)")
    return ensure_writable_dir(path, what)


def check_output_file(path: Path, *, what: str = "output file") -> Path:
    """Refuse an output file path that is a folder (``-o .``, ``-o reports/``); return it absolute."""
    path = Path(path).resolve()
    if path.is_dir() or not path.name:
        raise UserInputError(f"{what} {str(path)!r} is a folder; give a file name, e.g. {str(path / 'run.json')!r}")
    ensure_writable_dir(path.parent, f"folder of the {what}").mkdir(exist_ok=True)
    return path


_HELD: dict[Path, int] = {}


@contextlib.contextmanager
def output_lock(path: Path, what: str = "output") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` as an output for the duration; a second writer is refused at once.

    Re-entrant within one process (``bench --report`` locks the report folder, then the report builder does).
    """
    path = Path(path).resolve()
    if fcntl is None or path in _HELD:
        _HELD[path] = _HELD.get(path, 0) + 1
        try:
            yield
        finally:
            _HELD[path] -= 1
            if not _HELD[path]:
                del _HELD[path]
        return
    lock = path.with_name(f".{path.name}.lock")
    ensure_writable_dir(lock.parent, "folder").mkdir(exist_ok=True)
    handle = _locked(lock, path, what)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _HELD[path] = 1
        try:
            yield
        finally:
            del _HELD[path]
            with contextlib.suppress(OSError):
                lock.unlink()
    finally:
        handle.close()


def _locked(lock: Path, path: Path, what: str):  # noqa: ANN202 -- an open text file
    """Open and ``flock`` the lock file; refuse if another process holds it.

    The holder removes the file when it is done, so a lock taken on a file that has meanwhile been removed (or
    replaced) locks nothing: the inode is checked after locking, and the open is retried on a mismatch.
    """
    while True:
        handle = lock.open("a+")  # noqa: SIM115 -- held open for the duration, closed by the caller
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise UserInputError(f"{what} {str(path)!r} is being written by another dlplayground run (pid {holder}); "
                                 "wait for it to finish, or choose another output") from None
        try:
            same = os.fstat(handle.fileno()).st_ino == lock.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(final: Path) -> list[Path]:
    """Remove the temporary siblings of ``final`` left by writers that no longer run (killed mid-write)."""
    final = Path(final).resolve()
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.(\d+)\.[^.]+\.(partial|tmp)$")
    removed = []
    if not final.parent.is_dir():
        return removed
    for sibling in final.parent.iterdir():
        match = pattern.match(sibling.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            if sibling.is_dir() and not sibling.is_symlink():
                shutil.rmtree(sibling, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    sibling.unlink()
            removed.append(sibling)
    return removed


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    ensure_writable_dir(path.parent, f"cannot write {path.name!r}: its folder").mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _umask_mode(0o666))
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
    final = _output_path(Path(final), "output folder")
    ensure_writable_dir(final)
    with output_lock(final, "output folder"):
        remove_stale_temporaries(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".partial", dir=final.parent))
        tmp.chmod(_umask_mode(0o777))  # mkdtemp makes it private; the result is meant to be shared
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.{os.getpid()}.old.tmp")
            final.replace(old)
        tmp.replace(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
