"""What one forward pass costs: floating-point operations and an estimate of the bytes it moves.

**FLOPs.** Convention: a multiply-add counts as 2 FLOPs, and only matrix products and convolutions are
counted (a ``(M, K) @ (K, N)`` product is ``2*M*N*K``). Element-wise work -- bias adds, activations,
normalisation, softmax, the gate non-linearities of an RNN -- is not counted; in the zoo's models it is
well under 2% of the total. This is the convention of ``torch.utils.flop_counter.FlopCounterMode``, which
does the counting, extended where it misses operators:

* recurrent modules (``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` and their ``*Cell`` forms) are counted
  analytically: per token (one sample, one time step), every non-bias weight element does one multiply-add,
  so a layer costs ``2 * (numel(W_ih) + numel(W_hh) [+ numel(W_hr)])`` FLOPs per token, i.e.
  ``gates * (2*in*h + 2*h*h)`` (gates: LSTM 4, GRU 3, RNN 1), summed over layers and directions. The
  counter misses LSTMs on the CPU (the fused oneDNN kernel) and sees GRUs through their decomposition; to
  count both the same way on every device, whatever the counter saw *inside* a recurrent module is
  replaced by the analytic count (module hooks), so nothing is counted twice;
* fused attention kernels the counter has no formula for (the CPU flash-attention behind
  ``F.scaled_dot_product_attention``, the ``nn.TransformerEncoderLayer`` / ``nn.MultiheadAttention`` fast
  paths, matrix-vector products) get formulas of the same convention (``EXTRA_FLOP_FORMULAS``).

**Bytes moved** is an *estimate* at layer granularity, not a measurement: every parameter and buffer is
read once (an embedding table only for the rows it gathers), and every innermost module that runs reads
its input tensors and writes its output tensors once, at each tensor's element size. A module counts as
innermost when none of its submodules ran during its call, so fused fast paths that bypass their children
count as one layer. Pure views and no-ops (``Flatten``, ``Identity``, ``Dropout`` in eval mode) move
nothing. It is a lower bound on what the layers must touch -- intermediates inside a layer (an LSTM's
gates, attention scores), functional ops between modules (a residual ``+``) and weights re-read per time
step are left out -- but it ignores caches, which can serve small models from on-chip memory: treat the
arithmetic intensity it gives as indicative.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.utils.flop_counter import FlopCounterMode

RECURRENT_MODULES: tuple[type[nn.Module], ...] = (nn.RNNBase, nn.RNNCellBase)
NO_TRAFFIC_MODULES: tuple[type[nn.Module], ...] = (
    nn.Identity, nn.Flatten, nn.Unflatten, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)
"""Modules that move no data in eval mode (views and no-ops); others are recognised by aliasing their input."""


# --------------------------------------------------------------------------- extra operator formulas
# Called by FlopCounterMode with tensors replaced by their shapes and the output shape as ``out_shape``.
def _prod(shape: Iterable[int]) -> int:
    return math.prod(int(s) for s in shape)


def _sdpa_cpu_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """Scores ``Q @ K^T`` and ``P @ V``: 2*Lq*Lk*E + 2*Lq*Lk*Ev per (batch, head)."""
    *lead, lq, e = query_shape
    lk, ev = key_shape[-2], value_shape[-1]
    return _prod(lead) * (2 * lq * lk * e + 2 * lq * lk * ev)


def _encoder_layer_fwd_flop(src_shape, embed_dim, num_heads, qkv_weight_shape, qkv_bias_shape,
                            proj_weight_shape, proj_bias_shape, use_gelu, norm_first, eps,
                            norm_weight_1_shape, norm_bias_1_shape, norm_weight_2_shape, norm_bias_2_shape,
                            ffn_weight_1_shape, ffn_bias_1_shape, ffn_weight_2_shape, ffn_bias_2_shape,
                            *args, out_shape=None, **kwargs) -> int:
    """``nn.TransformerEncoderLayer``'s fused fast path: the QKV, output and two feed-forward projections
    (2 FLOPs per weight element per token) plus self-attention's two S x S products."""
    seq = int(src_shape[-2])
    tokens = _prod(src_shape[:-1])
    weights = sum(_prod(s) for s in (qkv_weight_shape, proj_weight_shape, ffn_weight_1_shape, ffn_weight_2_shape))
    return 2 * tokens * weights + 4 * tokens * seq * int(embed_dim)


