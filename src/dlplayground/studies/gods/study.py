"""GODS 4.0 mental-health posts: does a Longformer beat a bag of words, and does its long context help?

**Question.** The Zindi GODS 4.0 challenge asks for the category of a mental-health post (title and
content), scored by accuracy, with classes of very different sizes. A Longformer -- a transformer whose
sliding-window attention reads thousands of tokens -- is fine-tuned with its imbalance handling (none, a
class-weighted loss, oversampling, undersampling) chosen on inner folds. On posts it has never seen, does
it beat TF-IDF + logistic regression tuned with the same budget, does reading the whole post beat reading
one attention window of it, and what do mixed precision and a second DDP process cost or buy?

**Method.**

1. Data. ``--train CSV`` / ``--test CSV`` in the competition's format (``id, title, content, target``;
   the test file has no ``target``); title and content are joined into one text. The training file's
   labels define the label set. With no ``--train`` the run uses a small *illustrative* corpus the package
   ships (400 + 100 short posts written for this project, four classes, 45/30/15/10 % prior) and says so.
2. Nested splits (``folds``). Outer: stratified ``--folds``-fold cross-validation (each labelled post held
   out once), or ``--holdout CSV`` as the held-out set. Inner: each fold's remaining posts are split again
   (``--inner-fraction`` per class) into inner training and inner validation posts.
3. Candidates, the same budget for every model: the Longformer's are ``--imbalance`` strategies x
   ``--repeats`` repeats; TF-IDF's are as many (C, class-weight) settings. Every candidate trains on the
   inner training posts; the best inner-validation accuracy (macro-F1 breaks ties) is selected; only then
   does it predict the held-out posts. Each repeat draws its initial weights, dropout and batches from its
   own ``SeedSequence`` streams (``streams``).
4. Context. The full-context model reads up to the model's context window (4096 tokens for
   longformer-base; 512 for the offline from-scratch model) or ``--max-length``. Its short-context twin
   reads one attention window (512 for longformer-base; 32 from scratch) or ``--short-length``: the same
   candidates and streams, truncated. The token-length distribution says how many posts the twin cuts; if
   none, the twin is not trained (it would read the same tokens).
5. Model. ``transformers``' ``LongformerForSequenceClassification``, global attention on the first token.
   By default a small Longformer trained from scratch with a byte-level BPE tokenizer trained on each fold's
   development posts -- fully offline; ``--model PATH`` fine-tunes a local checkpoint (a hub id only with
   ``--allow-download``).
6. Comparison (``analysis``, ``comparison``). Pooled held-out predictions, accuracy and macro-F1 with
   bootstrap intervals over posts; paired differences on the same posts, simultaneous over the family the
   verdict reads; McNemar's exact test as a cross-check.
7. Precision and processes (``efficiency``). fp32 vs bf16 (and fp16 on CUDA) autocast, one vs two
   processes (gloo on CPU, NCCL on CUDA), the same training each: examples/s, peak memory, held-out accuracy
   with its interval. ``torchrun --standalone --nproc_per_node N`` also runs the whole comparison distributed.
8. ``submission.csv`` (``id, target``): the mean of the folds' selected Longformers on the test file;
   ``submission_tfidf_baseline.csv`` the same for TF-IDF.

**How to read the result.** The answer says in two sentences whether the Longformer beats TF-IDF in
held-out accuracy, what long context does and which precision/process configuration is fastest; the key
numbers are the two accuracies, the two paired differences, the share of posts the short twin truncates and
the speed ratio the answer names. The lead figure and the first table hold the paired differences; the
verdict calls one only when its interval excludes 0 (rule in ``verdict``). Accuracy rewards the majority
class, so read macro-F1 and the per-class recalls for the small classes. On the illustrative corpus the numbers show
that the method works, not how the models score on the competition data.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from dlplayground.devices import parse_device
from dlplayground.errors import UserInputError, choices_text
from dlplayground.progress import progress
from dlplayground.results import StudyResult
from dlplayground.studies.gods.amp import PRECISIONS, PrecisionPlan, select_precision
from dlplayground.studies.gods.analysis import Findings, analyse, model_names
from dlplayground.studies.gods.baselines import tfidf_grid
from dlplayground.studies.gods.comparison import BootstrapPlan
from dlplayground.studies.gods.config import GodsLongformerConfig
from dlplayground.studies.gods.context import length_profile
from dlplayground.studies.gods.corpus import GodsData, check_fits, load_data
from dlplayground.studies.gods.distributed import (
    DEFAULT_TIMEOUT_S,
    DistContext,
    backend_for,
    context_from_env,
    process_group,
    rank_device,
    run_rank,
)
from dlplayground.studies.gods.efficiency import EfficiencyRow, measure_configurations, plan_configurations
from dlplayground.studies.gods.encoding import FoldEncoding, encode_folds
from dlplayground.studies.gods.figures import draw_figures
from dlplayground.studies.gods.folds import NestedPlan, holdout_plan, kfold_plan
from dlplayground.studies.gods.longformer import (
    QUICK_SPEC,
    ScratchSpec,
    checkpoint_windows,
    resolve_checkpoint,
    scratch_windows,
)
from dlplayground.studies.gods.records import headline_metrics, raw_record
from dlplayground.studies.gods.runs import (
    FULL,
    MAJORITY,
    SHORT,
    TFIDF,
    CandidateRun,
    FamilyOutcome,
    InnerData,
    LongformerContext,
    Unlabelled,
    longformer_candidates,
    majority_outcome,
    parts_for_selection,
    run_longformer_family,
    run_tfidf_family,
)
from dlplayground.studies.gods.sampler import IMBALANCE_STRATEGIES
from dlplayground.studies.gods.streams import Purpose, stream_seed
from dlplayground.studies.gods.submissions import write_submissions
from dlplayground.studies.gods.tables import (
    candidates_table,
    class_mix_table,
    confusion_table,
    context_table,
    data_table,
    differences_table,
    efficiency_accuracy_table,
    efficiency_speed_table,
    mcnemar_table,
    recall_table,
    scores_table,
    selection_table,
    settings_table,
)
from dlplayground.studies.gods.verdict import comparison_verdict, efficiency_sentence, study_answer
from dlplayground.studies.runner import common_parser, common_values, run_study

STUDY = "gods_longformer"
QUESTION = (
    "On imbalanced mental-health posts (Zindi GODS 4.0 format), does a Longformer -- its imbalance handling chosen "
    "on inner folds -- beat TF-IDF + logistic regression tuned with the same budget on held-out posts, does its long "
    "context help against the same model reading one attention window, and what do bf16/fp16 autocast and a second "
    "DDP process cost or buy?"
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
    parser = common_parser(STUDY, __doc__, default_threads=1,
                           threads_reason="the models are small, and intra-op threads on a shared machine cost more "
                                          "than they give")
    data = parser.add_argument_group("data and splits")
    data.add_argument("--train", type=Path, default=None,
                      help="competition training CSV (id,title,content,target); default: the illustrative sample")
    data.add_argument("--test", type=Path, default=None,
                      help="competition test CSV (id,title,content): predictions go to submission.csv")
    data.add_argument("--holdout", type=Path, default=None,
                      help="labelled held-out CSV (train format); default: stratified k-fold over --train")
    data.add_argument("--folds", type=int, default=None,
                      help="outer stratified folds when no --holdout is given (default 3; --quick 2)")
    data.add_argument("--inner-fraction", type=float, default=0.25,
                      help="share of each fold's development posts held back to select on (default 0.25)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=None, metavar="PATH_OR_NAME",
                       help="Longformer checkpoint folder or hub id to fine-tune (default: small model from scratch)")
    model.add_argument("--allow-download", action="store_true",
                       help="let --model fetch a hub id from the network (otherwise only the local cache is used)")
    model.add_argument("--max-length", type=int, default=None,
                       help="tokens the full-context model reads (default: the model's context window)")
    model.add_argument("--short-length", type=int, default=None,
                       help="tokens the short-context twin reads (default: the model's attention window)")
    model.add_argument("--dropout", type=float, default=None,
                       help="hidden and attention dropout (default 0.1 from scratch, the checkpoint's own otherwise)")
    train = parser.add_argument_group("training and selection")
    train.add_argument("--imbalance", type=_strategy_list, default=IMBALANCE_STRATEGIES,
                       help=f"comma-separated strategies among the candidates (default: all of "
                            f"{','.join(IMBALANCE_STRATEGIES)})")
    train.add_argument("--repeats", type=int, default=None,
                       help="repeats per strategy, each a candidate with its own seed streams (default 2; --quick 1)")
    train.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="precision of the comparison: auto (fp16+GradScaler on CUDA, fp32 elsewhere), fp32, fp16, "
                            "bf16")
    train.add_argument("--steps", type=int, default=None, help="optimizer steps per candidate (default 150; --quick 8)")
    train.add_argument("--batch-size", type=int, default=None,
                       help="global batch over all ranks; must divide by the number of ranks (default 16; --quick 8)")
    train.add_argument("--lr", type=float, default=None,
                       help="peak AdamW learning rate (default 3e-3 from scratch, 3e-5 for --model)")
    stats = parser.add_argument_group("statistics")
    stats.add_argument("--resamples", type=int, default=None, help="bootstrap resamples (default 2000; --quick 400)")
    stats.add_argument("--level", type=float, default=0.95,
                       help="confidence level of the family of differences the verdict reads (default 0.95)")
    eff = parser.add_argument_group("precision and processes table")
    eff.add_argument("--efficiency-steps", type=int, default=None,
                     help="optimizer steps per configuration (default 60; --quick 4)")
    eff.add_argument("--skip-efficiency", action="store_true", help="do not measure the precision/processes table")
    dist_group = parser.add_argument_group("distributed (under torchrun)")
    dist_group.add_argument("--dist-timeout-s", type=float, default=DEFAULT_TIMEOUT_S,
                            help=f"process-group timeout in seconds (default {DEFAULT_TIMEOUT_S:g})")
    return parser


def _lengths(args: argparse.Namespace, context_window: int, attention_window: int) -> tuple[int, int]:
    full = args.max_length if args.max_length is not None else context_window
    if full > context_window:
        raise UserInputError(f"--max-length {full} exceeds the model's context window of {context_window} tokens")
    short = args.short_length if args.short_length is not None else min(attention_window, full - 1)
    if not 2 < short < full:
        raise UserInputError(
            f"--short-length {short} must be above 2 (the special tokens) and below the full length {full}"
        )
    return full, short


def resolve(args: argparse.Namespace) -> GodsLongformerConfig:
    """Fill in the defaults (``--quick`` shrinks them; ``--model`` sets the lengths and learning rate), check all."""
    common = common_values(args, STUDY)
    quick = common["quick"]
    steps = args.steps if args.steps is not None else (8 if quick else 150)
    batch_size = args.batch_size if args.batch_size is not None else (8 if quick else 16)
    repeats = args.repeats if args.repeats is not None else (1 if quick else 2)
    resamples = args.resamples if args.resamples is not None else (400 if quick else 2000)
    efficiency_steps = args.efficiency_steps if args.efficiency_steps is not None else (4 if quick else 60)
    if args.holdout is not None and args.folds is not None:
        raise UserInputError("--folds and --holdout exclude each other: the holdout file is the one held-out set")
    folds = 1 if args.holdout is not None else (args.folds if args.folds is not None else (2 if quick else 3))
    learning_rate = args.lr if args.lr is not None else (3e-3 if args.model is None else 3e-5)
    for flag, value, low in (("--steps", steps, 1), ("--batch-size", batch_size, 1), ("--repeats", repeats, 1),
                             ("--resamples", resamples, 100), ("--efficiency-steps", efficiency_steps, 2)):
        if value < low:
            raise UserInputError(f"{flag} must be >= {low}, got {value}")
    if args.holdout is None and folds < 2:
        raise UserInputError(f"--folds must be >= 2, got {folds} (or give a labelled --holdout CSV)")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise UserInputError(f"--lr must be a positive number, got {learning_rate}")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise UserInputError(f"--dropout must be in [0, 1), got {args.dropout}")
    if not 0.0 < args.inner_fraction < 1.0:
        raise UserInputError(f"--inner-fraction must be between 0 and 1 (exclusive), got {args.inner_fraction}")
    if not 0.5 <= args.level < 1.0:
        raise UserInputError(f"--level must be in [0.5, 1), got {args.level}")
    if not (math.isfinite(args.dist_timeout_s) and args.dist_timeout_s > 0):
        raise UserInputError(f"--dist-timeout-s must be > 0, got {args.dist_timeout_s}")
    checkpoint = resolve_checkpoint(args.model, args.allow_download) if args.model is not None else None
    scratch = None
    if checkpoint is None:
        scratch = QUICK_SPEC if quick else ScratchSpec()
        if args.dropout is not None:
            scratch = replace(scratch, dropout=args.dropout)
    windows = checkpoint_windows(checkpoint) if checkpoint is not None else scratch_windows(scratch)
    full_length, short_length = _lengths(args, windows.positions, windows.attention)
    precision = select_precision(args.precision, parse_device(common["device"])).name
    return GodsLongformerConfig(
        **common, train_csv=args.train, test_csv=args.test, holdout_csv=args.holdout, folds=folds,
        inner_fraction=args.inner_fraction, checkpoint=checkpoint, scratch=scratch,
        dropout=scratch.dropout if scratch is not None else args.dropout, context_window=windows.positions,
        attention_window=windows.attention, full_length=full_length, short_length=short_length,
        strategies=tuple(args.imbalance), repeats=repeats, precision=precision, steps=steps, batch_size=batch_size,
        learning_rate=learning_rate, resamples=resamples, level=args.level, efficiency=not args.skip_efficiency,
        efficiency_steps=efficiency_steps, dist_timeout_s=args.dist_timeout_s,
    )


# --------------------------------------------------------------------------------------------------- body
def nested_plan(data: GodsData, config: GodsLongformerConfig) -> NestedPlan:
    """The outer folds and inner splits (the same on every rank: it depends only on the data and the seed)."""
    labels = data.labelled.labels or ()
    if data.has_holdout:
        return holdout_plan(labels, data.n_train, config.inner_fraction, config.seed)
    return kfold_plan(labels, config.folds, config.inner_fraction, config.seed)


def train_longformers(
    config: GodsLongformerConfig, data: GodsData, plan: NestedPlan, encodings: Sequence[FoldEncoding],
    families: Sequence[str], *, ctx: DistContext, device: Any, precision: PrecisionPlan,
) -> dict[str, list[FamilyOutcome]]:
    """Every fold's selection for every Longformer family; call on every rank."""
    candidates = longformer_candidates(config.strategies, config.repeats)
    total = len(plan.folds) * len(families) * len(candidates)
    done = [0]

    def report(run: CandidateRun) -> None:
        done[0] += 1
        if ctx.is_main:
            progress(f"candidate {done[0]}/{total}: fold {run.fold + 1} {run.family} ({run.candidate.label}): "
                     f"inner accuracy {run.score.accuracy:.3f}, macro-F1 {run.score.macro_f1:.3f}, "
                     f"{run.log.seconds:.1f} s")

    outcomes: dict[str, list[FamilyOutcome]] = {family: [] for family in families}
    for fold, encoding in zip(plan.folds, encodings, strict=True):
        env = LongformerContext(config, data.label_names, encoding.tokenizer, ctx, device, precision)
        y_train, y_val = data.targets(fold.inner_train), data.targets(fold.inner_val)
        for family in families:
            parts = encoding.full if family == FULL else encoding.short
            inner, unlabelled = parts_for_selection(parts, y_train, y_val)
            outcomes[family].append(run_longformer_family(family, fold.index, candidates, inner, unlabelled, env,
                                                          on_done=report))
    return outcomes


