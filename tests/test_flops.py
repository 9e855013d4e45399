"""FLOP counts and bytes-moved estimates on models whose costs can be worked out by hand.

Convention under test: a multiply-add is 2 FLOPs; only matrix products and convolutions count.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlplayground.bench.flops import count_forward, recurrent_flops, tensor_bytes

F32 = 4  # bytes per float32 element


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_linear_stack_flops_and_bytes_by_hand():
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 4)).eval()
    cost = count_forward(model, torch.randn(3, 8))
    assert cost.flops == 2 * 3 * (8 * 16 + 16 * 4)  # 1152
    params = (8 * 16 + 16 + 16 * 4 + 4) * F32
    # Linear1 reads 3x8, writes 3x16; ReLU reads and writes 3x16; Linear2 reads 3x16, writes 3x4.
    # Flatten (a view) and Dropout (eval: a no-op) move nothing.
    activations = (3 * 8 + 3 * 16 + 3 * 16 + 3 * 16 + 3 * 16 + 3 * 4) * F32
    assert cost.parameter_bytes == params
    assert cost.activation_bytes == activations
    assert cost.bytes_moved == params + activations
    assert cost.arithmetic_intensity == pytest.approx(1152 / (params + activations))


def test_flops_scale_with_batch_for_a_linear_stack():
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)).eval()
    one = count_forward(model, torch.randn(1, 32)).flops
    assert count_forward(model, torch.randn(7, 32)).flops == 7 * one


@pytest.mark.parametrize(("stride", "size", "out_hw"), [(1, 10, 10), (2, 11, 5)])
def test_single_conv_by_hand(stride: int, size: int, out_hw: int):
    conv = nn.Conv2d(3, 8, 3, stride=stride, padding=1 if stride == 1 else 0).eval()
    cost = count_forward(conv, torch.randn(2, 3, size, size))
    outputs = 2 * 8 * out_hw * out_hw
    assert cost.flops == 2 * outputs * (3 * 3 * 3)  # each output: a 3x3x3 dot product
    assert cost.parameter_bytes == (8 * 3 * 3 * 3 + 8) * F32
    assert cost.activation_bytes == (2 * 3 * size * size + outputs) * F32


def test_one_lstm_step_by_hand():
    lstm = nn.LSTM(10, 20, batch_first=True).eval()
    cost = count_forward(lstm, torch.randn(3, 1, 10))
    # 4 gates x (input matmul 2*10*20 + recurrent matmul 2*20*20) per sample and step.
    assert cost.flops == 4 * (2 * 10 * 20 + 2 * 20 * 20) * 3  # 14400
    assert cost.analytic_flops == cost.flops


def test_lstm_cell_step_by_hand():
    cell = nn.LSTMCell(10, 20).eval()
    assert count_forward(cell, torch.randn(3, 10)).flops == 4 * (2 * 10 * 20 + 2 * 20 * 20) * 3


def test_stacked_bidirectional_lstm_by_hand():
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True, batch_first=True).eval()
    per_token = 2 * (4 * (2 * 10 * 20 + 2 * 20 * 20) + 4 * (2 * 40 * 20 + 2 * 20 * 20))  # two directions
    assert count_forward(lstm, torch.randn(3, 5, 10)).flops == per_token * 3 * 5  # 432000


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN:UserWarning")
def test_lstm_with_projection_counts_the_projection():
    lstm = nn.LSTM(10, 20, proj_size=6).eval()  # seq-first (L, N, H)
    per_token = 4 * (2 * 10 * 20 + 2 * 6 * 20) + 2 * 20 * 6
    assert count_forward(lstm, torch.randn(4, 2, 10)).flops == per_token * 4 * 2


def test_packed_sequence_counts_only_real_tokens():
    gru = nn.GRU(10, 20, batch_first=True)
    packed = nn.utils.rnn.pack_padded_sequence(torch.randn(3, 5, 10), [5, 3, 2], batch_first=True)
    assert recurrent_flops(gru, (packed,)) == 3 * (2 * 10 * 20 + 2 * 20 * 20) * (5 + 3 + 2)


def test_gru_analytic_count_agrees_with_the_counters_decomposition_without_double_counting():
    """FlopCounterMode sees a CPU GRU through its decomposition into matmuls; the analytic count (which
    replaces it) must give the same figure, and the total must include it once, not twice."""

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(12, 24, num_layers=2, batch_first=True)
            self.head = nn.Linear(24, 5)

        def forward(self, x):
            return self.head(self.gru(x)[0][:, -1])

    model = Head().eval()
    x = torch.randn(4, 6, 12)
    with torch.inference_mode(), FlopCounterMode(display=False) as plain:
        model(x)
    per_token = 3 * (2 * 12 * 24 + 2 * 24 * 24) + 3 * (2 * 24 * 24 + 2 * 24 * 24)
    expected = per_token * 4 * 6 + 2 * 4 * 24 * 5
    assert plain.get_total_flops() == expected
    cost = count_forward(model, x)
    assert cost.flops == expected
    assert sum(cost.flops_by_op.values()) == pytest.approx(cost.flops)


def test_lstm_is_missed_by_the_plain_counter_on_cpu_but_counted_here():
    lstm = nn.LSTM(8, 16, batch_first=True).eval()
    x = torch.randn(2, 3, 8)
    with torch.inference_mode(), FlopCounterMode(display=False) as plain:
        lstm(x)
    assert plain.get_total_flops() < 4 * (2 * 8 * 16 + 2 * 16 * 16) * 6  # what we add (0 on oneDNN builds)
    assert count_forward(lstm, x).flops == 4 * (2 * 8 * 16 + 2 * 16 * 16) * 6


def _encoder_flops(batch: int, seq: int, d: int, ff: int, layers: int) -> int:
    projections = 2 * batch * seq * (3 * d * d + d * d + 2 * d * ff)
    attention = 2 * 2 * batch * seq * seq * d  # Q K^T and P V over all heads
    return layers * (projections + attention)


def test_transformer_encoder_fast_path_is_counted_like_the_slow_path():
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    x = torch.randn(3, 5, 16)
    fast = count_forward(encoder, x)
    assert "aten._transformer_encoder_layer_fwd" in fast.flops_by_op  # the fused kernel really ran
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        slow = count_forward(encoder, x)
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    assert "aten._transformer_encoder_layer_fwd" not in slow.flops_by_op
    assert fast.flops == slow.flops == _encoder_flops(3, 5, 16, 32, 2)


def test_multihead_attention_fast_path_and_cpu_sdpa_are_counted():
    mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    x = torch.randn(2, 7, 16)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x, x, x, need_weights=False)[0]

    cost = count_forward(SelfAttention().eval(), x)
    assert cost.flops == 2 * 2 * 7 * (4 * 16 * 16) + 4 * 2 * 7 * 7 * 16
    q, k, v = torch.randn(2, 4, 7, 8), torch.randn(2, 4, 9, 8), torch.randn(2, 4, 9, 6)

    class Sdpa(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    assert count_forward(Sdpa(), (q, k, v)).flops == 2 * 4 * (2 * 7 * 9 * 8 + 2 * 7 * 9 * 6)


def test_embedding_reads_only_the_gathered_rows():
    emb = nn.Embedding(1000, 8).eval()
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    cost = count_forward(emb, ids)
    assert cost.flops == 0
    assert cost.parameter_bytes == 6 * 8 * F32  # 6 rows, not the 1000-row table
    assert cost.activation_bytes == ids.numel() * 8 + 6 * 8 * F32  # int64 ids in, rows out


def test_bytes_follow_the_dtype_element_size():
    model = nn.Sequential(nn.Linear(8, 8)).to(torch.bfloat16).eval()
    cost = count_forward(model, torch.randn(2, 8, dtype=torch.bfloat16))
    assert cost.parameter_bytes == (64 + 8) * 2
    assert cost.activation_bytes == (16 + 16) * 2


def test_tensor_bytes_counts_a_tensor_passed_twice_once():
    t = torch.zeros(4, 4)
    assert tensor_bytes([t, t, torch.zeros(2)]) == 16 * F32 + 2 * F32


def test_zoo_models_are_counted(tmp_path):
    """Every built-in model gets a positive FLOP count that includes its dominant layers."""
    from dlplayground.bench.models import BUILTIN_MODELS, build

    expected_per_item = {
        "mlp": 2 * (784 * 1024 + 1024 * 1024 * 2 + 1024 * 10),
        "lstm": 50 * (4 * (2 * 64 * 256 + 2 * 256 * 256) + 4 * (4 * 256 * 256)) + 2 * 256 * 10,
        "gru": 50 * (3 * (2 * 64 * 256 + 2 * 256 * 256) + 3 * (4 * 256 * 256)) + 2 * 256 * 10,
        "transformer": _encoder_flops(1, 64, 256, 1024, 2) + 2 * 256 * 10,
    }
    for name, per_item in expected_per_item.items():
        model, make_input = build(BUILTIN_MODELS[name])
        cost = count_forward(model.eval(), make_input(2))
        assert cost.flops == 2 * per_item, name
        assert cost.bytes_moved > 0


@pytest.mark.parametrize("make", [
    lambda: nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)),
    lambda: nn.LSTM(10, 20, batch_first=True),
], ids=["linear", "lstm"])
def test_the_counter_watching_the_memory_forward_changes_neither_figure(make):
    """The sweep counts a point's FLOPs inside the forward whose memory peak it measures: both figures must be
    what each gives on a forward of its own."""
    from dlplayground.bench.flops import ForwardCounter
    from dlplayground.bench.memory import forward_peak_bytes

    model = make().eval()
    x = torch.randn(4, 5, 10) if isinstance(model, nn.LSTM) else torch.randn(4, 32)
    alone = count_forward(model, x)
    peak_alone = forward_peak_bytes(model, x, "cpu", warmup_calls=0)
    counter = ForwardCounter(model)
    peak_shared = forward_peak_bytes(model, x, "cpu", warmup_calls=0, around=counter)
    assert peak_shared.activation_peak_bytes == peak_alone.activation_peak_bytes > 0
    assert counter.cost == alone
    assert alone.flops > 0


def test_a_counter_left_by_an_error_reports_no_cost_and_removes_its_hooks():
    from dlplayground.bench.flops import ForwardCounter

    model = nn.Linear(4, 4).eval()
    counter = ForwardCounter(model)
    with pytest.raises(RuntimeError), counter:
        model(torch.randn(2, 5))  # wrong width: the forward raises inside the counter
    assert counter.cost is None
    assert count_forward(model, torch.randn(2, 4)).flops == 2 * 2 * 4 * 4  # nothing left registered
