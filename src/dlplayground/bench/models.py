"""The model zoo: one registry of model factories with their input factories.

A factory takes no arguments and returns ``(model, make_input)``: an ``nn.Module`` and a callable
``make_input(batch_size) -> Tensor | tuple[Tensor, ...]`` that builds a batch on the CPU in float32 (the
harness moves and casts it). Built-in models are registered exactly like user models (``--models
package.module:factory``), so a user model takes no second-class path.

Sizes are chosen to be realistic yet quick on a 2-core laptop. No model carries a batch cap: the sweep finds
each model's range by doubling until the knee, an out-of-memory error or a time cap
(``dlplayground.bench.explore``), so the same models answer on a laptop and on a data-centre GPU. The networks
themselves live in ``dlplayground.nets``, shared with the studies that train models.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from dlplayground.errors import UserInputError, choices_text
from dlplayground.nets import MLP, RNNClassifier, SmallCNN, TransformerClassifier

InputFactory = Callable[[int], "torch.Tensor | tuple[torch.Tensor, ...]"]
Factory = Callable[[], "tuple[nn.Module, InputFactory]"]


# ------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its family (for grouping in reports), factory and a one-line description."""

    name: str
    family: str
    factory: Factory
    description: str
    variant: str = "eager"
    """How the built model is run (``dlplayground.bench.variants``); ``name`` carries it, e.g. ``mlp[compile]``."""
    base: str = ""
    """The model's name without the variant ("" means ``name``)."""

    @property
    def base_name(self) -> str:
        return self.base or self.name


def _mlp() -> tuple[nn.Module, InputFactory]:
    return MLP(784, 1024, 3, 10), lambda b: torch.randn(b, 784)


def _cnn() -> tuple[nn.Module, InputFactory]:
    return SmallCNN(3, (32, 64, 128), 10), lambda b: torch.randn(b, 3, 32, 32)


def _rnn(cell: str) -> Factory:
    def factory() -> tuple[nn.Module, InputFactory]:
        return RNNClassifier(cell, 64, 256, 2, 10), lambda b: torch.randn(b, 50, 64)

    return factory


def _transformer() -> tuple[nn.Module, InputFactory]:
    model = TransformerClassifier(vocab=8000, seq_len=64, d_model=256, heads=4, layers=2, num_classes=10)
    return model, lambda b: torch.randint(0, 8000, (b, 64))


def _hf_bert() -> tuple[nn.Module, InputFactory]:
    """A BERT-style encoder from a transformers config with random weights: nothing is downloaded."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=8000, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=1024, max_position_embeddings=128, num_labels=4)
    model = BertForSequenceClassification(config)
    return _HFLogits(model), lambda b: torch.randint(0, 8000, (b, 64))


class _HFLogits(nn.Module):
    """Unwrap a transformers model's output object to its logits, so every zoo model returns a tensor."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids).logits


BUILTIN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("mlp", "mlp", _mlp, "MLP 784-1024-1024-1024-10 (2.9 M params)"),
        ModelSpec("cnn", "cnn", _cnn, "ResNet-style CNN, 3 stages 32/64/128, input 3x32x32"),
        ModelSpec("lstm", "rnn", _rnn("lstm"), "2-layer LSTM, hidden 256, 50 steps of 64 features"),
        ModelSpec("gru", "rnn", _rnn("gru"), "2-layer GRU, hidden 256, 50 steps of 64 features"),
        ModelSpec("transformer", "transformer", _transformer,
                  "Transformer encoder, 2 layers, d=256, 4 heads, 64 tokens"),
        ModelSpec("hf-bert", "transformer", _hf_bert,
                  "transformers BertForSequenceClassification from config (random weights), 64 tokens"),
    )
}


def resolve_model(name: str, *, check: bool = True) -> ModelSpec:
    """Look up a built-in model by name, or import a user factory given as ``package.module:factory``.

    ``check`` calls a user factory once to check its contract (``_check_user_model``); a pass worker, which
    builds models the parent already checked, skips that second build.
    """
    if name in BUILTIN_MODELS:
        return BUILTIN_MODELS[name]
    if ":" not in name:
        raise UserInputError(
            f"--models: unknown model {name!r}; choose {choices_text(BUILTIN_MODELS)} "
            "or give a factory as 'package.module:function'"
        )
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserInputError(f"--models {name!r}: cannot import module {module_name!r} ({exc})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise UserInputError(f"--models {name!r}: module {module_name!r} has no callable {attr!r}")
    spec = ModelSpec(name, "user", factory, f"user model {name}")
    if check:
        _check_user_model(spec)
    return spec


_CHECKED: set[tuple[str, int]] = set()


def _check_user_model(spec: ModelSpec) -> None:
    """Call a user factory and its ``make_input(1)`` once, while the options are validated.

    A factory that raises, returns the wrong shape of thing, or whose inputs are not tensors then stops the run
    with one ``error:`` line before anything is measured, instead of failing deep inside the first test. Done
    once per process and factory (``dlplayground bench`` validates, then pytest validates again).
    """
    key = (spec.name, id(spec.factory))
    if key in _CHECKED:
        return
    model, make_input = build(spec)
    try:
        batch = make_input(1)
    except Exception as exc:  # user code: name it
        raise UserInputError(f"model {spec.name!r}: make_input(1) raised {type(exc).__name__}: {exc}") from None
    items = batch if isinstance(batch, tuple) else (batch,)
    if not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise UserInputError(f"model {spec.name!r}: make_input(batch_size) must return a Tensor or a tuple of "
                             f"Tensors, got {type(batch).__name__} for batch_size=1")
    if any(t.dim() == 0 or t.shape[0] != 1 for t in items):
        shapes = ", ".join(str(tuple(t.shape)) for t in items)
        raise UserInputError(f"model {spec.name!r}: make_input(1) must return tensors whose first dimension is the "
                             f"batch (1), got shape(s) {shapes}")
    del model, batch
    _CHECKED.add(key)


def build(spec: ModelSpec) -> tuple[nn.Module, InputFactory]:
    """Call a factory and check it kept the contract, so a bad user factory fails with a clear message."""
    try:
        made = spec.factory()
    except Exception as exc:  # a user factory may raise anything; name it
        raise UserInputError(f"model {spec.name!r}: its factory raised {type(exc).__name__}: {exc}") from None
    if not (isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], nn.Module) and callable(made[1])):
        raise UserInputError(
            f"model {spec.name!r}: factory must return (nn.Module, make_input(batch_size)), got {type(made).__name__}"
        )
    return made