def _native_mha_flop(query_shape, key_shape, value_shape, embed_dim, num_head, qkv_weight_shape,
                     *args, out_shape=None, **kwargs) -> int:
    """``nn.MultiheadAttention``'s fast path: Q/K/V and output projections plus the two attention products."""
    e = int(embed_dim)
    lq, lk = int(query_shape[-2]), int(key_shape[-2])
    batch = _prod(query_shape[:-2])
    projections = 2 * batch * (lq * e * e + 2 * lk * e * e + lq * e * e)
    return projections + 4 * batch * lq * lk * e


def _mv_flop(mat_shape, vec_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * _prod(mat_shape)


def _addmv_flop(self_shape, mat_shape, vec_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * _prod(mat_shape)


def _extra_formulas() -> dict[Any, Callable[..., int]]:
    aten = torch.ops.aten
    wanted = {
        "_scaled_dot_product_flash_attention_for_cpu": _sdpa_cpu_flop,
        "_transformer_encoder_layer_fwd": _encoder_layer_fwd_flop,
        "_native_multi_head_attention": _native_mha_flop,
        "mv": _mv_flop,
        "addmv": _addmv_flop,
    }
    # An operator missing from some torch build is simply not extended.
    return {getattr(aten, name): fn for name, fn in wanted.items() if hasattr(aten, name)}


EXTRA_FLOP_FORMULAS: dict[Any, Callable[..., int]] = _extra_formulas()
"""Operator formulas added to ``FlopCounterMode``'s registry (same 2-FLOPs-per-multiply-add convention)."""


def _zero_flop(*args: Any, **kwargs: Any) -> int:
    return 0


def _recurrent_ops() -> dict[Any, Callable[..., int]]:
    """The fused recurrent operators, keyed by overload, mapped to 0 FLOPs.

    Recurrent modules are counted analytically (their in-module count is replaced), so the counter need not
    decompose ``aten.gru`` into hundreds of per-step matmuls -- that decomposition made a counting pass ~5x
    slower than the forward pass itself. The counter only skips decomposing operators found in its registry,
    which it looks up by overload. Correctness does not depend on this: whatever the counter sees inside a
    recurrent module is discarded. Recurrent operators called outside an ``nn`` recurrent module are not
    counted.
    """
    aten = torch.ops.aten
    ops: dict[Any, Callable[..., int]] = {}
    for name in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
        packet = getattr(aten, name, None)
        if packet is not None:
            ops.update({getattr(packet, overload): _zero_flop for overload in packet.overloads()})
    return ops


# ------------------------------------------------------------------------------ recurrent modules
def recurrent_tokens(module: nn.Module, args: tuple[Any, ...]) -> int:
    """How many (sample, time step) pairs a recurrent module processes in one call with ``args``."""
    x = args[0]
    if isinstance(x, nn.utils.rnn.PackedSequence):
        return int(x.data.shape[0])  # packed rows are exactly the real tokens
    if isinstance(module, nn.RNNCellBase):
        return int(x.shape[0]) if x.dim() == 2 else 1
    if x.dim() == 2:  # unbatched (L, H_in)
        return int(x.shape[0])
    return int(x.shape[0]) * int(x.shape[1])


def recurrent_flops_per_token(module: nn.Module) -> int:
    """2 x the module's non-bias weight elements: each does one multiply-add per token (see module doc)."""
    return 2 * sum(p.numel() for name, p in module.named_parameters(recurse=False) if name.startswith("weight"))


def recurrent_flops(module: nn.Module, args: tuple[Any, ...]) -> int:
    """Analytic FLOPs of one call of a recurrent module (``nn.LSTM``, ``nn.GRU``, ``nn.RNN``, cells)."""
    return recurrent_flops_per_token(module) * recurrent_tokens(module, args)


# ------------------------------------------------------------------------------------------ bytes
def _tensors(value: Any) -> list[torch.Tensor]:
    """Every tensor in a (nested) module argument or output, PackedSequence data included."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, nn.utils.rnn.PackedSequence):
        return [value.data]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    out = []
    for attr in ("logits", "last_hidden_state"):  # common model-output objects (transformers)
        inner = getattr(value, attr, None)
        if isinstance(inner, torch.Tensor):
            out.append(inner)
    return out


def _storage_key(t: torch.Tensor) -> int:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. nested, meta)
        return id(t)


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct tensors given (one read of each; a tensor passed twice counts once)."""
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    total = 0
    for t in tensors:
        key = (_storage_key(t), t.storage_offset(), tuple(t.shape))
        if key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total


def parameter_bytes(model: nn.Module) -> int:
    """Bytes of every distinct parameter and buffer of ``model`` (shared weights count once)."""
    tensors = list(model.parameters()) + list(model.buffers())
    seen: set[int] = set()
    total = 0
    for t in tensors:
        if t.data_ptr() in seen:
            continue
        seen.add(t.data_ptr())
        total += t.numel() * t.element_size()
    return total


# -------------------------------------------------------------------------------------- counting
@dataclass
class ForwardCost:
    """What one forward pass of a model on one batch costs (see the module docstring for conventions)."""

    flops: float
    """FLOPs of the pass: the counter's figure with recurrent modules replaced by their analytic count."""
    bytes_moved: float
    """Estimated bytes: ``parameter_bytes + activation_bytes``."""
    parameter_bytes: float
    activation_bytes: float
    counter_flops: float
    """What ``FlopCounterMode`` (with ``EXTRA_FLOP_FORMULAS``) counted, before the recurrent correction."""
    analytic_flops: float
    """The analytic count of the recurrent modules (included in ``flops``)."""
    flops_by_op: dict[str, float] = field(default_factory=dict)
    """The counter's FLOPs per operator, plus the recurrent correction, summing to ``flops``."""

    @property
    def arithmetic_intensity(self) -> float | None:
        """FLOPs per estimated byte moved."""
        return self.flops / self.bytes_moved if self.bytes_moved > 0 else None


class _Hooks:
    """Hooks registered on entry (by the subclass) and all removed on exit, even when the pass raised."""

    _handles: list[Any]

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


class _LayerTraffic(_Hooks):
    """Forward hooks that add up the activation bytes read and written by innermost modules."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.activation_bytes = 0
        self._gathered: dict[int, list[int]] = {}  # embedding module id -> [table bytes, rows read bytes]
        self._stack: list[list[bool]] = []  # one frame per running module: [a submodule ran]
        self._handles: list[Any] = []

    def __enter__(self) -> _LayerTraffic:
        # Global hooks, filtered to this model: hooks registered on the modules themselves would switch off
        # the fused fast paths (nn.TransformerEncoderLayer declines its fast path when it has hooks), and
        # the pass would no longer count the code that is timed.
        self._ids = {id(m) for m in self.model.modules()}
        self._handles.append(register_module_forward_pre_hook(self._pre))
        self._handles.append(register_module_forward_hook(self._post, with_kwargs=True, always_call=True))
        return self

    def _pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if id(module) not in self._ids:
            return
        if self._stack:
            self._stack[-1][0] = True
        self._stack.append([False])

    def _post(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        if id(module) not in self._ids or not self._stack:
            return
        had_children = self._stack.pop()[0]
        if had_children or isinstance(module, NO_TRAFFIC_MODULES) and not module.training:
            return
        inputs = _tensors(args) + _tensors(kwargs)
        outputs = _tensors(output)
        input_storages = {_storage_key(t) for t in inputs}
        fresh = [t for t in outputs if _storage_key(t) not in input_storages]
        if getattr(module, "inplace", False) and not fresh:
            # In-place op (e.g. ReLU(inplace=True)): reads and rewrites its input.
            self.activation_bytes += 2 * tensor_bytes(inputs)
            return
        if not fresh:
            return  # a view or a no-op (Flatten, Identity, Dropout in eval): nothing moves
        self.activation_bytes += tensor_bytes(inputs) + tensor_bytes(fresh)
        if isinstance(module, nn.Embedding | nn.EmbeddingBag):
            table = module.weight.numel() * module.weight.element_size()
            self._gathered.setdefault(id(module), [table, 0])[1] += tensor_bytes(fresh)

    @property
    def embedding_adjustment(self) -> int:
        """Embedding tables are read only for the rows gathered (at most the whole table): the (negative)
        correction to ``parameter_bytes``, which counted every table in full."""
        return sum(min(table, rows) - table for table, rows in self._gathered.values())


class _RecurrentCorrection(_Hooks):
    """Replaces the counter's figure inside each recurrent module by the analytic count."""

    def __init__(self, model: nn.Module, counter: FlopCounterMode):
        self.counter = counter
        self.modules = [m for m in model.modules() if isinstance(m, RECURRENT_MODULES)]
        self.correction = 0.0
        self.analytic = 0.0
        self._open: list[int] = []
        self._handles: list[Any] = []

    def __enter__(self) -> _RecurrentCorrection:
        for module in self.modules:
            self._handles.append(module.register_forward_pre_hook(self._pre))
            self._handles.append(module.register_forward_hook(self._post))
        return self

    def _pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self._open.append(self.counter.get_total_flops())

    def _post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        seen_inside = self.counter.get_total_flops() - self._open.pop()
        analytic = recurrent_flops(module, args)
        self.analytic += analytic
        self.correction += analytic - seen_inside


class ForwardCounter:
    """Counts the cost of the forward passes run while it is entered (``ForwardCost`` in ``cost`` after exit).

    A context rather than a function, so the one forward it counts can also be another measurement's forward:
    the sweep counts each point's FLOPs inside the forward whose memory it measures, the first call of the
    point's exploration (``dlplayground.bench.sweep``), instead of spending two more forwards per point.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.cost: ForwardCost | None = None
        self._counter = FlopCounterMode(display=False, custom_mapping={**EXTRA_FLOP_FORMULAS, **_recurrent_ops()})
        self._traffic = _LayerTraffic(model)
        self._recurrent = _RecurrentCorrection(model, self._counter)

    def __enter__(self) -> ForwardCounter:
        with contextlib.ExitStack() as stack:  # entered in this order, left in the reverse, even on an error
            for context in (self._traffic, self._counter, self._recurrent):
                stack.enter_context(context)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.__exit__(*exc_info)
        if exc_info[0] is None:
            self.cost = self._cost()

    def _cost(self) -> ForwardCost:
        counter, traffic, recurrent = self._counter, self._traffic, self._recurrent
        counted = float(counter.get_total_flops())
        params = parameter_bytes(self.model) + traffic.embedding_adjustment
        by_op = {str(op): float(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
        if recurrent.modules:  # so that the breakdown still sums to ``flops``
            by_op["recurrent modules: analytic minus counted"] = recurrent.correction
        return ForwardCost(
            flops=counted + recurrent.correction, bytes_moved=float(params + traffic.activation_bytes),
            parameter_bytes=float(params), activation_bytes=float(traffic.activation_bytes),
            counter_flops=counted, analytic_flops=recurrent.analytic, flops_by_op=by_op,
        )


def count_forward(model: nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> ForwardCost:
    """Run one forward pass under ``torch.inference_mode`` (the timed code path) and count its cost.

    This is a real forward pass: call it outside any timed region. The model should already be in eval mode
    on its device, with ``inputs`` prepared as for timing.
    """
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    with torch.inference_mode(), ForwardCounter(model) as counter:
        model(*args)
    assert counter.cost is not None
    return counter.cost
