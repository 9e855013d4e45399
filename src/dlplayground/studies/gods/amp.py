"""Mixed precision: which autocast dtype, and whether a GradScaler, for a device and ``--precision``.

``auto`` means fp16 with a GradScaler on CUDA (fp16's narrow exponent range underflows small gradients;
the scaler multiplies the loss up before backward and unscales before the step), and plain fp32 on the CPU
and on MPS. bf16 autocast (same exponent range as fp32, so no scaler) can be asked for on the CPU and on
CUDA GPUs that support it; on the CPU the study's precision/process table measures it, and for the small
Longformers trained here it ran several times *slower* than fp32 (per-op casts outweigh cheaper matmuls at
width 64-128), which is why ``auto`` no longer picks it there. Explicit choices are checked against what the
device supports and refused with the valid list.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from dlplayground.errors import UserInputError, choices_text

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class PrecisionPlan:
    """How one run computes: ``name`` is fp32/fp16/bf16; ``autocast_dtype`` None means no autocast."""

    name: str
    device_type: str
    autocast_dtype: torch.dtype | None
    use_grad_scaler: bool

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """The autocast region for forward passes (a no-op for fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.autocast_dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A GradScaler that is enabled only where the plan needs one (fp16 on CUDA)."""
        device_type = self.device_type if self.use_grad_scaler else "cpu"
        return torch.amp.GradScaler(device_type, enabled=self.use_grad_scaler)


def supported_precisions(device: torch.device) -> tuple[str, ...]:
    """The explicit precisions this device can train in."""
    if device.type == "cuda":
        return ("fp32", "fp16", "bf16") if torch.cuda.is_bf16_supported() else ("fp32", "fp16")
    if device.type == "cpu":
        return ("fp32", "bf16")
    return ("fp32",)


def select_precision(requested: str, device: torch.device) -> PrecisionPlan:
    """Resolve ``--precision`` for ``device``; raise ``UserInputError`` naming the valid choices."""
    if requested not in PRECISIONS:
        raise UserInputError(f"--precision {requested!r} is not a precision; expected {choices_text(PRECISIONS)}")
    name = requested
    if requested == "auto":
        name = "fp16" if device.type == "cuda" else "fp32"
    valid = supported_precisions(device)
    if name not in valid:
        raise UserInputError(
            f"--precision {requested!r} is not supported on {device.type}; choose {choices_text(('auto', *valid))}"
        )
    return PrecisionPlan(
        name=name,
        device_type=device.type,
        autocast_dtype=_DTYPES.get(name),
        use_grad_scaler=(name == "fp16" and device.type == "cuda"),
    )
