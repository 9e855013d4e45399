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
   the CPU. Distribution: ``torchrun --standalone --nproc_per_node N -m dlplayground.studies.gods.study``
   (or ``experiments/gods_longformer.py``), gloo on CPU and NCCL on GPUs; the global batch is split over
   the ranks, only rank 0 writes files and progress, and a rank that fails ends the whole job instead of
   leaving the others waiting.
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
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dlplayground.data.zindi import SAMPLE_DESCRIPTION
from dlplayground.devices import parse_device
from dlplayground.errors import UserInputError, choices_text
from dlplayground.progress import progress
from dlplayground.results import StudyResult
from dlplayground.studies.gods.amp import PRECISIONS, select_precision
from dlplayground.studies.gods.analysis import (
    MAJORITY,
    TFIDF,
    best_run,
    best_strategy,
    summarise_models,
)
from dlplayground.studies.gods.baselines import majority_predictions, tfidf_logreg_predictions
from dlplayground.studies.gods.config import GodsLongformerConfig
from dlplayground.studies.gods.distributed import (
    DEFAULT_TIMEOUT_S,
    backend_for,
    context_from_env,
    process_group,
    rank_device,
    run_rank,
)
from dlplayground.studies.gods.encoding import encode_splits
from dlplayground.studies.gods.figures import draw_figures
from dlplayground.studies.gods.longformer import QUICK_SPEC, ScratchSpec, resolve_checkpoint
from dlplayground.studies.gods.metrics import classification_scores
from dlplayground.studies.gods.records import headline_metrics, raw_record
from dlplayground.studies.gods.runs import train_strategies
from dlplayground.studies.gods.sampler import IMBALANCE_STRATEGIES
from dlplayground.studies.gods.splits import check_fits, load_splits
from dlplayground.studies.gods.submissions import write_submissions
from dlplayground.studies.gods.tables import (
    class_mix_table,
    confusion_table,
    data_table,
    run_table,
    score_table,
    settings_table,
)
from dlplayground.studies.gods.verdict import imbalance_verdict
from dlplayground.studies.runner import common_parser, common_values, run_study

STUDY = "gods_longformer"
QUESTION = (
    "On imbalanced mental-health posts (Zindi GODS 4.0 format), which way of handling the imbalance -- none, "
    "class-weighted loss, oversampling or undersampling -- helps a Longformer trained with mixed precision "
    "under DDP, and does it beat a majority-class guess and TF-IDF + logistic regression?"
)


