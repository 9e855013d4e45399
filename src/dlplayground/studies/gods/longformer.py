"""Longformer tokenizer and model: built from scratch offline, or loaded from a checkpoint the user names.

Default (no ``--model``): a byte-level BPE tokenizer is trained on the training texts with the
``tokenizers`` library and wrapped as a ``PreTrainedTokenizerFast``; the model is a small
``LongformerForSequenceClassification`` initialised from a ``LongformerConfig``. Nothing is downloaded.
The special tokens take the ids RoBERTa and Longformer expect (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2), so
position ids (which count from ``pad_token_id + 1``) come out as in the pretrained models.

``--model PATH_OR_NAME``: a local checkpoint folder (``config.json`` + weights + tokenizer files), or a
hub id that is only fetched when ``--allow-download`` is given; without it the hub id must already be in
the local Hugging Face cache (``local_files_only=True``), so no run reaches the network by accident.

Every batch is padded to a multiple of the attention window (Longformer's sliding-window kernels need
it; padding here rather than inside the model keeps the shapes visible and the model's own padding a
no-op) and gets global attention on the first token, the ``<s>`` whose final state the classifier reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    AutoConfig,
    AutoTokenizer,
    LongformerConfig,
    LongformerForSequenceClassification,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging

from dlplayground.errors import UserInputError, first_line

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
"""In id order: matches ``LongformerConfig``'s defaults bos=0, pad=1, eos=2."""


@dataclass(frozen=True)
class ScratchSpec:
    """The from-scratch model: small enough that a nested comparison trains in minutes on two CPU cores.

    One layer of width 64 reached the accuracy of the former two layers of width 128 on the illustrative
    corpus in a quarter of the time per step; the study trains dozens of candidates, so the cheaper one is
    the default. Its context window is ``max_positions`` tokens (512), its local attention window
    ``attention_window`` tokens (32): the short-context twin reads one attention window's worth.
    """

    hidden_size: int = 64
    """Width of every token state."""
    num_layers: int = 1
    """Transformer blocks."""
    num_heads: int = 2
    """Attention heads per block (``hidden_size`` must divide by it)."""
    intermediate_size: int = 128
    """Feed-forward width."""
    attention_window: int = 32
    """Full sliding window (w/2 tokens each side); must be even."""
    max_positions: int = 512
    """The context window: the longest input (tokens, special tokens included) the position table holds."""
    vocab_size: int = 4000
    """BPE target size (a small corpus may stop earlier)."""
    dropout: float = 0.1
    """Hidden and attention dropout."""

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.attention_window < 2 or self.attention_window % 2:
            raise ValueError(f"attention_window must be a positive even number, got {self.attention_window}")
        if self.max_positions < self.attention_window:
            raise ValueError(f"max_positions {self.max_positions} is below attention_window {self.attention_window}")


QUICK_SPEC = ScratchSpec(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64,
                         attention_window=16, max_positions=64, vocab_size=400)


@dataclass(frozen=True)
class ContextWindows:
    """How much of a post a model can read: its whole window, and one local attention window."""

    positions: int
    """Longest input its position table allows (4096 for longformer-base, ``max_positions`` from scratch)."""
    attention: int
    """Its sliding attention window (512 for longformer-base): what a same-cost short-context model reads."""


def scratch_windows(spec: ScratchSpec) -> ContextWindows:
    return ContextWindows(positions=spec.max_positions, attention=spec.attention_window)


# ---------------------------------------------------------------------------------------------- tokenizer
def train_tokenizer(texts: Sequence[str], vocab_size: int) -> Tokenizer:
    """A byte-level BPE tokenizer trained on ``texts`` (lower-cased; ``<s> text </s>`` per sequence)."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(list(texts), trainer)
    bos, eos = SPECIAL_TOKENS[0], SPECIAL_TOKENS[2]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, tokenizer.token_to_id(bos)), (eos, tokenizer.token_to_id(eos))]
    )
    return tokenizer


def wrap_tokenizer(tokenizer: Tokenizer, max_length: int) -> PreTrainedTokenizerFast:
    """The ``transformers`` face of a ``tokenizers`` tokenizer (padding, truncation, save_pretrained)."""
    bos, pad, eos, unk, mask = SPECIAL_TOKENS
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=bos, pad_token=pad, eos_token=eos, unk_token=unk,
        mask_token=mask, cls_token=bos, sep_token=eos, model_max_length=max_length,
    )


def encode(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, with special tokens, truncated to ``max_length``; unpadded (batches pad)."""
    return tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]


