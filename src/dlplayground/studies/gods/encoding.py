"""Token ids for every split: one tokenizer for all ranks, trained once or taken from the checkpoint.

From scratch, rank 0 trains the BPE tokenizer and broadcasts it as JSON, so every rank encodes with the
same vocabulary and the tokenizer is trained once, not once per rank. With a checkpoint the
tokenizer is the checkpoint's; with ``--allow-download`` rank 0 fetches the checkpoint first and the other
ranks read the filled cache after a barrier, so the hub is not hit once per rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.distributed as dist
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerBase

from dlplayground.studies.gods.distributed import DistContext, broadcast_object
from dlplayground.studies.gods.longformer import (
    CheckpointRef,
    ScratchSpec,
    encode,
    load_checkpoint_model,
    load_checkpoint_tokenizer,
    train_tokenizer,
    wrap_tokenizer,
)
from dlplayground.studies.gods.splits import GodsSplits


@dataclass
class EncodedSplits:
    """Unpadded token ids per text of each split, and the tokenizer that made them."""

    train: list[list[int]]
    val: list[list[int]]
    test: list[list[int]]
    tokenizer: PreTrainedTokenizerBase
    max_length: int
    """Tokens per text actually used: the requested length, capped by a checkpoint's position table."""
    model_label: str
    """The model in words, for the run-settings table."""

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)


def encode_splits(
    splits: GodsSplits, *, scratch: ScratchSpec | None, checkpoint: CheckpointRef | None, dropout: float | None,
    max_length: int, ctx: DistContext,
) -> EncodedSplits:
    """The tokenizer (trained on rank 0 and broadcast, or the checkpoint's) and the encoded splits."""
    if checkpoint is None:
        if scratch is None:
            raise ValueError("need a ScratchSpec to train from scratch when no checkpoint is given")
        tokenizer_json = train_tokenizer(splits.train.texts, scratch.vocab_size).to_str() if ctx.is_main else None
        tokenizer_json = broadcast_object(tokenizer_json, ctx)
        tokenizer: PreTrainedTokenizerBase = wrap_tokenizer(Tokenizer.from_str(tokenizer_json), max_length)
        label = (f"Longformer from scratch ({scratch.num_layers} layers, hidden {scratch.hidden_size}, "
                 f"window {scratch.attention_window})")
    else:
        if ctx.is_main and checkpoint.allow_download:
            load_checkpoint_model(checkpoint, splits.label_names, dropout)
        if ctx.is_distributed and checkpoint.allow_download:
            dist.barrier()
        tokenizer, max_positions = load_checkpoint_tokenizer(checkpoint)
        max_length = min(max_length, max_positions)
        label = f"Longformer checkpoint {checkpoint.name}"
    test_texts = splits.test_texts
    return EncodedSplits(
        train=encode(tokenizer, splits.train.texts, max_length), val=encode(tokenizer, splits.val.texts, max_length),
        test=encode(tokenizer, test_texts, max_length) if test_texts else [], tokenizer=tokenizer,
        max_length=max_length, model_label=label,
    )
