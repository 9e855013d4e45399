"""Device selection and validation: what can be tested without a GPU, with CUDA faked where needed."""

from __future__ import annotations

import pytest
import torch

from dlplayground import devices
from dlplayground.devices import DeviceUnavailableError, parse_device, parse_dtype, supported_dtypes
from dlplayground.errors import UserInputError


def test_cpu_is_always_available():
    assert devices.available_devices()[0] == "cpu"
    assert parse_device("cpu") == torch.device("cpu")
    assert parse_device(" CPU ") == torch.device("cpu")


@pytest.mark.parametrize("spec", ["tpu", "gpu", "cuda:x", "cuda:-1", "", "cpu:0"])
def test_malformed_devices_are_rejected_with_the_choices(spec):
    with pytest.raises(UserInputError, match=r"--device"):
        parse_device(spec)


def test_cuda_requested_without_cuda_names_what_is_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailableError, match=r"'cuda' is not available on this machine; available: 'cpu'"):
        parse_device("cuda")


def test_cuda_index_is_checked_against_the_device_count(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert parse_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceUnavailableError, match=r"only 2 CUDA device\(s\).*'cuda:0' or 'cuda:1'"):
        parse_device("cuda:2")


def test_dtype_support_depends_on_the_device(monkeypatch):
    cpu = torch.device("cpu")
    assert parse_dtype("bfloat16", cpu) is torch.bfloat16
    with pytest.raises(UserInputError, match="not supported on cpu"):
        parse_dtype("float16", cpu)
    with pytest.raises(UserInputError, match="not a dtype"):
        parse_dtype("float64x", cpu)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert supported_dtypes(torch.device("cuda")) == ["float32", "float16"]


def test_out_of_memory_detection():
    assert devices.is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    assert devices.is_out_of_memory(torch.OutOfMemoryError("any wording"))
    assert devices.is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert devices.is_out_of_memory(RuntimeError("HIP out of memory. Tried to allocate 2.00 GiB"))
    assert devices.is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
                                                 "can't allocate memory: you tried to allocate 4 bytes."))
    assert devices.is_out_of_memory(MemoryError())
    assert not devices.is_out_of_memory(RuntimeError("shape mismatch"))
    assert not devices.is_out_of_memory(ValueError("out of memory"))  # not an error torch raises for memory


def test_a_real_cpu_allocation_failure_is_out_of_memory():
    """The CPU allocator's own error (not the CUDA wording) is what a too-large batch raises on the CPU."""
    with pytest.raises(RuntimeError) as caught:
        torch.empty(1 << 50, dtype=torch.uint8)  # 1 PiB: more than any machine can map
    assert devices.is_out_of_memory(caught.value)


def test_environment_fingerprint_has_what_a_reader_needs():
    env = devices.environment_fingerprint("cpu").to_dict()
    for key in ("torch", "cuda", "cudnn", "cpu_model", "torch_threads", "device_name", "git", "python"):
        assert key in env
    assert env["torch"] == torch.__version__
    assert env["torch_threads"] == torch.get_num_threads()


def test_synchronize_and_peak_memory_on_cpu():
    cpu = torch.device("cpu")
    devices.synchronize(cpu)  # a no-op, must not raise
    peak, kind = devices.peak_memory(cpu)
    assert kind == "process_max_rss"
    assert peak is not None
    assert peak > 0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_peak_memory_is_per_window():
    cuda = torch.device("cuda")
    devices.reset_peak_memory(cuda)
    x = torch.empty(64 * 1024 * 1024, dtype=torch.uint8, device=cuda)
    peak, kind = devices.peak_memory(cuda)
    assert kind == "cuda_max_allocated"
    assert peak >= x.numel()