def token_lengths(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> list[int]:
    """Tokens per text before any truncation, special tokens included (what a model would need to read it all)."""
    if not texts:
        return []
    # verbose=False: lengths beyond the tokenizer's maximum are the point here, not a mistake to warn about.
    ids = tokenizer(list(texts), truncation=False, add_special_tokens=True, verbose=False)["input_ids"]
    return [len(seq) for seq in ids]


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, window: int) -> dict[str, torch.Tensor]:
    """Pad to the longest sequence rounded up to a multiple of ``window``; global attention on token 0."""
    longest = max(len(s) for s in seqs)
    length = math.ceil(longest / window) * window
    input_ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for row, seq in enumerate(seqs):
        input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        attention_mask[row, : len(seq)] = 1
    global_attention_mask = torch.zeros_like(attention_mask)
    global_attention_mask[:, 0] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "global_attention_mask": global_attention_mask}


# ------------------------------------------------------------------------------------------------- models
def attention_window_of(model: LongformerForSequenceClassification) -> int:
    """The padding multiple: the largest per-layer window (Longformer pads to it internally too)."""
    window = model.config.attention_window
    return int(max(window) if isinstance(window, list | tuple) else window)


def _label_maps(label_names: Sequence[str]) -> tuple[dict[int, str], dict[str, int]]:
    return dict(enumerate(label_names)), {name: i for i, name in enumerate(label_names)}


def build_scratch_model(
    spec: ScratchSpec, tokenizer: PreTrainedTokenizerBase, label_names: Sequence[str]
) -> LongformerForSequenceClassification:
    """A freshly initialised Longformer classifier sized by ``spec`` (seed torch before calling)."""
    id2label, label2id = _label_maps(label_names)
    config = LongformerConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads, intermediate_size=spec.intermediate_size,
        attention_window=spec.attention_window,
        # RoBERTa-style positions start at pad_token_id + 1.
        max_position_embeddings=spec.max_positions + tokenizer.pad_token_id + 1,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, sep_token_id=tokenizer.eos_token_id,
        hidden_dropout_prob=spec.dropout, attention_probs_dropout_prob=spec.dropout,
        num_labels=len(label_names), id2label=id2label, label2id=label2id,
    )
    return LongformerForSequenceClassification(config)


def build_classifier(
    scratch: ScratchSpec | None, checkpoint: CheckpointRef | None, tokenizer: PreTrainedTokenizerBase,
    label_names: Sequence[str], dropout: float | None,
) -> LongformerForSequenceClassification:
    """The model a run trains: the checkpoint with a fresh head, or a new one sized by ``scratch``."""
    if checkpoint is not None:
        return load_checkpoint_model(checkpoint, label_names, dropout)
    if scratch is None:
        raise ValueError("need a ScratchSpec to build a model from scratch when no checkpoint is given")
    return build_scratch_model(scratch, tokenizer, label_names)


@dataclass(frozen=True)
class CheckpointRef:
    """A checked ``--model`` value: a local folder, or a hub id (fetched only if ``allow_download``)."""

    name: str
    """The folder (resolved path) or the hub id."""
    local: bool
    """True for a local checkpoint folder."""
    allow_download: bool
    """A hub id may be fetched from the network (``--allow-download``)."""


