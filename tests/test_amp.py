"""Mixed-precision selection per device and ``--precision``."""

from __future__ import annotations

import pytest
import torch

from dlplayground.errors import UserInputError
from dlplayground.studies.gods.amp import select_precision

CPU = torch.device("cpu")
CUDA = torch.device("cuda")
MPS = torch.device("mps")


@pytest.mark.parametrize(
    ("requested", "device", "name", "dtype", "scaler"),
    [
        ("auto", CPU, "fp32", None, False),  # bf16 autocast measured slower than fp32 for these small models
        ("auto", CUDA, "fp16", torch.float16, True),
        ("auto", MPS, "fp32", None, False),
        ("fp32", CPU, "fp32", None, False),
        ("bf16", CPU, "bf16", torch.bfloat16, False),
        ("fp16", CUDA, "fp16", torch.float16, True),
        ("bf16", CUDA, "bf16", torch.bfloat16, False),  # bf16 needs no loss scaling
        ("fp32", CUDA, "fp32", None, False),
    ],
)
def test_precision_plan_per_device(monkeypatch: pytest.MonkeyPatch, requested: str, device: torch.device,
                                   name: str, dtype: torch.dtype | None, scaler: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    plan = select_precision(requested, device)
    assert (plan.name, plan.autocast_dtype, plan.use_grad_scaler, plan.device_type) == (name, dtype, scaler,
                                                                                        device.type)


@pytest.mark.parametrize(
    ("requested", "device", "message"),
    [
        ("fp16", CPU, "not supported on cpu; choose 'auto', 'fp32' or 'bf16'"),
        ("bf16", MPS, "not supported on mps"),
        ("int8", CPU, "is not a precision"),
    ],
)
def test_unsupported_precision_is_refused(requested: str, device: torch.device, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        select_precision(requested, device)


def test_bf16_refused_on_a_gpu_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(UserInputError, match="'bf16' is not supported on cuda"):
        select_precision("bf16", CUDA)
    assert select_precision("auto", CUDA).name == "fp16"


def test_cpu_autocast_really_computes_in_bf16() -> None:
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with select_precision("bf16", CPU).autocast():
        assert (a @ b).dtype == torch.bfloat16
    with select_precision("fp32", CPU).autocast():
        assert (a @ b).dtype == torch.float32


def test_grad_scaler_is_a_pass_through_without_fp16() -> None:
    scaler = select_precision("bf16", CPU).grad_scaler()
    assert not scaler.is_enabled()
    loss = torch.tensor(2.5)
    assert scaler.scale(loss) is loss