def baseline_outcomes(config: GodsLongformerConfig, data: GodsData, plan: NestedPlan) -> dict[str, list[FamilyOutcome]]:
    """TF-IDF (the same number of candidates as the Longformer, the same inner split) and the majority class."""
    settings = tfidf_grid(len(config.strategies) * config.repeats)
    k, texts = len(data.label_names), data.labelled.texts
    tfidf, majority = [], []
    for fold in plan.folds:
        inner = InnerData([texts[i] for i in fold.inner_train], data.targets(fold.inner_train),
                          [texts[i] for i in fold.inner_val], data.targets(fold.inner_val))
        unlabelled = Unlabelled([texts[i] for i in fold.held_out], list(data.test_texts))
        tfidf.append(run_tfidf_family(fold.index, settings, inner, unlabelled, data.label_names))
        majority.append(majority_outcome(fold.index, data.targets(fold.dev), len(fold.held_out),
                                         len(data.test_texts), k))
    return {TFIDF: tfidf, MAJORITY: majority}


def measure_efficiency(config: GodsLongformerConfig, data: GodsData, plan: NestedPlan, encoding: FoldEncoding,
                       full_outcome: FamilyOutcome, bootstrap: BootstrapPlan) -> list[EfficiencyRow]:
    """The precision x processes table on fold 1 (``efficiency``), run from rank 0 in fresh processes."""
    fold = plan.folds[0]
    candidates = longformer_candidates(config.strategies, config.repeats)
    strategy = candidates[full_outcome.chosen].strategy
    root = config.seed
    spec = {
        "train": [*encoding.full.inner_train, *encoding.full.inner_val],
        "train_labels": [*data.targets(fold.inner_train), *data.targets(fold.inner_val)],
        "eval": encoding.full.held_out, "label_names": list(data.label_names),
        "tokenizer_json": encoding.tokenizer_json, "max_length": config.full_length,
        "scratch": asdict(config.scratch) if config.scratch is not None else None,
        "checkpoint": asdict(config.checkpoint) if config.checkpoint is not None else None,
        "dropout": config.dropout, "steps": config.efficiency_steps, "batch_size": config.batch_size,
        "learning_rate": config.learning_rate, "strategy": strategy,
        "init_seed": stream_seed(root, Purpose.EFFICIENCY, 0), "sampler_seed": stream_seed(root, Purpose.EFFICIENCY, 1),
        "dropout_seeds": [stream_seed(root, Purpose.EFFICIENCY, 2, rank) for rank in range(2)],
        "timeout_s": config.dist_timeout_s,
    }
    device_type = parse_device(config.device)
    planned = plan_configurations(device_type, config.batch_size)
    with tempfile.TemporaryDirectory(prefix="gods_efficiency_") as work:
        return measure_configurations(planned, spec, device=device_type.type, threads=config.threads,
                                      global_batch=config.batch_size, truth=data.targets(fold.held_out),
                                      num_classes=len(data.label_names), plan=bootstrap, work_dir=Path(work))


