"""The model zoo: every model runs, and factories are checked against their contract."""

from __future__ import annotations

from dataclasses import fields

import pytest
import torch

from dlplayground.bench.models import BUILTIN_MODELS, ModelSpec, build
from dlplayground.errors import UserInputError
from dlplayground.nets import MLP, SmallCNN


@pytest.mark.parametrize("name", list(BUILTIN_MODELS))
def test_builtin_models_run_on_their_inputs(name):
    model, make_input = build(BUILTIN_MODELS[name])
    model.eval()
    with torch.inference_mode():
        out = model(make_input(3))
    assert out.shape[0] == 3
    assert torch.isfinite(out).all()


def test_zoo_covers_the_four_families_with_no_batch_cap():
    assert {s.family for s in BUILTIN_MODELS.values()} >= {"mlp", "cnn", "rnn", "transformer"}
    # The range comes from the doubling (dlplayground.bench.explore), never from a per-model cap.
    assert [f.name for f in fields(ModelSpec)] == ["name", "family", "factory", "description", "variant", "base"]


def test_building_blocks_keep_dropout_where_studies_expect_it():
    mlp = MLP(64, 32, 2, 10, dropout=0.3)
    assert sum(isinstance(m, torch.nn.Dropout) for m in mlp.modules()) == 2
    cnn = SmallCNN(1, (8, 16), 10, dropout=0.2)
    assert cnn(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_a_factory_that_breaks_its_contract_is_named():
    bad = ModelSpec("bad", "user", lambda: torch.nn.Linear(2, 2), "returns a module only")
    with pytest.raises(UserInputError, match=r"model 'bad': factory must return \(nn.Module, make_input"):
        build(bad)

    def raising():
        raise OSError("weights.bin missing")

    with pytest.raises(UserInputError, match="its factory raised OSError: weights.bin missing"):
        build(ModelSpec("raiser", "user", raising, ""))
