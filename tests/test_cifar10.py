"""CIFAR-10 loader: reads batches written here in the real (Python 2 cPickle) format, refuses code.

``write_py2_batch`` reproduces what the CIFAR-10 authors' Python 2 wrote: every string is a Python 2
``str`` (``SHORT_BINSTRING``/``BINSTRING``, which ``encoding='bytes'`` turns into bytes), and the array is
rebuilt through ``numpy.core.multiarray._reconstruct`` -- the global name numpy 1.x wrote into the files.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from dlplayground.data.cifar10 import (
    CIFAR10_LABEL_NAMES,
    RestrictedUnpickler,
    load_cifar10,
    load_cifar_batch,
    restricted_load,
)
from dlplayground.errors import UserInputError


class Py2Pickler(pickle._Pickler):
    """Writes ``str`` and ``bytes`` as Python 2 ``str`` opcodes, as cPickle did for CIFAR-10."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: str | bytes) -> None:
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


def py2_dumps(obj: object) -> bytes:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    # numpy 2 names the reconstructor numpy._core...; the real files (numpy 1.x) say numpy.core...
    return buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def make_batch(n: int, seed: int, label_offset: int = 0) -> tuple[np.ndarray, list[int], dict]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [(i + label_offset) % 10 for i in range(n)]
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": labels, b"data": data,
             b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    return data, labels, batch


def write_py2_batch(path: Path, n: int = 4, seed: int = 0, label_offset: int = 0) -> tuple[np.ndarray, list[int]]:
    data, labels, batch = make_batch(n, seed, label_offset)
    path.write_bytes(py2_dumps(batch))
    return data, labels


def write_meta(folder: Path) -> None:
    meta = {b"num_cases_per_batch": 10000, b"label_names": [n.encode() for n in CIFAR10_LABEL_NAMES],
            b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(py2_dumps(meta))


class Payload:
    """A pickle that runs a shell command when loaded by plain ``pickle.load``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class ExecPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


# ------------------------------------------------------------------------------------------- reading
def test_reads_py2_batch_in_the_real_layout(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    data, labels = write_py2_batch(path, n=3, seed=1)
    assert b"numpy.core.multiarray\n_reconstruct" in path.read_bytes()  # the real files' global
    batch = load_cifar_batch(path)
    assert batch.images.shape == (3, 32, 32, 3)
    assert batch.images.dtype == np.uint8
    assert batch.labels.tolist() == labels
    # Row layout: 1024 red, then 1024 green, then 1024 blue values, each row-major 32 x 32.
    row = data[2]
    assert batch.images[2, 0, 1, 0] == row[1]             # red, y=0, x=1
    assert batch.images[2, 1, 0, 1] == row[1024 + 32]     # green, y=1, x=0
    assert batch.images[2, 31, 31, 2] == row[3071]        # blue, last pixel


def test_folder_parent_and_archive_give_the_same_images(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    d1, l1 = write_py2_batch(folder / "data_batch_1", n=4, seed=1)
    d2, l2 = write_py2_batch(folder / "data_batch_2", n=2, seed=2, label_offset=3)
    dt, lt = write_py2_batch(folder / "test_batch", n=3, seed=3, label_offset=7)
    write_meta(folder)
    (folder / "readme.html").write_text("not a batch")

    direct = load_cifar10(folder)
    assert direct.batches == ("data_batch_1", "data_batch_2", "test_batch")
    assert direct.labels.tolist() == l1 + l2 + lt
    assert direct.label_names == CIFAR10_LABEL_NAMES
    expected_first = d1[0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(direct.images[0], expected_first)

    parent = load_cifar10(tmp_path)
    np.testing.assert_array_equal(parent.images, direct.images)

    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    packed = load_cifar10(archive)
    np.testing.assert_array_equal(packed.images, direct.images)
    np.testing.assert_array_equal(packed.labels, direct.labels)

    train_only = load_cifar10(folder, include_test=False)
    assert len(train_only.images) == 6


def test_python3_protocol5_batch_with_str_keys_is_accepted(tmp_path: Path) -> None:
    data, labels, _ = make_batch(2, seed=4)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": data, "labels": labels}, protocol=5))
    batch = load_cifar_batch(path)
    assert batch.labels.tolist() == labels
    assert batch.images.shape == (2, 32, 32, 3)


# ------------------------------------------------------------------------------------------ refusing
@pytest.mark.parametrize("protocol", [2, 5])
def test_os_system_payload_is_refused_and_not_executed(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(pickle.dumps(Payload(f"touch {marker}"), protocol=protocol))
    with pytest.raises(UserInputError, match=r"data_batch_1.*refused.*system") as info:
        load_cifar10(folder)
    assert "not executed" in str(info.value)
    assert not marker.exists()


def test_payload_hidden_inside_a_valid_looking_batch_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data, labels, batch = make_batch(2, seed=5)
    batch[b"filenames"] = ExecPayload(marker)
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_dumps(batch))
    with pytest.raises(UserInputError, match=r"refused.*__builtin__\.exec"):
        load_cifar_batch(path)
    assert not marker.exists()


def test_restricted_unpickler_allows_only_numpy_globals() -> None:
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        RestrictedUnpickler(io.BytesIO(b"")).find_class("os", "system")
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        RestrictedUnpickler(io.BytesIO(b"")).find_class("numpy", "load")  # numpy, but not needed
    arr = restricted_load(io.BytesIO(py2_dumps(np.arange(6, dtype=np.uint8).reshape(2, 3))))
    np.testing.assert_array_equal(arr, np.arange(6).reshape(2, 3))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (py2_dumps([1, 2, 3]), r"holds a list, expected a CIFAR-10 batch dict"),
        (py2_dumps({b"labels": [1]}), r"lacks 'data'"),
        (py2_dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), r"expected uint8 of shape \(N, 3072\)"),
        (py2_dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), r"1 labels for 2 images"),
        (py2_dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}), r"labels outside 0..9"),
        (py2_dumps({b"data": np.zeros((1, 3072), np.uint8), b"fine_labels": [3]}), r"CIFAR-100"),
        (b"this is a text file, not a pickle\n", r"not a CIFAR-10 python batch"),
        (py2_dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]})[:40], r"not a CIFAR-10 python batch"),
    ],
    ids=["list", "no-data", "wrong-shape", "label-count", "label-range", "cifar100", "text", "truncated"],
)
def test_not_a_cifar_batch_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(content)
    with pytest.raises(UserInputError, match=message) as info:
        load_cifar10(tmp_path)
    assert "data_batch_1" in str(info.value)


def test_missing_and_empty_paths(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"--cifar .*nowhere.*no such file or folder"):
        load_cifar10(tmp_path / "nowhere")
    with pytest.raises(UserInputError, match=r"no CIFAR-10 batch files found"):
        load_cifar10(tmp_path)
    bogus = tmp_path / "cifar.tar.gz"
    bogus.write_text("not an archive")
    with pytest.raises(UserInputError, match=r"cifar\.tar\.gz.*not a folder of CIFAR-10 batches"):
        load_cifar10(bogus)
