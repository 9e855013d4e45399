"""The precision x processes table: which cells run where, the timing arithmetic, memory windows, real workers.

No GPU is available to these tests: the CUDA cells are checked through their selection and skip logic only
(the device count and bf16 support are faked); the CPU cells run for real, with gloo for two processes.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from dlplayground.data.zindi import read_zindi_csv, sample_paths
from dlplayground.studies.gods import efficiency
from dlplayground.studies.gods.comparison import BootstrapPlan
from dlplayground.studies.gods.efficiency import (
    measure_configurations,
    plan_configurations,
    throughput,
    warmup_steps_for,
    worker_environment,
)
from dlplayground.studies.gods.efficiency_worker import read_peak, reset_peak
from dlplayground.studies.gods.longformer import QUICK_SPEC, encode, train_tokenizer, wrap_tokenizer

CPU = torch.device("cpu")
PLAN = BootstrapPlan(resamples=200, level=0.95, seed=0)


def _cells(planned: list[efficiency.PlannedConfig]) -> dict[tuple[str, int], str | None]:
    return {(c.precision, c.world_size): c.skip_reason for c in planned}


def test_cpu_runs_fp32_and_bf16_in_one_and_two_gloo_processes() -> None:
    planned = plan_configurations(CPU, global_batch=16)
    cells = _cells(planned)
    assert [k for k, reason in cells.items() if reason is None] == [("fp32", 1), ("bf16", 1), ("fp32", 2), ("bf16", 2)]
    assert "not supported for training on cpu" in (cells[("fp16", 1)] or "")
    assert {c.backend for c in planned if c.world_size == 2} == {"gloo"}


@pytest.mark.parametrize(("gpus", "bf16", "two_processes"), [(1, True, False), (2, True, True), (2, False, True)])
def test_cuda_cells_follow_the_visible_gpus_and_bf16_support(monkeypatch: pytest.MonkeyPatch, gpus: int, bf16: bool,
                                                              two_processes: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    cells = _cells(plan_configurations(torch.device("cuda"), global_batch=16, cuda_devices=gpus))
    assert cells[("fp32", 1)] is None
    assert cells[("fp16", 1)] is None  # fp16 + GradScaler is CUDA's
    assert (cells[("bf16", 1)] is None) == bf16
    assert (cells[("fp32", 2)] is None) == two_processes
    if not two_processes:
        assert cells[("fp32", 2)] == "NCCL needs one GPU per process: 2 processes, 1 GPU(s) visible"
    assert {c.backend for c in plan_configurations(torch.device("cuda"), 16, gpus) if c.world_size == 2} == {"nccl"}


def test_mps_and_an_odd_batch_skip_two_processes() -> None:
    cells = _cells(plan_configurations(torch.device("mps"), global_batch=16))
    assert [k for k, reason in cells.items() if reason is None] == [("fp32", 1)]
    assert cells[("fp32", 2)] == "no multi-process backend for MPS"
    odd = _cells(plan_configurations(CPU, global_batch=15))
    assert odd[("fp32", 2)] == "the global batch 15 does not split evenly over 2 processes"


def test_throughput_leaves_out_warm_up_and_splits_blocks() -> None:
    assert warmup_steps_for(100) == 10
    assert warmup_steps_for(4) == 1
    assert warmup_steps_for(1) == 0
    steps = [5.0] * 2 + [0.1] * 10 + [0.2] * 8  # 20 steps: 2 warm-up steps, then 18 timed
    rate, blocks = throughput(steps, global_batch=8)
    assert rate == pytest.approx(8 * 18 / (10 * 0.1 + 8 * 0.2))
    assert len(blocks) == 5
    assert blocks[0] == pytest.approx(80.0)  # four 0.1 s steps of 8 examples
    assert blocks[-1] == pytest.approx(40.0)


def test_worker_environment_drops_the_launchers_variables() -> None:
    base = {"PATH": "/bin", "RANK": "1", "WORLD_SIZE": "2", "MASTER_PORT": "1", "TORCHELASTIC_RUN_ID": "x"}
    assert worker_environment(base, 0, 1, 1234) == {"PATH": "/bin"}
    two = worker_environment(base, 1, 2, 1234)
    assert (two["RANK"], two["WORLD_SIZE"], two["MASTER_PORT"], two["MASTER_ADDR"]) == ("1", "2", "1234", "127.0.0.1")
    assert "TORCHELASTIC_RUN_ID" not in two


def test_cpu_peak_window_resets_between_configurations() -> None:
    resettable = reset_peak(CPU)
    before, kind = read_peak(CPU, resettable)
    block = bytearray(64 * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    after, _ = read_peak(CPU, resettable)
    del block
    assert after - before >= 60 * 2**20
    if resettable:  # Linux: a new window starts near the current resident set, below the old peak
        assert kind == "process_peak_rss_reset"
        reset_peak(CPU)
        assert read_peak(CPU, True)[0] < after


def _spec() -> dict[str, object]:
    data = read_zindi_csv(sample_paths()[0], labelled=True).subset(range(96))
    names = data.label_set
    y = [names.index(label) for label in data.labels or ()]
    tokenizer = train_tokenizer(data.texts[:64], QUICK_SPEC.vocab_size)
    seqs = encode(wrap_tokenizer(tokenizer, 64), data.texts, 64)
    return {"train": seqs[:64], "train_labels": y[:64], "eval": seqs[64:], "label_names": list(names),
            "tokenizer_json": tokenizer.to_str(), "max_length": 64,
            "scratch": asdict(replace(QUICK_SPEC, dropout=0.0)), "checkpoint": None,
            "dropout": 0.0, "steps": 3, "batch_size": 8, "learning_rate": 1e-3, "strategy": "oversample",
            "init_seed": 1, "sampler_seed": 2, "dropout_seeds": [3, 4], "timeout_s": 60}, y[64:]


@pytest.mark.distributed
def test_real_workers_measure_one_and_two_gloo_processes(tmp_path: Path) -> None:
    spec, truth = _spec()
    planned = [c for c in plan_configurations(CPU, 8) if c.precision == "fp32"]
    rows = measure_configurations(planned, spec, device="cpu", threads=1, global_batch=8, truth=truth,
                                  num_classes=4, plan=PLAN, work_dir=tmp_path)
    one, two = (r for r in rows if r.measured)
    assert (one.world_size, two.world_size, two.backend) == (1, 2, "gloo")
    for row in (one, two):
        assert row.steps == 3
        assert len(row.block_examples_per_s) == 2  # 3 steps, 1 warm-up
        assert row.examples_per_s > 0
        assert row.peak_memory_bytes is not None
        assert row.peak_memory_bytes > 50 * 2**20  # an interpreter with torch loaded
        assert row.accuracy is not None
        assert row.accuracy.low <= row.accuracy.estimate <= row.accuracy.high
        assert len(row.predictions) == len(truth)
    assert one.accuracy_vs_reference is None
    assert two.accuracy_vs_reference is not None
    # The reference ran again after the two-process cell, in a fresh process, to bracket it.
    assert len(one.remeasured_block_examples_per_s) == 2
    assert one.remeasured_examples_per_s > 0
    assert not two.remeasured_block_examples_per_s
    # Dropout off, no randomness left but the reduction order: both layouts learn the same model.
    assert two.final_loss == pytest.approx(one.final_loss, rel=1e-4)
    assert [r.status for r in rows] == ["measured", "measured"]


def test_a_failed_launch_becomes_a_failed_row(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fail(*args: object, **kwargs: object) -> dict[str, object]:
        raise RuntimeError("exit codes [1]: ValueError: boom")

    monkeypatch.setattr(efficiency, "launch_workers", fail)
    spec, truth = _spec()
    rows = measure_configurations(plan_configurations(CPU, 8), spec, device="cpu", threads=1, global_batch=8,
                                  truth=truth, num_classes=4, plan=PLAN, work_dir=tmp_path)
    assert [r.status for r in rows] == ["failed", "failed", "skipped", "failed", "failed", "skipped"]
    assert rows[0].reason == "exit codes [1]: ValueError: boom"
