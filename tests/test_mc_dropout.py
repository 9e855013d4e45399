"""Evaluation-time dropout: only Dropout modules change mode, the model comes back exactly as it was, and the
mean accuracy under dropout and the MC-dropout predictive are read correctly from the same passes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from dlplayground.nets import MLP, SmallCNN
from dlplayground.studies.dropout.mc_dropout import (
    dropout_curve,
    dropout_modules,
    dropout_probabilities,
    eval_time_dropout,
    inserted_dropout,
    insertion_points,
    mc_accuracies,
    mc_predictive,
    normalised_auc,
)


def _snapshot(model: nn.Module) -> tuple[dict[str, bool], dict[str, torch.Tensor], dict[str, float]]:
    modes = {name: m.training for name, m in model.named_modules()}
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rates = {name: m.p for name, m in model.named_modules() if hasattr(m, "p")}
    return modes, state, rates


def _assert_restored(model: nn.Module, snapshot) -> None:
    modes, state, rates = snapshot
    assert {name: m.training for name, m in model.named_modules()} == modes
    now = model.state_dict()
    assert now.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(now[key], value), key
    assert {name: m.p for name, m in model.named_modules() if hasattr(m, "p")} == rates
    for m in model.modules():
        assert not m._forward_pre_hooks
        assert not m._forward_hooks


@pytest.fixture
def cnn() -> SmallCNN:
    torch.manual_seed(0)
    model = SmallCNN(1, (4, 8), num_classes=3, dropout=0.2)
    model.train()
    model(torch.randn(16, 1, 8, 8))  # one training-mode pass so BatchNorm running stats are non-trivial
    model.eval()
    return model


@pytest.mark.parametrize("start_training", [False, True])
def test_only_dropout_modules_are_in_train_mode_and_model_is_restored(cnn, start_training):
    cnn.train(start_training)
    before = _snapshot(cnn)
    x = torch.randn(32, 1, 8, 8)
    with eval_time_dropout(cnn, p=0.5) as switched:
        assert switched == dropout_modules(cnn)
        assert len(switched) == 1
        for name, module in cnn.named_modules():
            expected = isinstance(module, nn.Dropout)
            assert module.training is expected, name
        assert all(m.p == 0.5 for m in switched)
        with torch.no_grad():
            a, b = cnn(x), cnn(x)
        assert not torch.equal(a, b)  # masks are redrawn each pass
        bn = cnn.stem[1]
        assert torch.equal(bn.running_mean, before[1]["stem.1.running_mean"])  # BatchNorm did not update
    _assert_restored(cnn, before)


def test_restored_even_when_the_body_raises(cnn):
    before = _snapshot(cnn)
    with pytest.raises(RuntimeError, match="boom"), eval_time_dropout(cnn, p=0.3):
        raise RuntimeError("boom")
    _assert_restored(cnn, before)


def test_keeping_the_trained_rate_when_p_is_none():
    model = MLP(6, 8, 2, 3, dropout=0.25)
    with eval_time_dropout(model) as switched:
        assert [m.p for m in switched] == [0.25, 0.25]
        assert all(m.training for m in switched)


def test_inserted_dropout_hooks_every_weight_layer_but_the_first_and_cleans_up():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    x = torch.randn(64, 5)
    before = _snapshot(model)
    with torch.no_grad():
        clean = model(x)
        with inserted_dropout(model, 0.5) as hooked:
            assert hooked == [model[2], model[4]] == insertion_points(model)
            assert all(not m.training for m in model.modules())
            noisy_a, noisy_b = model(x), model(x)
        after = model(x)
        with inserted_dropout(model, 0.0):
            zero_rate = model(x)
    assert not torch.equal(noisy_a, noisy_b)
    assert not torch.allclose(noisy_a, clean)
    assert torch.equal(after, clean)
    assert torch.equal(zero_rate, clean)
    _assert_restored(model, before)


def test_inserted_dropout_on_a_cnn_leaves_batchnorm_in_eval(cnn):
    before = _snapshot(cnn)
    with inserted_dropout(cnn, 0.4) as hooked:
        assert cnn.stem[0] not in hooked
        assert len(hooked) >= 4
        assert all(not m.training for m in cnn.modules())
        with torch.no_grad():
            cnn(torch.randn(8, 1, 8, 8))
    _assert_restored(cnn, before)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_invalid_rates_are_refused(cnn, rate):
    with pytest.raises(ValueError, match=r"\[0, 1\)"), eval_time_dropout(cnn, rate):
        pass
    with pytest.raises(ValueError, match=r"\[0, 1\)"), inserted_dropout(cnn, rate):
        pass


def test_native_mode_needs_dropout_modules():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x, y = torch.randn(10, 3), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match="inserted"):
        mc_accuracies(model, x, y, 0.5, 2, "native")
    assert len(mc_accuracies(model, x, y, 0.5, 2, "inserted")) == 2


def test_normalised_auc_on_a_hand_computed_curve():
    # ratios 1 (p=0), 1 (p=0.2), 0.75 (p=0.4): area 0.2 * 1 + 0.2 * 0.875 = 0.375 over a span of 0.4
    assert normalised_auc([0.2, 0.4], [0.8, 0.6], 0.8) == pytest.approx(0.9375)
    assert normalised_auc([0.4, 0.2], [0.6, 0.8], 0.8) == pytest.approx(0.9375)  # order does not matter
    assert normalised_auc([0.5], [0.9], 0.9) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="> 0"):
        normalised_auc([0.0], [0.9], 0.9)


def test_dropout_curve_keeps_raw_passes_and_degrades_with_rate():
    torch.manual_seed(0)
    x = torch.randn(200, 4)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Dropout(0.0), nn.Linear(32, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    half = np.arange(200) % 2 == 0
    curve, predictive = dropout_curve(model, x, y, [0.1, 0.9], passes=4, mode="native", half=half, mc_rate=0.1)
    assert [len(a) for a in curve.accuracies] == [4, 4]
    assert curve.clean_accuracy > 0.95
    assert curve.mean_accuracies[1] < curve.mean_accuracies[0]
    assert 0.5 < curve.auc < 1.0
    assert not model.training
    assert model[2].p == 0.0
    # the halves partition the examples: their mean is the whole (equal halves)
    for rate in range(2):
        assert np.mean([curve.half_accuracies[h][rate] for h in range(2)]) == pytest.approx(curve.mean_accuracies[rate])
    assert 0.5 < curve.half_auc(0) <= 1.05
    assert predictive is not None
    assert predictive.rate == 0.1
    assert predictive.passes == 4
    assert predictive.accuracy >= predictive.mean_pass_accuracy - 0.02  # averaging passes rarely hurts
    assert dropout_curve(model, x, y, [0.1], passes=2)[1] is None
    with pytest.raises(ValueError, match="mc_rate"):
        dropout_curve(model, x, y, [0.1], passes=2, mc_rate=0.3)


def test_mc_predictive_on_hand_computed_passes():
    # Two passes over two examples. Example 0: both passes say class 0 with p = 0.9 -> no disagreement, mutual
    # information 0. Example 1: one pass (1, 0), the other (0, 1) -> the mean (0.5, 0.5) has entropy log 2 and
    # each pass entropy 0, so the mutual information is log 2. The predictive's argmax ties on example 1 and
    # torch picks class 0, which is wrong (label 1); the single passes are right half the time there.
    probs = torch.tensor([[[0.9, 0.1], [1.0, 0.0]],
                          [[0.9, 0.1], [0.0, 1.0]]])
    labels = torch.tensor([0, 1])
    mc = mc_predictive(probs, labels, rate=0.5, half=np.array([True, False]))
    h09 = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    assert mc.mutual_information_nats == pytest.approx(math.log(2) / 2, abs=1e-6)
    assert mc.half_mutual_information_nats == pytest.approx((0.0, math.log(2)), abs=1e-6)
    assert mc.entropy_nats == pytest.approx((h09 + math.log(2)) / 2, abs=1e-6)
    assert mc.accuracy == 0.5
    assert mc.mean_pass_accuracy == 0.75
    with pytest.raises(ValueError, match="passes, n, classes"):
        mc_predictive(probs[0], labels, rate=0.5)


def test_dropout_probabilities_are_softmaxes_that_vary_between_passes():
    torch.manual_seed(1)
    model = MLP(6, 32, 2, 3, dropout=0.3).eval()
    x = torch.randn(20, 6)
    probs = dropout_probabilities(model, x, 0.5, passes=5)
    assert probs.shape == (5, 20, 3)
    assert torch.allclose(probs.sum(dim=2), torch.ones(5, 20))
    assert not torch.allclose(probs[0], probs[1])  # fresh masks each pass
    assert not model.training
