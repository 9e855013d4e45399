"""The training loop and sharded prediction, the same code for one process and for a DDP job.

Training runs a fixed number of optimizer steps (not epochs), so strategies whose epochs differ in
length (undersampling discards data) get the same compute. ``global_batch_size`` is split evenly over the
ranks; with the strided samplers in ``sampler`` and DDP's gradient averaging, a step of an N-rank job
sees the same examples and takes the same update as one process with the whole batch (the test of that
is ``tests/test_ddp_equivalence.py``). Loss is computed in fp32 from the autocast logits, and the
gradient is clipped after unscaling, so mixed precision changes the arithmetic but not the recipe. The
learning rate follows transformers' ``get_linear_schedule_with_warmup`` (linear warm-up from 0, then linear
decay to 0), the default schedule of transformers' Trainer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup

from dlplayground.devices import synchronize
from dlplayground.studies.gods.amp import PrecisionPlan
from dlplayground.studies.gods.distributed import DistContext, all_gather_objects, all_reduce_sum
from dlplayground.studies.gods.longformer import pad_batch
from dlplayground.studies.gods.sampler import IMBALANCE_STRATEGIES, balanced_class_weights, build_sampler


@dataclass(frozen=True)
class TrainConfig:
    """One training run's recipe (the model and data come separately)."""

    steps: int
    """Optimizer steps in all (not epochs: every strategy gets the same compute)."""
    global_batch_size: int
    """Examples per step over all ranks."""
    learning_rate: float = 5e-4
    """AdamW peak learning rate."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay (not on biases and LayerNorm)."""
    warmup_fraction: float = 0.1
    """Share of the steps spent warming the learning rate up linearly from 0; then it decays linearly to 0."""
    grad_clip_norm: float = 1.0
    """Global gradient-norm clip, applied after unscaling."""
    imbalance: str = "none"
    """One of ``IMBALANCE_STRATEGIES``."""
    seed: int = 0
    """Sampler seed (the model is seeded by the caller)."""

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.global_batch_size < 1:
            raise ValueError(f"global_batch_size must be >= 1, got {self.global_batch_size}")
        if self.imbalance not in IMBALANCE_STRATEGIES:
            raise ValueError(f"imbalance must be one of {IMBALANCE_STRATEGIES}, got {self.imbalance!r}")


@dataclass
class TrainLog:
    """What a run did: per-step loss (mean over ranks), wall time, the class mix it was fed, step times."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    seen_per_class: list[int] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)
    """This rank's wall seconds per optimizer step, the device synchronised at each step's end (DDP keeps the
    ranks in lockstep, so rank 0's times are the job's)."""


def local_batch_size(global_batch_size: int, ctx: DistContext) -> int:
    if global_batch_size % ctx.world_size:
        raise ValueError(f"global batch {global_batch_size} is not divisible by {ctx.world_size} ranks")
    return global_batch_size // ctx.world_size


def _forever(loader: DataLoader, sampler: object) -> Iterator[list[int]]:
    epoch = 0
    while True:
        sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        yield from loader
        epoch += 1


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_steps(steps: int, warmup_fraction: float) -> int:
    """Steps of linear warm-up: the fraction of the run, at least one."""
    return max(1, round(steps * warmup_fraction))


def train_classifier(
    model: nn.Module,
    seqs: Sequence[Sequence[int]],
    labels: Sequence[int],
    num_classes: int,
    cfg: TrainConfig,
    *,
    ctx: DistContext,
    plan: PrecisionPlan,
    device: torch.device,
    pad_id: int,
    window: int,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainLog:
    """Train ``model`` in place for ``cfg.steps`` steps; call on every rank of a job with the same data.

    ``on_step(step, local_loss)`` is called after each step (rank 0 uses it for progress).
    """
    local_batch = local_batch_size(cfg.global_batch_size, ctx)
    sampler = build_sampler(
        cfg.imbalance, labels, num_classes, num_replicas=ctx.world_size, rank=ctx.rank, seed=cfg.seed
    )
    if len(sampler) < local_batch:
        raise ValueError(f"an epoch gives each rank {len(sampler)} examples, fewer than its batch of {local_batch}")
    loader = DataLoader(
        range(len(seqs)), batch_size=local_batch, sampler=sampler, drop_last=True, collate_fn=list
    )
    model.to(device).train()
    if ctx.is_distributed:
        wrapped: nn.Module = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    else:
        wrapped = model
    class_weight = balanced_class_weights(labels, num_classes).to(device) if cfg.imbalance == "weighted-loss" else None
    criterion = nn.CrossEntropyLoss(weight=class_weight)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.learning_rate)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=warmup_steps(cfg.steps, cfg.warmup_fraction), num_training_steps=cfg.steps
    )
    scaler = plan.grad_scaler()
    all_labels = torch.as_tensor(labels, dtype=torch.long)
    losses = torch.zeros(cfg.steps, dtype=torch.float64)
    seen = torch.zeros(num_classes, dtype=torch.long)
    batches = _forever(loader, sampler)
    step_s: list[float] = []
    started = time.perf_counter()
    for step in range(cfg.steps):
        step_started = time.perf_counter()
        index = next(batches)
        inputs = {k: v.to(device) for k, v in pad_batch([seqs[i] for i in index], pad_id, window).items()}
        target = all_labels[index]
        seen += torch.bincount(target, minlength=num_classes)
        with plan.autocast():
            logits = wrapped(**inputs).logits
        loss = criterion(logits.float(), target.to(device))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip_norm)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        losses[step] = float(loss.detach())
        synchronize(device)
        step_s.append(time.perf_counter() - step_started)
        if on_step is not None:
            on_step(step, float(losses[step]))
    seconds = time.perf_counter() - started
    # One collective at the end instead of one per step: the logged loss is the mean over ranks.
    mean_losses = all_reduce_sum(losses, ctx) / ctx.world_size
    pooled_seen = all_reduce_sum(seen, ctx)
    return TrainLog(losses=mean_losses.tolist(), seconds=seconds, seen_per_class=pooled_seen.tolist(), step_s=step_s)


@torch.inference_mode()
def predict_probabilities(
    model: nn.Module,
    seqs: Sequence[Sequence[int]],
    *,
    ctx: DistContext,
    plan: PrecisionPlan,
    device: torch.device,
    pad_id: int,
    window: int,
    batch_size: int = 64,
) -> list[list[float]]:
    """Class probabilities per sequence; each rank scores a strided share, every rank gets the whole list."""
    model.to(device).eval()
    mine = sorted(range(ctx.rank, len(seqs), ctx.world_size), key=lambda i: len(seqs[i]))  # less padding
    local: list[tuple[int, list[float]]] = []
    for start in range(0, len(mine), batch_size):
        index = mine[start : start + batch_size]
        inputs = {k: v.to(device) for k, v in pad_batch([seqs[i] for i in index], pad_id, window).items()}
        with plan.autocast():
            logits = model(**inputs).logits
        local.extend(zip(index, torch.softmax(logits.float(), dim=-1).cpu().tolist(), strict=True))
    probabilities: list[list[float]] = [[] for _ in seqs]
    for share in all_gather_objects(local, ctx):
        for i, row in share:
            probabilities[i] = row
    return probabilities


def predict_classes(model: nn.Module, seqs: Sequence[Sequence[int]], **kwargs: object) -> list[int]:
    """The most probable class per sequence (``predict_probabilities``' arguments)."""
    return [max(range(len(row)), key=row.__getitem__) for row in predict_probabilities(model, seqs, **kwargs)]
