"""GODS 4.0 mental-health posts: does resampling help a Longformer -- and does it beat a bag of words?

**Question.** The Zindi GODS 4.0 challenge asks for the category of a mental-health post (title and
content), scored by accuracy, with classes of very different sizes. Train a Longformer classifier with
mixed precision, distributed over several processes, under four ways of handling the imbalance -- none,
a class-weighted loss, oversampling the small classes, undersampling the large ones. Which helps the
small classes without costing accuracy, and is any of them better than two cheap baselines: always
predicting the majority class, and TF-IDF + logistic regression?

**Method.**

1. Data. ``--train CSV`` / ``--test CSV`` in the competition's format (``id, title, content, target``;
   the test file has no ``target``); title and content are joined into one text. The labels in the
   training file define the label set. A stratified validation split (``--val-fraction``) keeps the
   natural class priors, or ``--val CSV`` gives a labelled validation file (labels it has that training
   lacks are an error). With no ``--train`` the run uses a small *illustrative* corpus the package ships
   (400 + 100 short posts written for this project, four classes, 45/30/15/10 % prior) and says so.
2. Model. ``transformers``' ``LongformerForSequenceClassification``, global attention on the first token,
   every batch padded to a multiple of the attention window. By default a small Longformer trained from
   scratch with a byte-level BPE tokenizer trained on the training split -- fully offline; ``--model``
   loads a checkpoint folder (or a hub id, downloaded only with ``--allow-download``) and fine-tunes it.
3. Imbalance (``--imbalance``). ``none``; ``weighted-loss`` (cross-entropy weighted ``n / (k n_c)``);
   ``oversample`` (each class drawn equally often, with replacement); ``undersample`` (a fresh
   class-balanced subset each epoch). The samplers draw one global sample per epoch and give each rank
   a disjoint strided share of it -- ``WeightedRandomSampler`` and ``DistributedSampler`` cannot be
   combined. Every strategy trains the same number of steps with the same global batch, over
   ``--repeats`` seeds (the validation split stays fixed; seeds vary initialisation and sampling).
4. Precision (``--precision``): ``auto`` is fp16 autocast with a GradScaler on CUDA and bf16 autocast on
   the CPU. Distribution: ``torchrun --nproc_per_node N experiments/gods_longformer.py ...`` (gloo on CPU,
   NCCL on GPUs); the global batch is split over the ranks, only rank 0 writes files and progress, and a
   rank that fails ends the whole job instead of leaving the others waiting.
5. Scores on the validation split at its natural priors: accuracy (the competition's metric), macro-F1,
   per-class recall and the confusion matrix. ``submission.csv`` (``id, target``) holds the best
   Longformer's test predictions; ``submission_tfidf_baseline.csv`` the baseline's.

**How to read the result.** The verdict compares the best strategy with the TF-IDF baseline and each
strategy with ``none``, counting a difference as real only if it exceeds twice the seed spread and one
validation example. Accuracy rewards the majority class, so read macro-F1 and the per-class recalls
for what the strategies do to the small classes; the "class mix fed to training" table shows what each
sampler actually fed the model. On the illustrative corpus the figures show that the pipeline works, not
how a Longformer scores on the competition data -- a bag of words is strong on short posts whose
categories are carried by a few words, and a from-scratch transformer with a few hundred examples has
little to learn long-range structure from.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from dlplayground.data.zindi import (  # noqa: E402
    SAMPLE_DESCRIPTION,
    ZindiTexts,
    check_known_labels,
    check_trainable,
    read_zindi_csv,
    sample_paths,
    stratified_split,
    write_submission,
)
from dlplayground.devices import parse_device  # noqa: E402
from dlplayground.errors import UserInputError, choices_text  # noqa: E402
from dlplayground.results import Figure, StudyResult, Table  # noqa: E402
from dlplayground.studies.gods.amp import PRECISIONS, PrecisionPlan, select_precision  # noqa: E402
from dlplayground.studies.gods.baselines import majority_predictions, tfidf_logreg_predictions  # noqa: E402
from dlplayground.studies.gods.distributed import (  # noqa: E402
    DEFAULT_TIMEOUT_S,
    DistContext,
    backend_for,
    broadcast_object,
    context_from_env,
    process_group,
    rank_device,
    run_rank,
)
from dlplayground.studies.gods.longformer import (  # noqa: E402
    QUICK_SPEC,
    CheckpointRef,
    ScratchSpec,
    attention_window_of,
    build_scratch_model,
    encode,
    load_checkpoint_model,
    load_checkpoint_tokenizer,
    resolve_checkpoint,
    train_tokenizer,
    wrap_tokenizer,
)
from dlplayground.studies.gods.metrics import ClassificationScores, score  # noqa: E402
from dlplayground.studies.gods.sampler import IMBALANCE_STRATEGIES, epoch_size  # noqa: E402
from dlplayground.studies.gods.train import TrainConfig, TrainLog, predict, train_classifier  # noqa: E402
from dlplayground.studies.runner import common_parser, progress, run_experiment  # noqa: E402

STUDY = "gods_longformer"
QUESTION = (
    "On imbalanced mental-health posts (Zindi GODS 4.0 format), which way of handling the imbalance -- none, "
    "class-weighted loss, oversampling or undersampling -- helps a Longformer trained with mixed precision "
    "under DDP, and does it beat a majority-class guess and TF-IDF + logistic regression?"
)


# ------------------------------------------------------------------------------------------------ options
@dataclass(frozen=True)
class Settings:
    """The resolved run: ``--quick`` and the flags the user left unset become concrete numbers here."""

    strategies: tuple[str, ...]
    steps: int
    batch_size: int
    learning_rate: float
    repeats: int
    max_length: int
    spec: ScratchSpec
    dropout: float | None
    precision: PrecisionPlan
    checkpoint: CheckpointRef | None


def _strategies(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in names if s not in IMBALANCE_STRATEGIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown) or 'nothing'} is not a strategy; give a comma-separated list of "
            f"{choices_text(IMBALANCE_STRATEGIES)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = common_parser(STUDY, __doc__)
    data = parser.add_argument_group("data")
    data.add_argument("--train", type=Path, default=None,
                      help="competition training CSV (id,title,content,target); default: the illustrative sample")
    data.add_argument("--test", type=Path, default=None,
                      help="competition test CSV (id,title,content): predictions go to submission.csv")
    data.add_argument("--val", type=Path, default=None,
                      help="labelled validation CSV (train format); default: a stratified split of --train")
    data.add_argument("--val-fraction", type=float, default=0.2,
                      help="share of each class held out for validation when --val is not given (default 0.2)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=None, metavar="PATH_OR_NAME",
                       help="Longformer checkpoint folder or hub id to fine-tune (default: small model from scratch)")
    model.add_argument("--allow-download", action="store_true",
                       help="let --model fetch a hub id from the network (otherwise only the local cache is used)")
    model.add_argument("--max-length", type=int, default=None,
                       help="tokens per text after truncation (default 512; --quick 64)")
    model.add_argument("--dropout", type=float, default=None,
                       help="hidden and attention dropout (default 0.1 from scratch, the checkpoint's own otherwise)")
    train = parser.add_argument_group("training")
    train.add_argument("--imbalance", type=_strategies, default=IMBALANCE_STRATEGIES,
                       help=f"comma-separated strategies to compare (default: all of {','.join(IMBALANCE_STRATEGIES)})")
    train.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="auto (fp16+GradScaler on CUDA, bf16 on CPU), fp32, fp16 or bf16")
    train.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default 300; --quick 8)")
    train.add_argument("--batch-size", type=int, default=None,
                       help="global batch over all ranks; must divide by the number of ranks (default 16; --quick 8)")
    train.add_argument("--lr", type=float, default=None,
                       help="peak AdamW learning rate (default 1e-3 from scratch, 3e-5 for --model)")
    train.add_argument("--repeats", type=int, default=None,
                       help="seeds per strategy, for the spread (default 3; --quick 1)")
    dist_group = parser.add_argument_group("distributed (under torchrun)")
    dist_group.add_argument("--dist-timeout-s", type=float, default=DEFAULT_TIMEOUT_S,
                            help=f"process-group timeout in seconds (default {DEFAULT_TIMEOUT_S:g})")
    return parser


def resolve_settings(args: argparse.Namespace, device: torch.device) -> Settings:
    """Fill in the defaults (``--quick`` shrinks them) and check every number before any work."""
    quick = args.quick
    spec = QUICK_SPEC if quick else ScratchSpec()
    steps = args.steps if args.steps is not None else (8 if quick else 300)
    batch = args.batch_size if args.batch_size is not None else 8 if quick else 16
    repeats = args.repeats if args.repeats is not None else (1 if quick else 3)
    max_length = args.max_length if args.max_length is not None else (64 if quick else 512)
    lr = args.lr if args.lr is not None else (1e-3 if args.model is None else 3e-5)
    for flag, value, low in (("--steps", steps, 1), ("--batch-size", batch, 1), ("--repeats", repeats, 1),
                             ("--max-length", max_length, 8)):
        if value < low:
            raise UserInputError(f"{flag} must be >= {low}, got {value}")
    if not (math.isfinite(lr) and lr > 0):
        raise UserInputError(f"--lr must be a positive number, got {lr}")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise UserInputError(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.dropout is not None:
        spec = replace(spec, dropout=args.dropout)
    checkpoint = resolve_checkpoint(args.model, args.allow_download) if args.model is not None else None
    return Settings(
        strategies=tuple(args.imbalance), steps=steps, batch_size=batch, learning_rate=lr, repeats=repeats,
        max_length=max_length, spec=spec, dropout=args.dropout, precision=select_precision(args.precision, device),
        checkpoint=checkpoint,
    )


# --------------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class StudyData:
    train: ZindiTexts
    val: ZindiTexts
    test: ZindiTexts | None
    label_names: tuple[str, ...]
    source: str
    illustrative: bool


def load_data(args: argparse.Namespace) -> StudyData:
    """Read (or fall back to the packaged corpus), validate, and split; all checks happen here."""
    illustrative = args.train is None
    if illustrative:
        if args.test is not None or args.val is not None:
            raise UserInputError("--test and --val need --train (the training CSV they belong to)")
        train_path, test_path = sample_paths()
        full = read_zindi_csv(train_path, labelled=True, what="packaged sample")
        test = read_zindi_csv(test_path, labelled=False, what="packaged sample")
    else:
        full = read_zindi_csv(args.train, labelled=True)
        test = read_zindi_csv(args.test, labelled=False) if args.test is not None else None
    check_trainable(full)
    label_names = full.label_set
    if args.val is not None:
        val = read_zindi_csv(args.val, labelled=True, what="validation CSV")
        check_known_labels(val.labels or (), label_names, f"validation CSV {str(args.val)!r}")
        train, how = full, f"validation {args.val} ({len(val)} rows)"
    else:
        train_idx, val_idx = stratified_split(full.labels or (), args.val_fraction, args.seed)
        if not val_idx:
            raise UserInputError(
                f"training CSV {full.source!r} is too small for a validation split ({len(full)} rows); "
                "raise --val-fraction or give --val CSV"
            )
        train, val = full.subset(train_idx), full.subset(val_idx)
        how = f"stratified {args.val_fraction:g} validation split (seed {args.seed})"
    if illustrative:
        source = f"{SAMPLE_DESCRIPTION}; {how} (offline fallback; pass --train CSV --test CSV for the real data)"
    else:
        test_part = f", test {args.test} ({len(test)} rows)" if test is not None else ", no test file"
        source = f"Zindi GODS CSV: train {args.train} ({len(full)} rows){test_part}; {how}"
    return StudyData(train=train, val=val, test=test, label_names=label_names, source=source,
                     illustrative=illustrative)


def check_fits(data: StudyData, settings: Settings, ctx: DistContext) -> None:
    """Every rank needs its own share of the data and a full local batch, for every strategy."""
    n_train = len(data.train)
    if ctx.world_size > n_train:
        raise UserInputError(
            f"{ctx.world_size} ranks (--nproc_per_node) but only {n_train} training examples; "
            f"use at most {n_train} ranks or more data"
        )
    if settings.batch_size % ctx.world_size:
        raise UserInputError(
            f"--batch-size {settings.batch_size} is the global batch and must divide evenly over "
            f"{ctx.world_size} ranks"
        )
    label_index = {name: i for i, name in enumerate(data.label_names)}
    y = [label_index[label] for label in data.train.labels or ()]
    for strategy in settings.strategies:
        per_epoch = epoch_size(strategy, y)
        if settings.batch_size > per_epoch:
            raise UserInputError(
                f"--batch-size {settings.batch_size} exceeds the {per_epoch} examples one '{strategy}' epoch "
                f"draws from the training split; use a batch of at most {per_epoch}"
            )


# ----------------------------------------------------------------------------------------------- training
@dataclass
class RunRecord:
    """One (strategy, seed) training run and what it scored."""

    strategy: str
    repeat: int
    seed: int
    log: TrainLog
    scores: ClassificationScores
    test_predictions: list[int]


@dataclass
class Encoded:
    train: list[list[int]]
    val: list[list[int]]
    test: list[list[int]]
    pad_id: int
    vocab_size: int
    max_length: int
    model_label: str


def _build_model(settings: Settings, tokenizer: object, data: StudyData, max_length: int) -> torch.nn.Module:
    if settings.checkpoint is None:
        return build_scratch_model(settings.spec, tokenizer, data.label_names, max_length)
    return load_checkpoint_model(settings.checkpoint, data.label_names, settings.dropout)


def prepare_text(settings: Settings, data: StudyData, ctx: DistContext) -> tuple[Encoded, object]:
    """Tokenizer (trained on rank 0 and broadcast, or the checkpoint's) and the encoded splits."""
    if settings.checkpoint is None:
        max_length = settings.max_length
        tokenizer_json = train_tokenizer(data.train.texts, settings.spec.vocab_size).to_str() if ctx.is_main else None
        tokenizer_json = broadcast_object(tokenizer_json, ctx)
        tokenizer = wrap_tokenizer(Tokenizer.from_str(tokenizer_json), max_length)
        label = (f"Longformer from scratch ({settings.spec.num_layers} layers, hidden {settings.spec.hidden_size}, "
                 f"window {settings.spec.attention_window})")
    else:
        # With --allow-download rank 0 fetches everything first; the others then read the filled cache.
        if ctx.is_main and settings.checkpoint.allow_download:
            load_checkpoint_model(settings.checkpoint, data.label_names, settings.dropout)
        if ctx.is_distributed and settings.checkpoint.allow_download:
            dist.barrier()
        tokenizer, max_positions = load_checkpoint_tokenizer(settings.checkpoint)
        max_length = min(settings.max_length, max_positions)
        label = f"Longformer checkpoint {settings.checkpoint.name}"
    test_texts = data.test.texts if data.test is not None else ()
    encoded = Encoded(
        train=encode(tokenizer, data.train.texts, max_length), val=encode(tokenizer, data.val.texts, max_length),
        test=encode(tokenizer, test_texts, max_length) if test_texts else [], pad_id=int(tokenizer.pad_token_id),
        vocab_size=len(tokenizer), max_length=max_length, model_label=label,
    )
    return encoded, tokenizer


def train_all(
    settings: Settings, data: StudyData, ctx: DistContext, device: torch.device, base_seed: int
) -> tuple[list[RunRecord], Encoded]:
    """Every (repeat, strategy) run, in the same order on every rank."""
    encoded, tokenizer = prepare_text(settings, data, ctx)
    label_index = {name: i for i, name in enumerate(data.label_names)}
    y_train = [label_index[label] for label in data.train.labels or ()]
    y_val = [label_index[label] for label in data.val.labels or ()]
    k = len(data.label_names)
    records = []
    total = settings.repeats * len(settings.strategies)
    for repeat in range(settings.repeats):
        for strategy in settings.strategies:
            seed = base_seed + repeat
            torch.manual_seed(seed)  # the same initial weights on every rank (DDP also broadcasts them)
            model = _build_model(settings, tokenizer, data, encoded.max_length)
            window = attention_window_of(model)
            cfg = TrainConfig(steps=settings.steps, global_batch_size=settings.batch_size,
                              learning_rate=settings.learning_rate, imbalance=strategy, seed=seed)
            done = len(records) + 1
            every = max(1, settings.steps // 4)

            def report(step: int, loss: float, *, _s: str = strategy, _r: int = repeat, _d: int = done,
                       _every: int = every) -> None:
                if ctx.is_main and ((step + 1) % _every == 0 or step + 1 == settings.steps):
                    progress(f"run {_d}/{total} ({_s}, seed {base_seed + _r}): step {step + 1}/"
                             f"{settings.steps}, loss {loss:.3f}")

            log = train_classifier(model, encoded.train, y_train, k, cfg, ctx=ctx, plan=settings.precision,
                                   device=device, pad_id=encoded.pad_id, window=window, on_step=report)
            common = {"ctx": ctx, "plan": settings.precision, "device": device, "pad_id": encoded.pad_id,
                      "window": window}
            val_pred = predict(model, encoded.val, **common)
            test_pred = predict(model, encoded.test, **common) if encoded.test else []
            scores = score(y_val, val_pred, data.label_names)
            if ctx.is_main:
                progress(f"run {done}/{total} ({strategy}, seed {seed}): validation accuracy {scores.accuracy:.3f}, "
                         f"macro-F1 {scores.macro_f1:.3f}, {log.seconds:.1f} s")
            records.append(RunRecord(strategy, repeat, seed, log, scores, test_pred))
    return records, encoded


# ------------------------------------------------------------------------------------------------- report
@dataclass(frozen=True)
class Summary:
    """Mean and spread of one model's validation scores over its runs."""

    name: str
    accuracy: float
    accuracy_sd: float
    macro_f1: float
    macro_f1_sd: float
    recall: tuple[float | None, ...]
    train_s: float | None


def _sd(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(name: str, scores: Sequence[ClassificationScores], train_s: float | None = None) -> Summary:
    recalls = []
    for i in range(len(scores[0].recall)):
        values = [s.recall[i] for s in scores if s.recall[i] is not None]
        recalls.append(statistics.fmean(values) if values else None)
    return Summary(
        name=name, accuracy=statistics.fmean(s.accuracy for s in scores), accuracy_sd=_sd([s.accuracy for s in scores]),
        macro_f1=statistics.fmean(s.macro_f1 for s in scores), macro_f1_sd=_sd([s.macro_f1 for s in scores]),
        recall=tuple(recalls), train_s=train_s,
    )


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _clear(diff: float, sd_a: float, sd_b: float, n_val: int) -> bool:
    """A difference counts only beyond twice the seed spread and one validation example."""
    return abs(diff) > max(2 * max(sd_a, sd_b), 1.0 / n_val)


def write_verdict(summaries: dict[str, Summary], strategies: Sequence[str], best: str, repeats: int,
                  n_val: int, illustrative: bool) -> str:
    b, tfidf, major = summaries[f"longformer/{best}"], summaries["tfidf+logreg"], summaries["majority class"]
    spread = f"sd {b.accuracy_sd:.3f} over {repeats} seeds" if repeats > 1 else "one seed, no spread estimate"
    parts = [
        f"Best Longformer setting '{best}': validation accuracy {b.accuracy:.3f} ({spread}), macro-F1 "
        f"{b.macro_f1:.3f}; TF-IDF + logistic regression {tfidf.accuracy:.3f} / {tfidf.macro_f1:.3f}; majority "
        f"class {major.accuracy:.3f} / {major.macro_f1:.3f}."
    ]
    diff = b.accuracy - tfidf.accuracy
    if _clear(diff, b.accuracy_sd, 0.0, n_val):
        parts.append("The Longformer beats the TF-IDF baseline." if diff > 0 else
                     f"The Longformer does NOT beat the TF-IDF baseline (accuracy {diff:+.3f}).")
    else:
        parts.append(f"The Longformer and the TF-IDF baseline are indistinguishable in accuracy ({diff:+.3f}).")
    f1_diff = b.macro_f1 - tfidf.macro_f1
    f1_call = "beyond" if _clear(f1_diff, b.macro_f1_sd, 0.0, n_val) else "within"
    parts.append(f"Macro-F1 against TF-IDF: {f1_diff:+.3f} ({f1_call} the noise threshold).")
    if not b.accuracy > major.accuracy + 1.0 / n_val:
        parts.append("It does NOT even beat predicting the majority class.")
    if "none" in strategies and len(strategies) > 1:
        base = summaries["longformer/none"]
        effects = []
        for s in strategies:
            if s == "none":
                continue
            other = summaries[f"longformer/{s}"]
            d = other.macro_f1 - base.macro_f1
            verdict = "clear" if _clear(d, other.macro_f1_sd, base.macro_f1_sd, n_val) else "within noise"
            effects.append(f"{s} {d:+.3f}" + (f" ({verdict})" if repeats > 1 else ""))
        judged = "" if repeats > 1 else " (one seed: too little to call any of these differences real)"
        parts.append("Macro-F1 against no correction: " + ", ".join(effects) + judged + ".")
    if illustrative:
        parts.append("Illustrative corpus: this shows the pipeline works, not how it scores on the competition data.")
    return " ".join(parts)


def plot_confusions(path: Path, panels: Sequence[tuple[str, ClassificationScores]]) -> None:
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (title, scores) in zip(axes[0], panels, strict=True):
        cm = np.asarray(scores.confusion, dtype=float)
        rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(rows, vmin=0, vmax=1, cmap="Blues")
        names = scores.label_names
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), names)
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center",
                        color="white" if rows[i, j] > 0.5 else "black", fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_losses(path: Path, records: Sequence[RunRecord], strategies: Sequence[str]) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for strategy in strategies:
        curves = np.asarray([r.log.losses for r in records if r.strategy == strategy])
        mean = curves.mean(axis=0)
        ax.plot(np.arange(1, len(mean) + 1), mean, label=strategy)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (mean over ranks and seeds)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_scores(path: Path, summaries: Sequence[Summary]) -> None:
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    x = np.arange(len(summaries))
    ax.bar(x - 0.2, [s.accuracy for s in summaries], 0.4, yerr=[s.accuracy_sd for s in summaries], label="accuracy")
    ax.bar(x + 0.2, [s.macro_f1 for s in summaries], 0.4, yerr=[s.macro_f1_sd for s in summaries], label="macro-F1")
    ax.set_xticks(x, [s.name for s in summaries], rotation=20, ha="right")
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("validation score")
    ax.legend(loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_result(
    out_dir: Path, settings: Settings, data: StudyData, records: list[RunRecord], encoded: Encoded,
    ctx: DistContext, device: torch.device,
) -> StudyResult:
    """Baselines, tables, figures, submissions and the verdict (rank 0 only)."""
    names = data.label_names
    label_index = {name: i for i, name in enumerate(names)}
    y_train = [label_index[label] for label in data.train.labels or ()]
    y_val = [label_index[label] for label in data.val.labels or ()]
    n_val = len(y_val)

    majority = score(y_val, majority_predictions(y_train, n_val), names)
    test_texts = list(data.test.texts) if data.test is not None else []
    tfidf_all = tfidf_logreg_predictions(data.train.texts, y_train, list(data.val.texts) + test_texts)
    tfidf = score(y_val, tfidf_all[:n_val], names)

    summaries: dict[str, Summary] = {
        "majority class": summarise("majority class", [majority]),
        "tfidf+logreg": summarise("tfidf+logreg", [tfidf]),
    }
    for strategy in settings.strategies:
        runs = [r for r in records if r.strategy == strategy]
        summaries[f"longformer/{strategy}"] = summarise(
            f"longformer/{strategy}", [r.scores for r in runs], statistics.fmean(r.log.seconds for r in runs)
        )
    best = max(settings.strategies, key=lambda s: (summaries[f"longformer/{s}"].accuracy,
                                                   summaries[f"longformer/{s}"].macro_f1))
    best_run = max((r for r in records if r.strategy == best), key=lambda r: (r.scores.accuracy, r.scores.macro_f1))

    # Tables ---------------------------------------------------------------------------------------------
    score_rows = [
        [s.name, _r(s.accuracy), _r(s.accuracy_sd), _r(s.macro_f1), _r(s.macro_f1_sd), *[_r(v) for v in s.recall],
         _r(s.train_s, 2)]
        for s in summaries.values()
    ]
    tables = [
        Table("Validation scores at the natural class priors (mean and sd over seeds)",
              ["model", "accuracy", "accuracy sd", "macro-F1", "macro-F1 sd", *[f"recall {n}" for n in names],
               "train s per run"],
              score_rows,
              note=f"{n_val} validation examples; one example is {1 / n_val:.3f} of accuracy. Baselines are "
                   "deterministic (no sd). Per-class recall is the share of that class predicted correctly."),
        Table("Per-run scores", ["strategy", "seed", "accuracy", "macro-F1", "final loss", "train s"],
              [[r.strategy, r.seed, _r(r.scores.accuracy), _r(r.scores.macro_f1), _r(r.log.losses[-1], 4),
                _r(r.log.seconds, 2)] for r in records]),
    ]
    counts = data.train.class_counts()
    natural = [counts.get(n, 0) / len(data.train) for n in names]
    mix_rows = [["natural prior (training split)", *[_r(v) for v in natural]]]
    for strategy in settings.strategies:
        seen = np.sum([r.log.seen_per_class for r in records if r.strategy == strategy], axis=0)
        mix_rows.append([strategy, *[_r(v / seen.sum()) for v in seen]])
    tables.append(Table("Class mix fed to training (share of examples drawn, pooled over ranks and seeds)",
                        ["sampler", *names], mix_rows,
                        note="'none' and 'weighted-loss' see the natural mix; 'oversample' and 'undersample' "
                             "should be close to 1/k each."))
    for title, scores in ((f"Confusion matrix: Longformer '{best}' (seed {best_run.seed})", best_run.scores),
                          ("Confusion matrix: TF-IDF + logistic regression", tfidf)):
        tables.append(Table(title, ["true \\ predicted", *names],
                            [[n, *row] for n, row in zip(names, scores.confusion, strict=True)]))
    val_counts = data.val.class_counts()
    tables.append(Table("Data", ["split", "examples", *names], [
        ["train", len(data.train), *[counts.get(n, 0) for n in names]],
        ["validation", len(data.val), *[val_counts.get(n, 0) for n in names]],
        ["test (unlabelled)", len(data.test) if data.test is not None else 0, *["" for _ in names]],
    ]))
    spec = settings.spec
    tables.append(Table("Run settings", ["setting", "value"], [
        ["model", encoded.model_label],
        ["tokenizer vocabulary", encoded.vocab_size],
        ["max tokens per text", encoded.max_length],
        ["ranks (world size)", ctx.world_size],
        ["backend", backend_for(device) if ctx.is_distributed else "single process"],
        ["device", str(device)],
        ["precision", f"{settings.precision.name}" + (" + GradScaler" if settings.precision.use_grad_scaler else "")],
        ["steps per run", settings.steps],
        ["global batch (per rank)", f"{settings.batch_size} ({settings.batch_size // ctx.world_size})"],
        ["peak learning rate", settings.learning_rate],
        ["dropout", spec.dropout if settings.checkpoint is None else (settings.dropout or "checkpoint's")],
        ["seeds per strategy", settings.repeats],
    ]))

    # Figures and submissions -----------------------------------------------------------------------------
    plot_confusions(out_dir / "confusion.png", [("TF-IDF + logistic regression", tfidf),
                                                (f"Longformer '{best}' (seed {best_run.seed})", best_run.scores)])
    plot_losses(out_dir / "loss.png", records, settings.strategies)
    plot_scores(out_dir / "scores.png", list(summaries.values()))
    figures = [
        Figure("Confusion matrices", "confusion.png",
               "Validation set; rows are the true class, shade is the row share (recall on the diagonal)."),
        Figure("Training loss", "loss.png", "Mean over ranks and seeds, per imbalance strategy."),
        Figure("Validation scores", "scores.png", "Accuracy and macro-F1 with the seed spread as error bars."),
    ]
    outputs = []
    if data.test is not None:
        write_submission(out_dir / "submission.csv", data.test.ids, [names[i] for i in best_run.test_predictions])
        write_submission(out_dir / "submission_tfidf_baseline.csv", data.test.ids,
                         [names[i] for i in tfidf_all[n_val:]])
        outputs = [["submission.csv", len(data.test), f"Longformer '{best}' seed {best_run.seed}"],
                   ["submission_tfidf_baseline.csv", len(data.test), "TF-IDF + logistic regression"]]
        tables.append(Table("Submission files (id,target)", ["file", "rows", "model"], outputs))

    metrics: dict[str, float | int | str | None] = {
        "best_strategy": best,
        "accuracy_best_longformer": _r(summaries[f"longformer/{best}"].accuracy),
        "macro_f1_best_longformer": _r(summaries[f"longformer/{best}"].macro_f1),
        "accuracy_tfidf_logreg": _r(tfidf.accuracy), "macro_f1_tfidf_logreg": _r(tfidf.macro_f1),
        "accuracy_majority": _r(majority.accuracy), "macro_f1_majority": _r(majority.macro_f1),
    }
    for strategy in settings.strategies:
        s = summaries[f"longformer/{strategy}"]
        key = strategy.replace("-", "_")
        metrics[f"accuracy_{key}"] = _r(s.accuracy)
        metrics[f"macro_f1_{key}"] = _r(s.macro_f1)
        metrics[f"train_s_{key}"] = _r(s.train_s, 2)
    metrics.update(world_size=ctx.world_size, precision=settings.precision.name, validation_examples=n_val,
                   train_examples=len(data.train))
    return StudyResult(
        study=STUDY, question=QUESTION,
        verdict=write_verdict(summaries, settings.strategies, best, settings.repeats, n_val, data.illustrative),
        data_source=data.source, metrics=metrics, tables=tables, figures=figures,
    )


# ----------------------------------------------------------------------------------------------------- main
def body(args: argparse.Namespace, out_dir: Path) -> StudyResult:
    ctx = context_from_env()
    device = rank_device(ctx, parse_device(args.device))
    settings = resolve_settings(args, device)
    data = load_data(args)
    check_fits(data, settings, ctx)
    if ctx.is_main:
        if data.illustrative:
            progress(f"no --train given: using the {SAMPLE_DESCRIPTION}")
        progress(f"{len(data.train)} training / {len(data.val)} validation examples, {len(data.label_names)} "
                 f"classes; {ctx.world_size} rank(s), precision {settings.precision.name}")
    if not ctx.is_main:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # only rank 0 logs
    with process_group(ctx, device, args.dist_timeout_s):
        records, encoded = train_all(settings, data, ctx, device, args.seed)
        if not ctx.is_main:
            return StudyResult(study=STUDY, question="", verdict="", data_source=data.source)
        return build_result(out_dir, settings, data, records, encoded, ctx, device)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        ctx = context_from_env()
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not ctx.is_distributed:
        return run_experiment(STUDY, parser, body, argv)
    return run_rank(lambda: run_experiment(STUDY, parser, body, argv, write=ctx.is_main), ctx)


if __name__ == "__main__":
    raise SystemExit(main())
