"""Memory per batch point (``dlplayground.bench.memory``): known-answer forwards, the fill fit, OOM checks.

The CPU tests measure real forwards through the torch profiler, on modules whose allocations are known to
the byte, so a reader that missed records, double-counted frees or read the wrong device would fail them. The
fill-batch tests use synthetic lines with a known answer and two capped devices: a fake one (the cap is
enforced on the footprint that ``forward_peak_bytes`` measured, so the allocations are real) and a real one
(a child process whose data segment is limited with ``RLIMIT_DATA``, so the CPU allocator itself fails).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from dlplayground.bench import memory
from dlplayground.bench.memory import (
    CPU_KIND,
    CUDA_KIND,
    MPS_KIND,
    FillEstimate,
    MemoryPeak,
    check_against_oom,
    fill_batch,
    forward_peak_bytes,
    oom_agreement,
    parameter_bytes,
    running_peak,
)
from dlplayground.bench.models import BUILTIN_MODELS, build
from dlplayground.devices import is_out_of_memory
from dlplayground.errors import UserInputError
from dlplayground.nets import MLP, SmallCNN

CPU = torch.device("cpu")
BATCHES = (1, 2, 4, 8, 16, 32, 64)
N = 10_000
"""Elements per item of the known-answer modules (40 kB of float32 per item)."""


class OneBuffer(nn.Module):
    """Allocates exactly N*b float32 elements, then reduces them to b: peak = 4*N*b + 4*b bytes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        buffer = x.new_ones(x.shape[0], N)
        return buffer.sum(dim=1)


class Chain(nn.Module):
    """Three N*b buffers in a row, each freed once the next exists: at most two live, peak ~ 8*N*b bytes.

    If frees were not subtracted the peak would read 12*N*b; if only the output counted, 4*b.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.new_ones(x.shape[0], N)
        c = a + 1
        del a
        d = c + 1
        del c
        return d.sum(dim=1)


def _slack(batch: int) -> int:
    """Bytes allowed above the known buffers: the float32 output (4*b) and a few 0-dim scalar tensors."""
    return 4 * batch + 256


# ------------------------------------------------------------------------------------------ CPU: known answers
@pytest.mark.parametrize("batch", [1, 3, 64])
def test_activation_peak_of_one_buffer_is_its_size(batch):
    peak = forward_peak_bytes(OneBuffer(), torch.zeros(batch, 1), CPU)
    assert peak.kind == CPU_KIND
    assert 4 * N * batch <= peak.activation_peak_bytes <= 4 * N * batch + _slack(batch)
    assert peak.input_bytes == 4 * batch
    assert peak.parameter_bytes == 0
    assert peak.peak_bytes == peak.input_bytes + peak.activation_peak_bytes


@pytest.mark.parametrize("batch", [1, 64])
def test_frees_inside_the_forward_lower_the_running_level(batch):
    peak = forward_peak_bytes(Chain(), torch.zeros(batch, 1), CPU)
    assert 8 * N * batch <= peak.activation_peak_bytes <= 8 * N * batch + _slack(batch)


def test_tuple_inputs_and_string_device_are_accepted():
    class Add(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return a + b

    peak = forward_peak_bytes(Add(), (torch.zeros(4, N), torch.zeros(4, N)), "cpu")
    assert peak.input_bytes == 2 * 4 * 4 * N
    assert 4 * 4 * N <= peak.activation_peak_bytes <= 4 * 4 * N + 256


def test_running_peak_of_known_sequences():
    assert running_peak([(0, 5), (1, 3), (2, -5), (3, 1)]) == 8
    assert running_peak([(0, -10), (1, 4)]) == 0  # a free of older memory never lifts the peak above 0
    assert running_peak([]) == 0


def test_kineto_and_chrome_trace_readers_agree():
    """The primary reader (raw Kineto events) and the fallback (the Chrome trace export) see the same records,
    and ``cpu_memory_events`` falls back when the profiler object lacks the Kineto path."""
    from torch.profiler import ProfilerActivity, profile

    def profiled() -> profile:
        with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out = Chain()(torch.zeros(8, 1))
        del out
        return prof

    prof = profiled()
    kineto = memory._kineto_memory_events(prof)
    assert running_peak(memory.cpu_memory_events(prof)) >= 8 * N * 8
    assert sum(b > 0 for _, b in kineto) >= 4  # three buffers and the output, at least
    chrome = memory._chrome_trace_memory_events(prof)  # a profile's trace can be exported only once
    assert [b for _, b in kineto] == [b for _, b in chrome]

    class OnlyPublic:  # what a torch without ``prof.profiler.kineto_results`` would still offer
        export_chrome_trace = profiled().export_chrome_trace

    assert [b for _, b in memory.cpu_memory_events(OnlyPublic())] == [b for _, b in kineto]


# ------------------------------------------------------------------------------------------ CPU: real networks
def _mlp() -> tuple[nn.Module, Callable[[int], torch.Tensor]]:
    return MLP(784, 256, 2, 10), lambda b: torch.randn(b, 784)


def _cnn() -> tuple[nn.Module, Callable[[int], torch.Tensor]]:
    return SmallCNN(3, (8, 16, 32), 10), lambda b: torch.randn(b, 3, 16, 16)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_zoo_peak_is_strictly_increasing_over_batch(name):
    """The zoo's MLP and CNN, as the sweep builds them. (Not every network is: a CNN as small as ``_cnn``
    needs more at batch 1 than at 2, because torch convolves a single image by im2col with a columns buffer
    and switches to oneDNN from batch 2 -- a real fixed cost, which the fill fit's ``m0`` absorbs.)"""
    torch.manual_seed(0)
    model, make_input = build(BUILTIN_MODELS[name])
    model.eval()
    peaks = [forward_peak_bytes(model, make_input(b), CPU) for b in BATCHES]
    activation = [p.activation_peak_bytes for p in peaks]
    total = [p.peak_bytes for p in peaks]
    assert all(a < b for a, b in zip(activation, activation[1:], strict=False)), activation
    assert all(a < b for a, b in zip(total, total[1:], strict=False)), total
    assert {p.parameter_bytes for p in peaks} == {parameter_bytes(model)}
    # Linear in the batch, as the fill fit assumes: a line explains nearly all of the variation.
    estimate = fill_batch(BATCHES, total, budget_bytes=1 << 30)
    assert estimate.r_squared > 0.99