def body(config: GodsLongformerConfig, out_dir: Path) -> StudyResult:
    """Nested selection and training on all ranks; on rank 0, baselines, comparison, efficiency, outputs."""
    ctx = context_from_env()
    device = rank_device(ctx, parse_device(config.device))
    precision = select_precision(config.precision, device)
    data = load_data(config.train_csv, config.test_csv, config.holdout_csv)
    plan = nested_plan(data, config)
    check_fits(data, plan, config.strategies, config.batch_size, ctx.world_size)
    if ctx.is_main:
        if data.illustrative:
            progress(f"no --train given: {data.source}")
        progress(f"{len(plan.scored)} held-out posts in {len(plan.folds)} fold(s), {len(data.label_names)} classes; "
                 f"{ctx.world_size} rank(s), precision {precision.name}, {config.threads} thread(s) per process")
    else:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # only rank 0 logs
    with process_group(ctx, device, config.dist_timeout_s):
        encodings = encode_folds(data, plan, scratch=config.scratch, checkpoint=config.checkpoint,
                                 dropout=config.dropout, full_length=config.full_length,
                                 short_length=config.short_length, ctx=ctx)
        lengths = length_profile([n for e in encodings for n in e.held_out_lengths], config.full_length,
                                 config.short_length)
        families = [FULL, SHORT] if lengths.context_can_matter else [FULL]
        if ctx.is_main and not lengths.context_can_matter:
            progress(f"no post is longer than {config.short_length} tokens: the short-context twin is not trained")
        outcomes = train_longformers(config, data, plan, encodings, families, ctx=ctx, device=device,
                                     precision=precision)
    if not ctx.is_main:
        # Only rank 0 analyses and writes; this rank's result is discarded (``run_study(write=False)``).
        note = f"Rank {ctx.rank} of {ctx.world_size} trained its share; rank 0 holds the comparison and the answer."
        return StudyResult(study=STUDY, question=QUESTION, verdict=note, answer=note, data_source=data.source)

    outcomes.update(baseline_outcomes(config, data, plan))
    names = model_names(config.full_length, config.short_length)
    bootstrap = BootstrapPlan(config.resamples, config.level, stream_seed(config.seed, Purpose.BOOTSTRAP, bits=32))
    findings = analyse(data.targets(plan.scored), outcomes, data.label_names, names, bootstrap, lengths,
                       illustrative=data.illustrative)
    efficiency: list[EfficiencyRow] = []
    if config.efficiency:
        efficiency = measure_efficiency(config, data, plan, encodings[0], outcomes[FULL][0], bootstrap)
    # The answer and the verdict are one judgement (rule in ``verdict``): the answer in two sentences, the verdict
    # with every number behind it.
    answer = study_answer(findings, efficiency)
    verdict = " ".join(t for t in (comparison_verdict(findings), efficiency_sentence(efficiency)) if t)
    return _result(config, data, plan, findings, outcomes, efficiency, encodings, precision, ctx, device,
                   bootstrap, answer, verdict, out_dir)