def _looks_like_path(name: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with separators or a leading ./~ is a path.
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1 or name.endswith("/")


def resolve_checkpoint(name: str, allow_download: bool) -> CheckpointRef:
    """Check ``--model`` before any work: an existing Longformer checkpoint folder, or a hub id.

    Without ``--allow-download`` a hub id must be in the local cache; its config is read from there (never
    from the network) so a wrong name or a non-Longformer model is refused before training starts.
    """
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserInputError(f"--model {name!r} is a file; expected a checkpoint folder or a hub model id")
        if not (path / "config.json").is_file():
            raise UserInputError(
                f"--model {name!r} is not a checkpoint folder (no config.json); expected what save_pretrained writes"
            )
        ref = CheckpointRef(name=str(path), local=True, allow_download=False)
    elif _looks_like_path(name) or not name.strip():
        raise UserInputError(f"--model checkpoint folder {name!r} does not exist")
    else:
        ref = CheckpointRef(name=name, local=False, allow_download=allow_download)
    if ref.allow_download:
        return ref  # checked when loaded (which may download)
    try:
        config = AutoConfig.from_pretrained(ref.name, local_files_only=True)
    except (OSError, ValueError) as exc:
        if ref.local:
            reason = first_line(exc, limit=None) or type(exc).__name__
            raise UserInputError(f"--model {name!r}: config.json cannot be read ({reason})") from None
        raise UserInputError(
            f"--model {name!r} is neither a local checkpoint folder nor in the local Hugging Face cache; "
            "pass --allow-download to fetch it from the hub"
        ) from None
    _check_longformer(config, name)
    return ref


def _check_longformer(config: object, name: str) -> None:
    model_type = getattr(config, "model_type", None)
    if model_type != "longformer":
        raise UserInputError(f"--model {name!r} is a {model_type!r} checkpoint; this study needs a Longformer")
    # transformers asserts this deep inside model construction; say it here, naming the fields.
    window, layers = getattr(config, "attention_window", None), getattr(config, "num_hidden_layers", None)
    if isinstance(window, list | tuple) and len(window) != layers:
        raise UserInputError(f"--model {name!r}: config.json's attention_window lists {len(window)} value(s) for "
                             f"{layers} layer(s) (num_hidden_layers); expected one per layer, or a single integer")


def _load_error(ref: CheckpointRef, exc: BaseException) -> UserInputError:
    where = "folder" if ref.local else "hub model"
    reason = first_line(exc, limit=None) or type(exc).__name__
    return UserInputError(f"--model {where} {ref.name!r} could not be loaded ({reason})")


def checkpoint_windows(ref: CheckpointRef) -> ContextWindows:
    """The checkpoint's context window (position table) and attention window, read from its config."""
    try:
        config = AutoConfig.from_pretrained(ref.name, local_files_only=not ref.allow_download)
    except (OSError, ValueError) as exc:
        raise _load_error(ref, exc) from None
    _check_longformer(config, ref.name)
    window = config.attention_window
    attention = int(max(window) if isinstance(window, list | tuple) else window)
    # RoBERTa-style position ids run from pad_token_id + 1 to max_position_embeddings - 1.
    positions = int(config.max_position_embeddings) - int(config.pad_token_id) - 1
    return ContextWindows(positions=positions, attention=min(attention, positions))


def load_checkpoint_tokenizer(ref: CheckpointRef) -> tuple[PreTrainedTokenizerBase, ContextWindows]:
    """The checkpoint's tokenizer and its context windows."""
    windows = checkpoint_windows(ref)
    try:
        tokenizer = AutoTokenizer.from_pretrained(ref.name, local_files_only=not ref.allow_download)
    except (OSError, ValueError) as exc:
        raise _load_error(ref, exc) from None
    if tokenizer.pad_token_id is None:
        raise UserInputError(f"--model {ref.name!r}: its tokenizer has no padding token")
    return tokenizer, windows


def load_checkpoint_model(
    ref: CheckpointRef, label_names: Sequence[str], dropout: float | None = None
) -> LongformerForSequenceClassification:
    """The checkpoint's encoder with a fresh classification head for ``label_names``."""
    options = {"local_files_only": not ref.allow_download}
    try:
        config = AutoConfig.from_pretrained(ref.name, **options)
        _check_longformer(config, ref.name)
        id2label, label2id = _label_maps(label_names)
        config.num_labels, config.id2label, config.label2id = len(label_names), id2label, label2id
        if dropout is not None:
            config.hidden_dropout_prob = config.attention_probs_dropout_prob = dropout
        # ignore_mismatched_sizes: a checkpoint fine-tuned for another label count gets a new head. The load
        # report transformers logs for every candidate is replaced by the check below, which is what matters.
        before, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            model, info = LongformerForSequenceClassification.from_pretrained(
                ref.name, config=config, ignore_mismatched_sizes=True, output_loading_info=True, **options
            )
        finally:
            hf_logging.set_verbosity(before)
            if bars:
                hf_logging.enable_progress_bar()
    except (OSError, ValueError) as exc:
        raise _load_error(ref, exc) from None
    missing = [k for k in info.get("missing_keys", ()) if not k.startswith("classifier.")]
    if missing:
        raise UserInputError(
            f"--model {ref.name!r}: {len(missing)} encoder weight(s) are missing from the checkpoint (e.g. "
            f"{sorted(missing)[0]!r}) and would be trained from random values; expected a Longformer encoder"
        )
    return model