def test_mlp_activation_peak_is_two_hidden_layers():
    """MLP(784, 256, 2, 10) in eval: Linear then ReLU (not in place) are both alive at the peak; dropout at rate 0
    returns its input. So the peak is 2 * 256 floats per item, to the byte."""
    model, make_input = _mlp()
    model.eval()
    for batch in (1, 32):
        assert forward_peak_bytes(model, make_input(batch), CPU).activation_peak_bytes == 2 * 256 * 4 * batch


def test_parameter_bytes_is_the_real_parameter_size():
    mlp, _ = _mlp()
    weights = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10  # two hidden Linear layers and the head
    assert parameter_bytes(mlp) == 4 * weights
    cnn, _ = _cnn()  # parameters plus batch-norm buffers (running stats, int64 step counters)
    assert parameter_bytes(cnn) == sum(t.numel() * t.element_size() for t in cnn.state_dict().values())
    tied = nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 10))
    tied[1].weight = tied[0].weight  # a shared tensor counts once
    assert parameter_bytes(tied) == 4 * (100 + 10 + 10)


def test_unknown_device_type_reports_no_peak():
    peak = forward_peak_bytes(nn.ReLU(), torch.zeros(4, 4, device="meta"), torch.device("meta"))
    assert peak.activation_peak_bytes is None
    assert peak.peak_bytes is None
    assert peak.kind.startswith("unavailable")
    assert "meta" in peak.kind


def test_negative_warmup_is_refused():
    with pytest.raises(UserInputError, match="warmup_calls"):
        forward_peak_bytes(OneBuffer(), torch.zeros(1, 1), CPU, warmup_calls=-1)


# ------------------------------------------------------------------------------------------ accelerators
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_activation_peak_of_one_buffer():
    cuda = torch.device("cuda")
    batch = 256
    peak = forward_peak_bytes(OneBuffer(), torch.zeros(batch, 1, device=cuda), cuda)
    assert peak.kind == CUDA_KIND
    # The caching allocator rounds each block up to 512 bytes; the row sum may take a small staging buffer.
    assert 4 * N * batch <= peak.activation_peak_bytes <= 1.01 * 4 * N * batch


@pytest.mark.mps
@pytest.mark.skipif(not torch.backends.mps.is_available(), reason="needs an Apple MPS device")
def test_mps_activation_peak_covers_one_buffer():
    mps = torch.device("mps")
    batch = 256
    peak = forward_peak_bytes(OneBuffer(), torch.zeros(batch, 1, device=mps), mps)
    assert peak.kind == MPS_KIND
    assert peak.activation_peak_bytes >= 4 * N * batch  # heap-granular: an upper bound, not exact


