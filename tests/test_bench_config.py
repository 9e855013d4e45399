"""Option parsing and validation for the batch-size study."""

from __future__ import annotations

import pytest
import torch

from dlplayground.bench.config import QUICK_BATCH_SIZES, BenchConfig, BenchOptions, parse_batch_sizes
from dlplayground.bench.models import BUILTIN_MODELS
from dlplayground.errors import UserInputError


def test_batch_size_lists_and_pow2_ranges():
    assert parse_batch_sizes("1,2,4") == (1, 2, 4)
    assert parse_batch_sizes(" 8, 1 ,8,3") == (1, 3, 8)
    assert parse_batch_sizes("pow2:1..256") == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    assert parse_batch_sizes("pow2:3..40") == (4, 8, 16, 32)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "positive integer, got 0"),
        ("-4", "positive integer, got -4"),
        ("2.5", "'2.5' is not an integer"),
        ("one", "'one' is not an integer"),
        ("pow2:0..8", "1 <= LO <= HI"),
        ("pow2:9..15", "no power of two"),
    ],
)
def test_bad_batch_sizes_name_the_input(text, message):
    with pytest.raises(UserInputError, match=message):
        parse_batch_sizes(text)


def test_defaults_sweep_every_builtin_model_up_to_its_cap():
    config = BenchConfig.from_options(BenchOptions())
    assert [m.name for m in config.models] == list(BUILTIN_MODELS)
    for spec in config.models:
        sizes = config.batch_sizes[spec.name]
        assert sizes[0] == 1
        assert sizes[-1] == spec.max_batch
    assert config.threads == torch.get_num_threads()
    assert config.device == torch.device("cpu")


def test_quick_profile_covers_every_family_with_at_least_four_batch_sizes():
    config = BenchConfig.from_options(BenchOptions(quick=True))
    families = {m.family for m in config.models}
    assert {"mlp", "cnn", "rnn", "transformer"} <= families
    assert {m.name for m in config.models} >= {"lstm", "gru"}
    assert all(len(config.batch_sizes[m.name]) >= 4 for m in config.models)
    assert config.batch_sizes["mlp"] == QUICK_BATCH_SIZES


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"models": "mlp,resnet9000"}, r"unknown model 'resnet9000'; choose 'mlp', 'cnn'"),
        ({"models": "mlp,mlp"}, "names a model twice"),
        ({"models": "no_such_pkg.mod:factory"}, "cannot import module 'no_such_pkg.mod'"),
        ({"models": "dlplayground.bench.models:nope"}, "has no callable 'nope'"),
        ({"device": "tpu"}, "not a device"),
        ({"dtype": "float8"}, "not a dtype"),
        ({"dtype": "float16"}, "not supported on cpu"),
        ({"threads": "two"}, "not an integer"),
        ({"threads": "0"}, "--threads must be >= 1"),
        ({"latency_budget_ms": "-3"}, "must be > 0"),
        ({"saturation_eps": "1.5"}, r"in \(0, 1\)"),
        ({"batch_sizes": "0,1"}, "positive integer"),
    ],
)
def test_bad_options_give_one_clear_message(opts, message):
    with pytest.raises(UserInputError, match=message):
        BenchConfig.from_options(BenchOptions(**opts))


def test_user_model_by_import_path(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "import torch\n"
        "def tiny():\n"
        "    return torch.nn.Linear(3, 2), lambda b: torch.randn(b, 3)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = BenchConfig.from_options(BenchOptions(models="my_models:tiny", batch_sizes="1,2"))
    assert config.models[0].name == "my_models:tiny"
    assert config.models[0].family == "user"
    assert config.batch_sizes["my_models:tiny"] == (1, 2)


def test_unusable_trace_dir_is_refused_up_front(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(UserInputError, match="--trace-dir .* exists and is not a folder"):
        BenchConfig.from_options(BenchOptions(trace=str(blocker)))
    config = BenchConfig.from_options(BenchOptions(trace=str(tmp_path / "traces")))
    assert config.trace_dir == str(tmp_path / "traces")