# ------------------------------------------------------------------------------------------------- config
def _strategy_list(text: str) -> tuple[str, ...]:
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
    train.add_argument("--imbalance", type=_strategy_list, default=IMBALANCE_STRATEGIES,
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


def resolve(args: argparse.Namespace) -> GodsLongformerConfig:
    """Fill in the defaults (``--quick`` shrinks them; ``--model`` changes the learning rate), check them all."""
    common = common_values(args, STUDY)
    quick = common["quick"]
    steps = args.steps if args.steps is not None else (8 if quick else 300)
    batch_size = args.batch_size if args.batch_size is not None else (8 if quick else 16)
    repeats = args.repeats if args.repeats is not None else (1 if quick else 3)
    max_length = args.max_length if args.max_length is not None else (64 if quick else 512)
    learning_rate = args.lr if args.lr is not None else (1e-3 if args.model is None else 3e-5)
    for flag, value, low in (("--steps", steps, 1), ("--batch-size", batch_size, 1), ("--repeats", repeats, 1),
                             ("--max-length", max_length, 8)):
        if value < low:
            raise UserInputError(f"{flag} must be >= {low}, got {value}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise UserInputError(f"--lr must be a positive number, got {learning_rate}")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise UserInputError(f"--dropout must be in [0, 1), got {args.dropout}")
    if not 0.0 < args.val_fraction < 1.0:
        raise UserInputError(f"--val-fraction must be between 0 and 1 (exclusive), got {args.val_fraction}")
    if not (math.isfinite(args.dist_timeout_s) and args.dist_timeout_s > 0):
        raise UserInputError(f"--dist-timeout-s must be > 0, got {args.dist_timeout_s}")
    checkpoint = resolve_checkpoint(args.model, args.allow_download) if args.model is not None else None
    scratch = None
    if checkpoint is None:
        scratch = QUICK_SPEC if quick else ScratchSpec()
        if args.dropout is not None:
            scratch = replace(scratch, dropout=args.dropout)
    precision = select_precision(args.precision, parse_device(common["device"])).name
    return GodsLongformerConfig(
        **common, train_csv=args.train, test_csv=args.test, val_csv=args.val, val_fraction=args.val_fraction,
        checkpoint=checkpoint, scratch=scratch, dropout=scratch.dropout if scratch is not None else args.dropout,
        max_length=max_length, strategies=tuple(args.imbalance), precision=precision, steps=steps,
        batch_size=batch_size, learning_rate=learning_rate, repeats=repeats, dist_timeout_s=args.dist_timeout_s,
    )


# --------------------------------------------------------------------------------------------------- body
def body(config: GodsLongformerConfig, out_dir: Path) -> StudyResult:
    """Train every (seed, strategy) run on all ranks; on rank 0, score the baselines and write the result."""
    ctx = context_from_env()
    device = rank_device(ctx, parse_device(config.device))
    plan = select_precision(config.precision, device)
    splits = load_splits(config.train_csv, config.test_csv, config.val_csv, config.val_fraction, config.seed)
    check_fits(splits, config.strategies, config.batch_size, ctx.world_size)
    if ctx.is_main:
        if splits.illustrative:
            progress(f"no --train given: using the {SAMPLE_DESCRIPTION}")
        progress(f"{len(splits.train)} training / {len(splits.val)} validation examples, "
                 f"{len(splits.label_names)} classes; {ctx.world_size} rank(s), precision {plan.name}")
    else:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # only rank 0 logs
    with process_group(ctx, device, config.dist_timeout_s):
        encoded = encode_splits(splits, scratch=config.scratch, checkpoint=config.checkpoint,
                                dropout=config.dropout, max_length=config.max_length, ctx=ctx)
        runs = train_strategies(config, splits, encoded, ctx=ctx, device=device, plan=plan)
    if not ctx.is_main:
        return StudyResult(study=STUDY, question=QUESTION, verdict="", data_source=splits.source)

    # The baselines, on the same validation split (and test file) as the Longformer.
    names = splits.label_names
    y_train, y_val = splits.targets(splits.train), splits.targets(splits.val)
    n_val = len(y_val)
    majority = classification_scores(y_val, majority_predictions(y_train, n_val), names)
    tfidf_predictions = tfidf_logreg_predictions(splits.train.texts, y_train, [*splits.val.texts, *splits.test_texts])
    tfidf = classification_scores(y_val, tfidf_predictions[:n_val], names)

    # Summaries over seeds, the best strategy, and the verdict rule.
    summaries = summarise_models(runs, config.strategies, majority, tfidf)
    best = best_strategy(summaries, config.strategies)
    top = best_run(runs, best)
    verdict = imbalance_verdict(summaries, config.strategies, best, config.repeats, n_val, splits.illustrative)

    tables = [
        score_table(list(summaries.values()), names, n_val),
        run_table(runs),
        class_mix_table(runs, config.strategies, splits),
        confusion_table(f"Confusion matrix: Longformer '{best}' (seed {top.seed})", top.scores),
        confusion_table("Confusion matrix: TF-IDF + logistic regression", tfidf),
        data_table(splits),
        settings_table(config, encoded, plan, ctx.world_size,
                       backend_for(device) if ctx.is_distributed else "single process", str(device)),
    ]
    if splits.test is not None:
        tables.append(write_submissions(out_dir, splits.test, names, top, tfidf_predictions[n_val:]))
    figures = draw_figures(out_dir, runs, list(summaries.values()), config.strategies, tfidf, top)
    metrics = headline_metrics(summaries, config.strategies, best, world_size=ctx.world_size, precision=plan.name,
                               validation_examples=n_val, train_examples=len(splits.train))
    raw = raw_record(runs, summaries, {MAJORITY: majority, TFIDF: tfidf}, top, names,
                     splits.counts_per_class(splits.train), splits.counts_per_class(splits.val))
    return StudyResult(study=STUDY, question=QUESTION, verdict=verdict, data_source=splits.source, metrics=metrics,
                       tables=tables, figures=figures, raw=raw)


# --------------------------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    """Run the study; under torchrun every rank runs it and only rank 0 writes (``write=ctx.is_main``)."""
    parser = build_parser()
    try:
        ctx = context_from_env()
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not ctx.is_distributed:
        return run_study(STUDY, parser, resolve, body, argv)
    return run_rank(lambda: run_study(STUDY, parser, resolve, body, argv, write=ctx.is_main), ctx)


if __name__ == "__main__":
    raise SystemExit(main())
