"""Pruning reaches the asked sparsity in the right places, and the KD loss matches its definition."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from dlplayground.nets import MLP, SmallCNN
from dlplayground.studies.dropout.compression import (
    PruneCurve,
    distill,
    kd_loss,
    make_permanent,
    prunability,
    prunable_parameters,
    prune_global,
    pruned_copy,
    weight_sparsity,
)
from dlplayground.studies.dropout.training import FitConfig, evaluate_accuracy, fit


def _weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([getattr(m, n).detach().flatten() for m, n in prunable_parameters(model)])


@pytest.fixture
def mlp() -> MLP:
    torch.manual_seed(0)
    return MLP(20, 32, 2, 5, dropout=0.1)


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.7, 0.95])
@pytest.mark.parametrize("method", ["magnitude", "random"])
def test_pruning_reaches_the_asked_sparsity(mlp, sparsity, method):
    total = _weights(mlp).numel()  # 20*32 + 32*32 + 32*5 = 1824
    pruned = pruned_copy(mlp, sparsity, method, seed=1)
    assert weight_sparsity(pruned) == pytest.approx(round(sparsity * total) / total, abs=1e-12)
    assert weight_sparsity(mlp) == 0.0  # the original is untouched


def test_magnitude_pruning_removes_the_globally_smallest_weights(mlp):
    original = _weights(mlp).abs()
    pruned = _weights(pruned_copy(mlp, 0.6)).abs()
    removed, kept = original[pruned == 0], original[pruned != 0]
    assert removed.max() <= kept.min()
    # global, not per layer: the layers end up with different sparsities
    per_layer = [float((getattr(m, n) == 0).float().mean()) for m, n in prunable_parameters(pruned_copy(mlp, 0.6))]
    assert max(per_layer) - min(per_layer) > 0.05


def test_random_pruning_is_seeded_and_not_magnitude_based(mlp):
    a, b, c = (_weights(pruned_copy(mlp, 0.5, "random", seed=s)) == 0 for s in (1, 1, 2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    magnitude = _weights(pruned_copy(mlp, 0.5)) == 0
    assert not torch.equal(a, magnitude)
    state = torch.get_rng_state()
    pruned_copy(mlp, 0.5, "random", seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream is not consumed


def test_pruning_a_cnn_covers_convolutions_and_the_head():
    torch.manual_seed(0)
    cnn = SmallCNN(1, (4, 8), 3)
    pruned = pruned_copy(cnn, 0.8)
    assert weight_sparsity(pruned) == pytest.approx(0.8, abs=1e-3)
    assert all(prune.is_pruned(m) for m, _ in prunable_parameters(pruned))


def test_pruned_weights_stay_zero_through_fine_tuning_and_after_make_permanent(mlp):
    pruned = pruned_copy(mlp, 0.7)
    x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))
    fit(pruned, x, y, FitConfig(steps=20, batch_size=16))
    assert weight_sparsity(pruned) == pytest.approx(0.7, abs=1e-3)
    make_permanent(pruned)
    assert not any(hasattr(m, "weight_mask") for m in pruned.modules())
    assert weight_sparsity(pruned) == pytest.approx(0.7, abs=1e-3)


def test_prunability_finds_the_last_level_before_the_first_failure(mlp):
    # A fake evaluator: accuracy falls off a cliff above 60 % sparsity, so the answer is 0.6.
    def evaluate(model: nn.Module) -> float:
        return 0.90 if weight_sparsity(model) <= 0.6 + 1e-9 else 0.70

    curve = prunability(mlp, evaluate, [0.8, 0.2, 0.4, 0.6], tolerance=0.01)
    assert curve.base_accuracy == 0.90
    assert curve.sparsities == [0.2, 0.4, 0.6, 0.8]
    assert curve.accuracies == [0.90, 0.90, 0.90, 0.70]
    assert curve.max_sparsity == 0.6


def test_max_sparsity_requires_every_lower_level_within_tolerance():
    curve = PruneCurve("magnitude", False, base_accuracy=0.90, tolerance=0.01, sparsities=[0.2, 0.5, 0.8],
                       accuracies=[0.895, 0.85, 0.90])  # 0.8 recovers, but 0.5 already failed
    assert curve.max_sparsity == 0.2
    assert PruneCurve("magnitude", False, 0.9, 0.01, [0.2], [0.5]).max_sparsity == 0.0


def test_prune_global_refuses_bad_input(mlp):
    with pytest.raises(ValueError, match="sparsity"):
        prune_global(mlp, 1.5)
    with pytest.raises(ValueError, match="method"):
        prune_global(mlp, 0.5, "structured")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- distillation
def test_kd_loss_matches_a_hand_computed_case():
    # One sample, two classes, T = 2: student logits (1, 0) -> tempered (0.5, 0); teacher (0, 1) -> (0, 0.5).
    # With q = sigmoid(0.5): p_teacher = (1 - q, q), p_student = (q, 1 - q), so
    # KL(p_t || p_s) = (1 - q) ln((1 - q)/q) + q ln(q/(1 - q)) = (2q - 1) * 0.5.
    # Hard term: CE of logits (1, 0) against class 0 = ln(1 + e^-1).
    q = 1 / (1 + math.exp(-0.5))
    kl = (2 * q - 1) * 0.5  # = 0.12246...
    ce = math.log(1 + math.exp(-1))  # = 0.31326...
    alpha, temperature = 0.75, 2.0
    expected = alpha * temperature**2 * kl + (1 - alpha) * ce  # = 0.44570...
    got = kd_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([0]), temperature, alpha)
    assert float(got) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(0.4457, abs=1e-4)


def test_kd_loss_limits_and_gradients():
    torch.manual_seed(0)
    s, t, y = torch.randn(8, 4, requires_grad=True), torch.randn(8, 4, requires_grad=True), torch.randint(0, 4, (8,))
    hard_only = kd_loss(s, t, y, 3.0, 0.0).detach()
    assert float(hard_only) == pytest.approx(float(nn.functional.cross_entropy(s, y).detach()))
    assert float(kd_loss(s, s.detach(), y, 3.0, 1.0).detach()) == pytest.approx(0.0, abs=1e-6)  # same logits
    kd_loss(s, t, y, 3.0, 0.5).backward()
    assert s.grad is not None
    assert t.grad is None
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(s, t, y, 0.0, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        kd_loss(s, t, y, 1.0, 1.5)


def test_distillation_makes_the_student_agree_with_the_teacher():
    torch.manual_seed(0)
    x = torch.randn(128, 6)
    teacher = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3)).eval()
    teacher_labels = teacher(x).argmax(1).detach()
    student = MLP(6, 16, 1, 3)
    with torch.no_grad():
        before = float((student(x).argmax(1) == teacher_labels).float().mean())
    distill(teacher, student, x, teacher_labels, FitConfig(steps=150, batch_size=64, lr=2e-2), 2.0, 1.0)
    with torch.no_grad():
        after = float((student(x).argmax(1) == teacher_labels).float().mean())
    assert after > 0.9 > before
    assert not teacher.training
    assert not student.training


def test_fine_tuning_is_kept_by_the_validation_score_never_by_the_measured_one(mlp):
    # Fine-tuning raises the measured score but lowers the validation score: a choice made on the measured
    # examples would keep it (and flatter prunability); made on validation, it is dropped.
    def tune(model: nn.Module) -> None:
        model.tuned = True

    def measured(model: nn.Module) -> float:
        return 0.95 if getattr(model, "tuned", False) else 0.80

    def validation(model: nn.Module) -> float:
        return 0.70 if getattr(model, "tuned", False) else 0.85

    curve = prunability(mlp, measured, [0.3, 0.6], finetune=tune, choose=validation)
    assert curve.finetuned
    assert curve.oneshot_accuracies == [0.80, 0.80]
    assert curve.kept_finetuning == [False, False]
    assert curve.accuracies == [0.80, 0.80]
    # the same validation preferring the fine-tuned model keeps it, and then the measured score is the tuned one
    kept = prunability(mlp, measured, [0.3], finetune=tune, choose=lambda m: 1.0 - validation(m))
    assert kept.kept_finetuning == [True]
    assert kept.accuracies == [0.95]


def test_prunability_reports_each_half_and_stops_only_when_every_view_fails(mlp):
    # views = (all, first half, second half); the second half survives 0.6, the whole does not
    def evaluate(model: nn.Module) -> list[float]:
        s = weight_sparsity(model)
        return [0.9, 0.9, 0.9] if s < 0.5 else ([0.7, 0.5, 0.9] if s < 0.7 else [0.5, 0.5, 0.5])

    curve = prunability(mlp, evaluate, [0.3, 0.6, 0.8, 0.9], tolerance=0.01)
    assert curve.max_sparsity == 0.3
    assert (curve.half_max_sparsity(0), curve.half_max_sparsity(1)) == (0.3, 0.6)
    assert len(curve.accuracies) == 3  # stopped at 0.8, where every view failed
    assert curve.half_base == [0.9, 0.9]
    assert curve.half_auc(1) == pytest.approx((0.9 + 0.9 + 0.5) / 3 / 0.9)


def test_evaluate_accuracy_is_clean_and_restores_every_mode(mlp):
    x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))
    mlp.train()
    clean = evaluate_accuracy(mlp, x, y)
    assert all(m.training for m in mlp.modules())  # put back as it was
    mlp.eval()
    with torch.no_grad():
        expected = float((mlp(x).argmax(1) == y).float().mean())
    assert clean == expected  # dropout off during the call: deterministic, the eval-mode accuracy


def test_fit_config_refuses_bad_values():
    with pytest.raises(ValueError, match="batch_size"):
        FitConfig(batch_size=0)
    with pytest.raises(ValueError, match="lr"):
        FitConfig(lr=0.0)
    assert FitConfig(steps=7).total_steps(1000) == 7
    assert FitConfig(epochs=2, batch_size=64).total_steps(100) == 4