# ------------------------------------------------------------------------------------------ the fill fit
def test_fill_batch_recovers_a_known_line():
    m0, m1 = 50e6, 3e5  # 50 MB fixed, 300 kB per item
    batches = [1, 2, 4, 8, 16, 32, 64]
    estimate = fill_batch(batches, [round(m0 + m1 * b) for b in batches], budget_bytes=1_000_000_000)
    assert estimate.m0_bytes == pytest.approx(m0, rel=1e-9)
    assert estimate.m1_bytes_per_item == pytest.approx(m1, rel=1e-9)
    assert estimate.r_squared == pytest.approx(1.0)
    assert estimate.fill_batch_size == 3166  # floor((1e9 - 5e7) / 3e5) = floor(3166.67)
    assert estimate.reason == ""
    assert estimate.batch_sizes == tuple(batches)


def test_fill_batch_with_seeded_noise_stays_near_the_line():
    rng = np.random.default_rng(0)
    m0, m1 = 20e6, 1e5
    batches = [1, 2, 4, 8, 16, 32, 64, 128]
    peaks = [round((m0 + m1 * b) * (1 + rng.normal(0, 0.01))) for b in batches]
    estimate = fill_batch(batches, peaks, budget_bytes=500_000_000)
    assert estimate.m1_bytes_per_item == pytest.approx(m1, rel=0.05)
    assert estimate.fill_batch_size == pytest.approx((500e6 - m0) / m1, rel=0.05)
    assert 0.98 < estimate.r_squared < 1.0


def test_flat_profile_gives_no_fill_batch():
    estimate = fill_batch([1, 2, 4, 8], [1000, 1000, 1000, 1000], budget_bytes=10_000)
    assert estimate.fill_batch_size is None
    assert "does not grow" in estimate.reason
    assert estimate.r_squared is None  # nothing varies, nothing to explain
    assert estimate.m1_bytes_per_item == pytest.approx(0.0, abs=1e-9)


def test_budget_below_the_fixed_part_gives_no_fill_batch():
    estimate = fill_batch([1, 2, 4], [1100, 1200, 1400], budget_bytes=1000)  # m0 = 1000, m1 = 100
    assert estimate.fill_batch_size is None
    assert "not even batch 1" in estimate.reason


def test_fewer_than_two_batch_sizes_give_none():
    assert fill_batch([8], [1000], budget_bytes=10_000) is None
    assert fill_batch([8, 8], [1000, 1010], budget_bytes=10_000) is None


@pytest.mark.parametrize(("batches", "peaks", "budget", "message"), [
    ([1, 2], [1, 2, 3], 10, "same length"),
    ([0, 2], [1, 2], 10, "batch sizes must be >= 1"),
    ([1, 2], [1, None], 10, "peak bytes"),
    ([1, 2], [1, 2], 0, "budget_bytes"),
])
def test_fill_batch_refuses_bad_input(batches, peaks, budget, message):
    with pytest.raises(UserInputError, match=message):
        fill_batch(batches, peaks, budget)


# ------------------------------------------------------------------------------------------ the OOM check
def _estimate_with_fill(fill: int | None) -> FillEstimate:
    return FillEstimate(m0_bytes=0.0, m1_bytes_per_item=1.0, r_squared=1.0, budget_bytes=100,
                        fill_batch_size=fill, reason="" if fill is not None else "memory does not grow",
                        batch_sizes=(1, 2), peak_bytes=(1, 2))


@pytest.mark.parametrize(("fill", "oom", "agree", "start"), [
    (48, 64, True, "Consistent: the extrapolated fill batch 48 lies within one power-of-two step"),
    (32, 64, True, "Consistent"),  # the edges of the rule: oom / 2 ...
    (128, 64, True, "Consistent"),  # ... and 2 * oom
    (31, 64, False, "Inconsistent: the extrapolated fill batch 31 is more than one power-of-two step"),
    (129, 64, False, "Inconsistent"),
    (48, None, None, "Unresolved: the extrapolated fill batch is 48, but no out-of-memory boundary"),
    (None, 64, None, "Unresolved: no fill batch was extrapolated (memory does not grow)"),
])
def test_check_against_oom_holds_fails_and_is_unresolved(fill, oom, agree, start):
    estimate = _estimate_with_fill(fill)
    assert oom_agreement(estimate, oom) is agree
    assert check_against_oom(estimate, oom).startswith(start)


