"""Model factories for ``benchmarks/aa_check.py --slow``: a built-in model whose forward pass runs
``DLP_AA_SLOWDOWN`` times (an integer, default 1), so a run can be made exactly k times slower while the
model keeps one name (``aa_models:mlp``) in both runs of the pair. Not part of the package."""

from __future__ import annotations

import os

from torch import nn

from dlplayground.bench.models import BUILTIN_MODELS, InputFactory, build


class Repeated(nn.Module):
    """Run the wrapped model's forward ``times`` times and return the last output."""

    def __init__(self, model: nn.Module, times: int):
        super().__init__()
        self.model, self.times = model, times

    def forward(self, *args):
        for _ in range(self.times - 1):
            self.model(*args)
        return self.model(*args)


def _factory(name: str):
    def factory() -> tuple[nn.Module, InputFactory]:
        model, make_input = build(BUILTIN_MODELS[name])
        return Repeated(model, int(float(os.environ.get("DLP_AA_SLOWDOWN", "1")))), make_input

    return factory


mlp, cnn, lstm, gru, transformer = (_factory(n) for n in ("mlp", "cnn", "lstm", "gru", "transformer"))
hf_bert = _factory("hf-bert")
