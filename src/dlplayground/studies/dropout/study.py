"""Does a model that withstands dropout at evaluation prune and distil better?

The question
------------
A claim heard in practice: if a trained model's accuracy holds up when dropout is left on at evaluation time,
the model is "proportionally more amenable" to compression: it can be pruned further, and a small student
distilled from it keeps more of its accuracy. If true, evaluation-time dropout would be a cheap screening test
before spending compute on pruning or distillation. This study tests the claim on a population of small models
whose generalisation genuinely varies.

The method
----------
1. **Population.** ``--population`` models (default 40) on scikit-learn's packaged datasets (nothing is
   downloaded): ``digits`` (1797 8x8 images, 10 classes; MLPs and small ResNet-style CNNs) and
   ``breast_cancer`` (569 samples, 30 features, 2 classes; MLPs). Each model gets a level of every factor that
   moves generalisation: label noise on the training labels (0-40 %), training-set size (15-100 % of the
   training split), AdamW weight decay, width, training dropout rate (0-0.5), training length (150-1000
   optimiser steps, so 9 to 400 epochs depending on the set size) and seed. Levels are
   balanced across the population (each level used equally often, combined at random), so no factor is
   confounded with another by design. For each model we record train accuracy (on the labels it was trained
   on, noisy ones included), test accuracy (clean held-out labels) and the generalisation gap between them.
2. **Predictor.** Accuracy on the test set with dropout kept on at evaluation, at each rate ``p`` of ``--rates``,
   averaged over ``--passes`` stochastic passes. *Native*: only the model's Dropout modules are switched to
   train mode, with rate ``p`` (BatchNorm stays in eval mode). The shared MLP/SmallCNN keep their Dropout
   modules even when trained at rate 0, so for a model trained without dropout this is dropout inserted at the
   places the architecture reserves for it. *Inserted*: dropout at rate ``p`` on the input of every
   Linear/Conv layer but the first (forward pre-hooks). For the MLPs both put dropout on the same hidden
   layers; for the CNNs *native* drops only the pooled features, *inserted* every hidden feature map. The
   summary is the area under accuracy/clean-accuracy vs. ``p`` (from 0 to the largest rate, over that span):
   1.0 = no loss at any rate. The primary predictor is the *native* AUC.
3. **Targets.** (a) *Prunability*: the largest sparsity on a grid for which global magnitude pruning
   (``torch.nn.utils.prune``, all Linear/Conv weights) keeps test accuracy within ``--tolerance-points`` (1
   point) of the unpruned model at that level and every lower one: one-shot, and with brief fine-tuning on the
   model's own training set after pruning (kept only where it helps). (b) *Distillability*: test accuracy of a
   small student MLP (one hidden layer of 16 units for digits, 8 for breast cancer) distilled from the model
   with Hinton's loss (temperature ``--kd-temperature``, soft-loss weight ``--kd-alpha``), divided by the
   teacher's test accuracy. The same student trained on the labels alone gives a secondary target, the
   *distillation gain* (KD student minus labels-only student): what the teacher actually adds.
4. **Analysis.** Spearman and Kendall correlations of predictor vs. each target with paired bootstrap 95 %
   CIs; the Spearman partial correlation controlling for the training dropout rate (the obvious confound: it
   both trains a model to tolerate dropout and may make it robust to pruning), and as a robustness check
   controlling for every design factor. The same correlations for baselines: generalisation gap, weight norm
   (L2 of all Linear/Conv weights), robustness to *random* pruning (mean accuracy/clean over a sparsity grid,
   the naive "withstands perturbation" score) and a random score (what chance looks like at this n).

How to read the result
----------------------
The verdict states, per target, whether the predictor's correlation is positive with a CI excluding zero, and
whether that survives controlling for the training dropout rate and then for the whole training recipe.
"Supported" needs all three; "weak" means the recipe (width, dataset, noise, ...) explains the association, so
the predictor may only be a proxy for how the model was built; if a baseline does as well, the predictor adds
little. "Curves" shows each model's accuracy/clean vs. ``p``;
"Scatter" the predictor against each target with a least-squares line; the correlation table and heatmap give
every predictor x target pair with its interval. The per-model table holds every measurement, so any other
analysis can start from the envelope, and the raw values hold every per-pass accuracy and pruning curve. The
random-score row calibrates how large a correlation chance produces.

The code: ``config`` (the resolved settings), ``datasets``, ``population`` (recipes, networks, training
subsets), ``training``, ``mc_dropout`` (the predictor), ``compression`` (the targets), ``measurement`` (one
model), ``correlation`` and ``analysis`` (the statistics), ``verdict`` (the rule), ``figures``, ``tables`` and
``records``. This module reads the flags, runs the population and assembles the result.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from dlplayground.errors import UserInputError, choices_text
from dlplayground.progress import progress, track
from dlplayground.results import Figure, StudyResult
from dlplayground.seeding import numpy_rng
from dlplayground.studies.dropout.analysis import correlate_pairs, within_group_correlations
from dlplayground.studies.dropout.config import (
    DATASET_CHOICES,
    DATASETS,
    DEFAULT_BOOTSTRAP,
    DEFAULT_PASSES,
    DEFAULT_POPULATION,
    DEFAULT_RATES,
    FULL_SIZES,
    MIN_BOOTSTRAP,
    MIN_POPULATION,
    MIN_POPULATION_FOR_VERDICT,
    QUICK_BOOTSTRAP,
    QUICK_PASSES,
    QUICK_POPULATION,
    QUICK_RATES,
    QUICK_SIZES,
    STUDY,
    DropoutStudyConfig,
    parse_rates,
)
from dlplayground.studies.dropout.datasets import load_split
from dlplayground.studies.dropout.figures import plot_correlations, plot_curves, plot_scatter
from dlplayground.studies.dropout.measurement import measure_member
from dlplayground.studies.dropout.population import design_population
from dlplayground.studies.dropout.records import headline_metrics, raw_values
from dlplayground.studies.dropout.tables import correlation_table, member_table, settings_table, within_group_table
from dlplayground.studies.dropout.verdict import verdict_text
from dlplayground.studies.runner import common_parser, common_values, run_study


def build_parser() -> argparse.ArgumentParser:
    parser = common_parser(STUDY, __doc__)
    parser.add_argument("--dataset", default="both",
                        help=f"dataset(s) for the population: {choices_text(DATASET_CHOICES)} (default both)")
    parser.add_argument("--population", type=int, default=None,
                        help=f"number of models (>= {MIN_POPULATION}; default {DEFAULT_POPULATION}, "
                             f"{QUICK_POPULATION} with --quick)")
    parser.add_argument("--rates", default=None,
                        help=f"evaluation dropout rates in [0, 1), comma-separated (default {DEFAULT_RATES}; "
                             f"{QUICK_RATES} with --quick)")
    parser.add_argument("--passes", type=int, default=None,
                        help=f"stochastic passes per rate (default {DEFAULT_PASSES}, {QUICK_PASSES} with --quick)")
    parser.add_argument("--bootstrap", type=int, default=None,
                        help=f"bootstrap resamples for the CIs (default {DEFAULT_BOOTSTRAP}, {QUICK_BOOTSTRAP} "
                             "with --quick)")
    parser.add_argument("--kd-temperature", type=float, default=2.0, help="distillation temperature T (default 2)")
    parser.add_argument("--kd-alpha", type=float, default=0.5,
                        help="weight of the soft (KL) term in the distillation loss, in [0, 1] (default 0.5)")
    parser.add_argument("--tolerance-points", type=float, default=1.0,
                        help="accuracy drop allowed by prunability, in percentage points (default 1)")
    return parser


def resolve(args: argparse.Namespace) -> DropoutStudyConfig:
    """Validate every flag before any model is trained, and fill in the quick/default sizes."""
    name = str(args.dataset).strip().lower()
    if name not in DATASET_CHOICES:
        raise UserInputError(f"--dataset {args.dataset!r} is unknown; choose {choices_text(DATASET_CHOICES)}")
    population = args.population if args.population is not None else (
        QUICK_POPULATION if args.quick else DEFAULT_POPULATION)
    if population < MIN_POPULATION:
        raise UserInputError(
            f"--population {population} is too small: the correlations, their bootstrap CIs and the partial "
            f"correlation need at least {MIN_POPULATION} models (a verdict needs >= {MIN_POPULATION_FOR_VERDICT}; "
            f"the default is {DEFAULT_POPULATION})"
        )
    rates = parse_rates(args.rates if args.rates is not None else (QUICK_RATES if args.quick else DEFAULT_RATES))
    passes = args.passes if args.passes is not None else (QUICK_PASSES if args.quick else DEFAULT_PASSES)
    if passes < 1:
        raise UserInputError(f"--passes must be >= 1 (stochastic passes per rate), got {passes}")
    resamples = args.bootstrap if args.bootstrap is not None else (
        QUICK_BOOTSTRAP if args.quick else DEFAULT_BOOTSTRAP)
    if resamples < MIN_BOOTSTRAP:
        raise UserInputError(f"--bootstrap must be >= {MIN_BOOTSTRAP} resamples for a percentile CI, got {resamples}")
    if not (args.kd_temperature > 0 and math.isfinite(args.kd_temperature)):
        raise UserInputError(f"--kd-temperature must be a positive number, got {args.kd_temperature}")
    if not (0.0 <= args.kd_alpha <= 1.0):
        raise UserInputError(f"--kd-alpha must be in [0, 1] (weight of the soft loss), got {args.kd_alpha}")
    if not (0.0 <= args.tolerance_points < 100.0):
        raise UserInputError(f"--tolerance-points must be in [0, 100), got {args.tolerance_points}")
    return DropoutStudyConfig(
        **common_values(args, STUDY), datasets=DATASETS if name == "both" else (name,), population=population,
        rates=rates, passes=passes, bootstrap_resamples=resamples, kd_temperature=float(args.kd_temperature),
        kd_alpha=float(args.kd_alpha), tolerance_points=float(args.tolerance_points),
        **(QUICK_SIZES if args.quick else FULL_SIZES),
    )


def body(config: DropoutStudyConfig, out_dir: Path) -> StudyResult:
    device = torch.device(config.device)
    datasets = {name: load_split(name, config.seed) for name in config.datasets}
    members = design_population(config, config.seed)
    threads = torch.get_num_threads()
    progress(f"{STUDY}: {len(members)} models on {', '.join(config.datasets)}; rates {list(config.rates)}, "
             f"{config.passes} passes, torch threads {threads}")

    # 1-3. train every model and measure predictor, targets and baselines on it
    score_rng = numpy_rng(config.seed + 1)
    results = []
    started = time.perf_counter()
    for m in track(members, desc="models", total=len(members), unit="model"):
        r = measure_member(m, datasets[m.dataset], config, device, score_rng)
        results.append(r)
        progress(f"model {m.index + 1}/{len(members)} {m.group} w={m.width} noise={m.label_noise} "
                 f"p_train={m.dropout}: test {r.test_accuracy:.3f} gap {r.gap:+.3f} AUC {r.native.auc:.3f} "
                 f"prune {r.prune_sparsity:.2f}/{r.prune_sparsity_finetuned:.2f} distil "
                 f"{r.distillability:.3f} ({r.elapsed_s:.1f} s, {time.perf_counter() - started:.0f} s total)")
    measuring_s = time.perf_counter() - started

    # 4. correlate, and judge
    boot = {"resamples": config.bootstrap_resamples, "level": config.ci_level, "seed": config.seed}
    pairs = correlate_pairs(results, **boot)
    groups = within_group_correlations(results, **boot)
    verdict, statuses = verdict_text(pairs, len(results))

    plot_curves(results, config.dropout_levels, out_dir / "curves.png")
    plot_scatter(results, pairs, config.dropout_levels, out_dir / "scatter.png")
    plot_correlations(pairs, out_dir / "correlations.png")
    level = f"{config.ci_level:.0%}"
    figures = [
        Figure("Accuracy vs. evaluation-time dropout rate", "curves.png",
               "Each line one model, accuracy/clean accuracy vs. p; colour = training dropout rate. Left: the "
               "model's own Dropout layers at rate p; right: dropout inserted before every weight layer."),
        Figure("Predictor vs. targets", "scatter.png",
               "Native eval-dropout AUC against each target, colour = training dropout rate, marker = group, "
               "red = least-squares line; titles give Spearman and the partial correlation given training "
               f"dropout, with {level} CIs."),
        Figure("Correlation table", "correlations.png",
               f"Spearman correlation of every predictor (rows) with every target (columns), {level} bootstrap CI."),
    ]
    tables = [correlation_table(pairs, config), within_group_table(groups), member_table(results),
              settings_table(config)]
    return StudyResult(
        study=STUDY, question=__doc__.strip().split("\n")[0], verdict=verdict,
        data_source="; ".join(d.description for d in datasets.values()),
        metrics=headline_metrics(results, pairs, statuses, config, measuring_s, threads),
        tables=tables, figures=figures, raw=raw_values(results, pairs, groups, config),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_study(STUDY, build_parser(), resolve, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
