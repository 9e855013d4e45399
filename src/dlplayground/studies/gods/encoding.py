"""Token ids for every fold, at the full and at the short context length, and the posts' token lengths.

From scratch, each outer fold gets its own BPE tokenizer, trained on that fold's development posts only
(the held-out posts are not even used to build the vocabulary). Rank 0 trains it and broadcasts it as JSON,
so every rank encodes with the same vocabulary. With a checkpoint the tokenizer is the checkpoint's, the
same for all folds; with ``--allow-download`` rank 0 fetches the checkpoint first and the other ranks read
the filled cache after a barrier, so the hub is not hit once per rank.

Each post is encoded twice: truncated to the full context length (the model's window, or ``--max-length``)
and to the short one (one attention window, or ``--short-length``). Its untruncated length is measured
with the tokenizer of the fold that holds it out, so every labelled post is measured exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch.distributed as dist
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerBase

from dlplayground.studies.gods.corpus import GodsData
from dlplayground.studies.gods.distributed import DistContext, broadcast_object
from dlplayground.studies.gods.folds import NestedPlan, OuterFold
from dlplayground.studies.gods.longformer import (
    CheckpointRef,
    ScratchSpec,
    encode,
    load_checkpoint_model,
    load_checkpoint_tokenizer,
    token_lengths,
    train_tokenizer,
    wrap_tokenizer,
)


@dataclass(frozen=True)
class EncodedParts:
    """One fold's posts at one context length, unpadded (batches pad)."""

    inner_train: list[list[int]]
    inner_val: list[list[int]]
    held_out: list[list[int]]
    test: list[list[int]]


@dataclass(frozen=True)
class FoldEncoding:
    """One fold's tokenizer and its posts at both context lengths."""

    tokenizer: PreTrainedTokenizerBase
    full: EncodedParts
    short: EncodedParts
    held_out_lengths: list[int]
    """Untruncated tokens of each held-out post (special tokens included), in held-out order."""
    tokenizer_json: str | None
    """The from-scratch tokenizer as JSON (for the precision/process workers); None for a checkpoint's."""

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)


def _parts(tokenizer: PreTrainedTokenizerBase, data: GodsData, fold: OuterFold, length: int) -> EncodedParts:
    def enc(indices: Sequence[int]) -> list[list[int]]:
        return encode(tokenizer, [data.labelled.texts[i] for i in indices], length) if indices else []

    return EncodedParts(inner_train=enc(fold.inner_train), inner_val=enc(fold.inner_val), held_out=enc(fold.held_out),
                        test=encode(tokenizer, data.test_texts, length) if data.test_texts else [])


def encode_folds(
    data: GodsData, plan: NestedPlan, *, scratch: ScratchSpec | None, checkpoint: CheckpointRef | None,
    dropout: float | None, full_length: int, short_length: int, ctx: DistContext,
) -> list[FoldEncoding]:
    """Every fold's tokenizer and encodings; call on every rank (rank 0 trains, the others receive)."""
    shared: PreTrainedTokenizerBase | None = None
    if checkpoint is not None:
        if ctx.is_main and checkpoint.allow_download:
            load_checkpoint_model(checkpoint, data.label_names, dropout)
        if ctx.is_distributed and checkpoint.allow_download:
            dist.barrier()
        shared, _ = load_checkpoint_tokenizer(checkpoint)
    elif scratch is None:
        raise ValueError("need a ScratchSpec to train from scratch when no checkpoint is given")
    out = []
    for fold in plan.folds:
        tokenizer_json = None
        if shared is None:
            dev_texts = [data.labelled.texts[i] for i in fold.dev]
            tokenizer_json = train_tokenizer(dev_texts, scratch.vocab_size).to_str() if ctx.is_main else None
            tokenizer_json = broadcast_object(tokenizer_json, ctx)
            tokenizer = wrap_tokenizer(Tokenizer.from_str(tokenizer_json), full_length)
        else:
            tokenizer = shared
        lengths = token_lengths(tokenizer, [data.labelled.texts[i] for i in fold.held_out])
        out.append(FoldEncoding(tokenizer, _parts(tokenizer, data, fold, full_length),
                                _parts(tokenizer, data, fold, short_length), lengths, tokenizer_json))
    return out
