"""Option parsing and validation for the batch-size study."""

from __future__ import annotations

import pytest
import torch

from dlplayground.bench.config import (
    FULL_PASSES,
    FULL_RANGE,
    QUICK_PASSES,
    QUICK_RANGE,
    BenchConfig,
    BenchOptions,
    parse_batch_sizes,
)
from dlplayground.bench.models import BUILTIN_MODELS
from dlplayground.bench.passes import PassConfig
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


def test_defaults_explore_every_builtin_model_by_doubling():
    config = BenchConfig.from_options(BenchOptions())
    assert [m.name for m in config.models] == list(BUILTIN_MODELS)
    assert not any(hasattr(m, "max_batch") for m in config.models)  # no per-model cap: the doubling decides
    assert config.explicit_batch_sizes is None
    assert (config.range_.max_batch, config.range_.max_call_s) == (FULL_RANGE.max_batch, FULL_RANGE.max_call_s)
    assert config.candidate_batch_sizes() == tuple(2**k for k in range(17))  # 1 .. 65536
    assert config.passes == FULL_PASSES
    assert config.passes.passes >= 3
    assert config.threads == torch.get_num_threads()
    assert config.device == torch.device("cpu")
    assert not config.back_to_back  # CPU calls are synchronous: the per-call figure is the back-to-back one


def test_quick_profile_covers_every_family_and_doubles_up_to_64():
    config = BenchConfig.from_options(BenchOptions(quick=True))
    families = {m.family for m in config.models}
    assert {"mlp", "cnn", "rnn", "transformer"} <= families
    assert {m.name for m in config.models} >= {"lstm", "gru"}
    assert config.explicit_batch_sizes is None
    assert config.range_ == QUICK_RANGE
    assert config.candidate_batch_sizes() == (1, 2, 4, 8, 16, 32, 64)
    assert config.passes == QUICK_PASSES
    assert config.passes.passes < FULL_PASSES.passes
    assert config.saturation.resamples < BenchConfig.from_options(BenchOptions()).saturation.resamples


def test_range_and_pass_options_reach_the_config():
    config = BenchConfig.from_options(BenchOptions(max_batch="1000", max_call_s="2.5", passes="7", seed="42",
                                                   saturation_eps="0.1", latency_budget_ms="20", quick=True))
    assert config.range_.max_batch == 1000
    assert config.candidate_batch_sizes()[-1] == 512  # the doubling never passes the cap
    assert config.range_.max_call_s == 2.5
    assert (config.passes.passes, config.passes.seed) == (7, 42)
    assert config.passes.pass_time_s == QUICK_PASSES.pass_time_s  # the rest of the profile is kept
    assert config.range_.eps == config.saturation.eps == 0.1  # the doubling judges gains as the analysis does
    assert config.range_.latency_budget_ms == config.saturation.latency_budget_ms == 20.0
    recorded = config.to_dict()
    assert recorded["passes"]["seed"] == 42
    assert recorded["range"]["max_batch"] == 1000
    assert recorded["batch_sizes"] is None
    assert recorded["back_to_back"] is False


def test_an_explicit_list_is_kept_as_the_candidates():
    config = BenchConfig.from_options(BenchOptions(batch_sizes="pow2:4..32", max_batch="8"))
    assert config.explicit_batch_sizes == (4, 8, 16, 32)
    assert config.candidate_batch_sizes() == (4, 8, 16, 32)  # --max-batch bounds the doubling, not a list
    assert config.to_dict()["batch_sizes"] == [4, 8, 16, 32]


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
        ({"latency_budget_ms": "-3"}, "must be a finite number > 0"),
        ({"latency_budget_ms": "inf"}, "--latency-budget-ms must be a finite number > 0, got inf"),
        ({"latency_budget_ms": "nan"}, "--latency-budget-ms must be a finite number > 0, got nan"),
        ({"batch_sizes": "nan"}, "'nan' is not an integer"),
        ({"batch_sizes": "1e400"}, "not an integer"),
        ({"seed": str(2**64)}, r"--seed must be in 0\.\.4294967295, got 18446744073709551616"),
        ({"saturation_eps": "1.5"}, r"in \(0, 1\)"),
        ({"batch_sizes": "0,1"}, "positive integer"),
        ({"passes": "1"}, r"--passes must be >= 2, got 1"),
        ({"passes": "three"}, "--passes 'three' is not an integer"),
        ({"max_batch": "0"}, r"--max-batch must be >= 1, got 0"),
        ({"max_call_s": "-1"}, r"--max-call-s must be a finite number > 0, got -1"),
        ({"max_call_s": "inf"}, r"--max-call-s must be a finite number > 0, got inf"),
        ({"max_call_s": "soon"}, "--max-call-s 'soon' is not a number"),
        ({"seed": "-1"}, r"--seed must be in 0\.\.4294967295, got -1"),
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
    assert config.explicit_batch_sizes == (1, 2)


def test_a_pass_plan_needs_two_passes_and_sane_call_counts():
    with pytest.raises(UserInputError, match="spread between passes"):
        PassConfig(passes=1)
    with pytest.raises(UserInputError, match="min_calls <= max_calls"):
        PassConfig(min_calls=5, max_calls=4)
    plan = PassConfig(pass_time_s=0.1, min_calls=3, max_calls=50)
    assert [plan.calls_for(s) for s in (1.0, 0.01, 1e-4, 0.0)] == [3, 10, 50, 50]


def test_unusable_trace_dir_is_refused_up_front(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(UserInputError, match="--trace-dir .* is a file, not a folder"):
        BenchConfig.from_options(BenchOptions(trace=str(blocker)))
    config = BenchConfig.from_options(BenchOptions(trace=str(tmp_path / "traces")))
    assert config.trace_dir == str(tmp_path / "traces")
