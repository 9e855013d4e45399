"""DDP changes where the arithmetic happens, not what is learned; and a failing rank ends the job.

With resampling and dropout off, a 2-process gloo job with global batch 8 (4 per rank) must end with the
same weights as one process with batch 8: the strided sampler gives step k the same 8 examples, and DDP
averages the two ranks' mean gradients into the mean over all 8. Only the reduction order and the
per-rank padding differ, so the weights agree to float32 rounding.

This file is also the worker script: ``torchrun ... tests/test_ddp_equivalence.py MODE OUT`` runs
``_worker`` on each rank (``train`` saves rank 0's weights to OUT; ``crash`` makes rank 1 raise while
rank 0 waits in a barrier).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dlplayground.data.zindi import read_zindi_csv, sample_paths
from dlplayground.studies.gods.amp import select_precision
from dlplayground.studies.gods.distributed import DistContext, context_from_env, process_group, run_rank
from dlplayground.studies.gods.longformer import (
    QUICK_SPEC,
    attention_window_of,
    build_scratch_model,
    encode,
    train_tokenizer,
    wrap_tokenizer,
)
from dlplayground.studies.gods.train import TrainConfig, train_classifier

CPU = torch.device("cpu")
N_EXAMPLES = 64  # a multiple of the global batch: every step has a full batch on every rank
GLOBAL_BATCH = 8
STEPS = 6


def _train(ctx: DistContext, global_batch: int = GLOBAL_BATCH) -> tuple[dict[str, torch.Tensor], ...]:
    """The same recipe on every rank and in the single process (dropout 0, no resampling, fp32).

    Returns the initial and the trained weights.
    """
    data = read_zindi_csv(sample_paths()[0], labelled=True).subset(range(N_EXAMPLES))
    names = data.label_set
    labels = [names.index(label) for label in data.labels or ()]
    tokenizer = wrap_tokenizer(train_tokenizer(data.texts, QUICK_SPEC.vocab_size), 64)
    seqs = encode(tokenizer, data.texts, 64)
    torch.manual_seed(0)
    model = build_scratch_model(replace(QUICK_SPEC, dropout=0.0), tokenizer, names)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(steps=STEPS, global_batch_size=global_batch, learning_rate=3e-3, imbalance="none", seed=0)
    log = train_classifier(model, seqs, labels, len(names), cfg, ctx=ctx, plan=select_precision("fp32", CPU),
                           device=CPU, pad_id=tokenizer.pad_token_id, window=attention_window_of(model))
    assert sum(log.seen_per_class) == STEPS * global_batch  # pooled over ranks
    return initial, {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker(mode: str, out: Path) -> int:
    ctx = context_from_env()
    with process_group(ctx, CPU, timeout_s=120):
        if mode == "train":
            _, state = _train(ctx)
            if ctx.is_main:
                torch.save(state, out)
        elif mode == "crash":
            if ctx.rank == 1:
                raise RuntimeError("injected failure on rank 1")
            torch.distributed.barrier()  # would wait for the 120 s timeout if rank 1's exit went unnoticed
    return 0


def _torchrun(mode: str, out: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Two ranks of this file; ``timeout_s`` only guards the test run against a hang."""
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         __file__, mode, str(out)],
        capture_output=True, text=True, timeout=timeout_s, check=False,
    )


@pytest.mark.distributed
def test_two_gloo_ranks_learn_the_same_weights_as_one_process(tmp_path: Path) -> None:
    out = tmp_path / "ddp_state.pt"
    proc = _torchrun("train", out, timeout_s=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp_state = torch.load(out)
    initial, single_state = _train(DistContext())
    worst = max(float((ddp_state[k] - v).abs().max()) for k, v in single_state.items())
    moved = max(float((v - initial[k]).abs().max()) for k, v in single_state.items())
    for name, single in single_state.items():
        assert torch.allclose(ddp_state[name], single, rtol=1e-4, atol=1e-5), (name, worst)
    print(f"max |ddp - single| = {worst:.2e}; max |trained - initial| = {moved:.2e}")  # seen 8.9e-08, 1.2e-02
    assert moved > 1e-3  # the weights did train, so agreeing is not trivial
    # ... and the comparison can tell runs apart: half the batch per step ends elsewhere.
    _, other = _train(DistContext(), global_batch=GLOBAL_BATCH // 2)
    assert max(float((other[k] - v).abs().max()) for k, v in single_state.items()) > 100 * max(worst, 1e-7)


@pytest.mark.distributed
def test_a_failing_rank_ends_the_job_promptly(tmp_path: Path) -> None:
    # Rank 0 waits in a barrier that only the 120 s group timeout would end; the subprocess timeout of 100 s
    # is below it, so a job that waited on the dead rank fails here with TimeoutExpired instead of passing.
    proc = _torchrun("crash", tmp_path / "unused", timeout_s=100)
    assert proc.returncode != 0
    assert "injected failure on rank 1" in proc.stderr
    assert "rank 1 of 2 failed" in proc.stderr


if __name__ == "__main__":
    mode_arg, out_arg = sys.argv[1], Path(sys.argv[2])
    raise SystemExit(run_rank(lambda: _worker(mode_arg, out_arg), context_from_env()))