def _result(config: GodsLongformerConfig, data: GodsData, plan: NestedPlan, findings: Findings,
            outcomes: dict[str, list[FamilyOutcome]], efficiency: list[EfficiencyRow],
            encodings: Sequence[FoldEncoding], precision: PrecisionPlan, ctx: DistContext, device: Any,
            bootstrap: BootstrapPlan, answer: str, verdict: str, out_dir: Path) -> StudyResult:
    names = model_names(config.full_length, config.short_length)
    all_outcomes = [o for family in outcomes.values() for o in family]
    runs = [r for o in all_outcomes for r in o.runs]
    spec = config.scratch
    model_label = (f"Longformer checkpoint {config.checkpoint.name}" if config.checkpoint is not None or spec is None
                   else f"Longformer from scratch ({spec.num_layers} layer(s), hidden {spec.hidden_size}, attention "
                        f"window {spec.attention_window}, context window {spec.max_positions})")
    backend = backend_for(device) if ctx.is_distributed else "single process"
    tables = [differences_table(findings), mcnemar_table(findings), scores_table(findings),
              recall_table(findings, data.label_names), context_table(findings)]
    if efficiency:
        tables += [efficiency_speed_table(efficiency, config.efficiency_steps, config.batch_size),
                   efficiency_accuracy_table(efficiency)]
    tables += [selection_table(all_outcomes, names), class_mix_table(runs, config.strategies, data, plan),
               data_table(data, plan),
               settings_table(config, model_label, len(encodings[0].tokenizer), precision, ctx.world_size, backend,
                              str(device))]
    if data.test is not None:
        tables.append(write_submissions(out_dir, data.test, data.label_names, outcomes[FULL], outcomes[TFIDF]))
    full, tfidf = findings.models[FULL], findings.models[TFIDF]
    tables += [confusion_table(f"Confusion matrix: {full.name} (held out)", full.scores),
               confusion_table(f"Confusion matrix: {tfidf.name} (held out)", tfidf.scores),
               candidates_table(runs, names)]
    figures = draw_figures(out_dir, findings, efficiency, runs, config.strategies)
    scored_ids = [data.labelled.ids[i] for i in plan.scored]
    metrics = headline_metrics(findings, efficiency, world_size=ctx.world_size, precision=precision.name)
    return StudyResult(
        study=STUDY, question=QUESTION, verdict=verdict, answer=answer, data_source=data.source,
        metrics=metrics.values, labels=metrics.labels, tables=tables,
        figures=figures, raw=raw_record(findings, plan, scored_ids, data.label_names, all_outcomes, runs, efficiency,
                                        bootstrap, config.seed),
    )


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