def test_check_against_oom_without_an_estimate():
    assert oom_agreement(None, 64) is None
    assert check_against_oom(None, 64).startswith("Unresolved: fewer than two batch sizes")


# ------------------------------------------------------------------------------------------ capped devices
class CappedCPU:
    """A fake device with ``cap_bytes`` of memory: it runs the forward, measures its footprint with
    ``forward_peak_bytes`` and, when the footprint exceeds the cap, raises the CPU allocator's own error --
    as a device of that size would have at the allocation that crossed it. The footprint is what real
    allocations of the real network measured, never the line the fill fit assumes."""

    def __init__(self, cap_bytes: int):
        self.cap_bytes = cap_bytes

    def run(self, model: nn.Module, inputs: torch.Tensor) -> MemoryPeak:
        peak = forward_peak_bytes(model, inputs, CPU)
        if peak.peak_bytes > self.cap_bytes:
            raise RuntimeError(f"[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                               f"memory: you tried to allocate {peak.peak_bytes - self.cap_bytes} bytes.")
        return peak


def test_fill_batch_is_within_one_step_of_a_fake_devices_oom_boundary():
    torch.manual_seed(0)
    model, make_input = _mlp()
    model.eval()
    cap = parameter_bytes(model) + (3 << 20)  # the weights plus 3 MiB for inputs and activations
    device, fitted, batch, error = CappedCPU(cap), [], 1, None
    while error is None:
        try:
            fitted.append((batch, device.run(model, make_input(batch)).peak_bytes))
            batch *= 2
        except RuntimeError as exc:
            error = exc
    assert is_out_of_memory(error)  # the sweep's own test: this ends it as an OOM boundary, not a failure
    oom = batch
    estimate = fill_batch([b for b, _ in fitted], [p for _, p in fitted], budget_bytes=cap)
    assert oom_agreement(estimate, oom) is True, check_against_oom(estimate, oom)
    assert fitted[-1][0] <= estimate.fill_batch_size < oom  # in fact inside the bracket the sweep resolved


CAPPED_CHILD = textwrap.dedent("""
    import json, resource, sys
    import torch
    from torch import nn
    from dlplayground.bench.memory import fill_batch, forward_peak_bytes
    from dlplayground.devices import is_out_of_memory

    torch.set_num_threads(1)
    ITEM, BUDGET = int(sys.argv[1]), int(sys.argv[2])

    class Wide(nn.Module):  # 16 copies of each item, then one more: two 16*ITEM buffers live at the peak
        def forward(self, x):
            h = x.repeat(1, 16)
            h2 = h * 2.0
            del h
            return h2.sum(dim=1)

    def vm_data():  # what RLIMIT_DATA limits (Linux >= 4.7 counts private anonymous mappings too)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))

    model, fitted = Wide(), [1, 2, 4, 8, 16]
    peaks = [forward_peak_bytes(model, torch.ones(b, ITEM), torch.device("cpu")).peak_bytes for b in fitted]
    resource.setrlimit(resource.RLIMIT_DATA, (vm_data() + BUDGET, resource.RLIM_INFINITY))
    batch, oom, message = 1, None, ""
    while oom is None and batch <= 1 << 16:
        try:
            x = torch.ones(batch, ITEM)
            with torch.inference_mode():
                y = model(x)
            del x, y
            batch *= 2
        except RuntimeError as exc:
            if not is_out_of_memory(exc):
                raise
            oom, message = batch, str(exc)
    estimate = fill_batch(fitted, peaks, BUDGET)
    print(json.dumps({"oom": oom, "message": message, "fill": estimate.fill_batch_size}))
""")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA caps mmap'd memory only on Linux")
def test_fill_batch_is_within_one_step_of_a_real_allocators_oom_boundary():
    """A child process limits its data segment to what it uses plus 100 MiB, then doubles the batch of a
    memory-heavy module until the CPU allocator itself fails. The fill batch extrapolated from the profiler's
    peaks at batches 1..16 (measured before the cap) must land within one step of that real boundary."""
    item, budget = 16384, 100 << 20  # 64 kB per item of input; about 2 MiB of activations per item
    proc = subprocess.run([sys.executable, "-c", CAPPED_CHILD, str(item), str(budget)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "can't allocate memory" in result["message"]  # the real CPU allocator's wording
    assert result["oom"] is not None
    estimate = _estimate_with_fill(result["fill"])
    assert oom_agreement(estimate, result["oom"]) is True, check_against_oom(estimate, result["oom"])
    assert result["oom"] // 2 <= result["fill"] < result["oom"]
