"""Does a model that withstands dropout at evaluation prune and distil better -- beyond what cheaper scores say?

The question
------------
A claim heard in practice: if a trained model's accuracy holds up when dropout is left on at evaluation time,
the model is "proportionally more amenable" to compression: it can be pruned further, and a smaller student
distilled from it keeps more. If true, evaluation-time dropout would be a cheap screening test before spending
compute on pruning or distillation. A screening test is only worth having if it tells something the obvious,
equally cheap scores do not, so the question this study answers is: **does robustness to eval-time dropout
predict prunability and distillability beyond clean accuracy and robustness to random pruning?**

The method
----------
1. **Population.** ``--population`` models (default 104) on scikit-learn's packaged ``digits`` (8x8 images;
   MLPs and small ResNet-style CNNs) and ``breast_cancer`` (tabular; MLPs), plus CNNs and MLPs on real images
   when their data is given: the Olivetti faces (``--olivetti [PATH]``) and a CIFAR-10 folder
   (``--cifar DIR``). Nothing is downloaded; without them the run says the 8x8 digits are its only image set.
   Each model gets a level of every factor that moves generalisation -- label noise (0-40 %), training-set
   size (15-100 % of the fit split), weight decay, width, training dropout (0-0.5), training length -- balanced
   across the population (a Latin-hypercube design).
2. **Disjoint data.** Every dataset is split once, stratified, into fit / validation / predictor / target parts
   (``datasets``). Models and every update (fine-tuning, students) use fit; every choice (keep fine-tuning or
   not, the distillation temperature) and the clean-accuracy covariate use validation; the predictors use only
   the predictor part and the targets only the target part, so they share no sampling noise.
3. **Predictors** (predictor part). *Mean accuracy under eval-dropout*: accuracy of single stochastic passes
   with the model's own Dropout layers on at each rate of ``--rates``, averaged over ``--passes``, summarised as
   the area under accuracy/clean vs. rate (1.0 = no loss) -- the claim's predictor, and the primary one. *The
   MC-dropout predictive* (Gal & Ghahramani): the pass-averaged softmax at ``--mc-rate``, its accuracy and its
   mutual information (the epistemic uncertainty) -- the second predictor (low information = robust). Also
   dropout inserted before every weight layer, and the competitors: clean accuracy, robustness to *random*
   pruning, weight norm, generalisation gap, a random score.
4. **Targets** (target part). *Prunability*: the largest sparsity of global magnitude pruning keeping accuracy
   within ``--tolerance-points`` of the unpruned model at that and every lower level; one-shot, and with brief
   fine-tuning kept where validation says it helps. *Distillation gain*: a student with a quarter of the
   teacher's width, trained on the teacher's soft outputs alone over all fit inputs (clean transfer data,
   temperature chosen on validation), minus the same student trained on the teacher's own training labels.
5. **Analysis.** Spearman correlations with paired bootstrap CIs (models resampled); partial correlations given
   clean accuracy (the floor effect), given clean accuracy + random-pruning robustness + group (the
   **incremental value**, the core test), and given the whole recipe; the primary predictor within clean-
   accuracy strata and within groups; every measure's spread and split-half reliability; the power of the core
   test.

How to read the result
----------------------
The answer comes first: yes, in part, no, or not resolved, with the incremental correlations it rests on. It
and the full verdict come from one rule in ``verdict`` (and the docs): per target, *holds* when the incremental
correlation's simultaneous interval lies above 0, *fails* when it lies below ``--min-effect`` (and the target is
measured reliably), *unresolved* otherwise; the verdict adds why, the second predictor, and what the population
can and cannot resolve. The lead figure shows the primary predictor against each target, coloured by dataset,
with the plain and the incremental correlation in each title. The key numbers are the population, the
incremental correlation per target (with its simultaneous interval) and the smallest correlation this population
resolves. The incremental-value table gives the detail; the added-variable figure shows what the predictor adds,
as residuals; the power, reliability, strata and group tables say how far to trust it; the per-model tables and
``result.raw`` hold every measurement.

The code: ``config``, ``datasets`` (the disjoint splits), ``population``, ``training``, ``mc_dropout`` (the
predictors), ``compression`` and ``distillation`` (the targets), ``measurement`` (one model, phase by phase),
``correlation``, ``analysis`` and ``power`` (the statistics), ``verdict`` (the rule), ``figures``, ``tables``
and ``records``. This module reads the flags, runs the population and assembles the result.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from dlplayground.errors import UserInputError, choices_text
from dlplayground.progress import progress, track
from dlplayground.results import Figure, StudyResult
from dlplayground.seeding import numpy_rng
from dlplayground.studies.dropout.analysis import (
    FAMILY_SIZE,
    PopulationTable,
    clean_accuracy_strata,
    correlate_pairs,
    incremental_covariate_count,
    reliabilities,
    within_group_correlations,
)
from dlplayground.studies.dropout.config import (
    DATASET_CHOICES,
    DEFAULT_BOOTSTRAP,
    DEFAULT_CIFAR_PER_CLASS,
    DEFAULT_MIN_EFFECT,
    DEFAULT_PASSES,
    DEFAULT_POPULATION,
    DEFAULT_RATES,
    FULL_SIZES,
    MC_RATE_TARGET,
    MIN_BOOTSTRAP,
    MIN_POPULATION,
    MIN_POPULATION_FOR_VERDICT,
    PACKAGED_DATASETS,
    QUICK_BOOTSTRAP,
    QUICK_PASSES,
    QUICK_POPULATION,
    QUICK_RATES,
    QUICK_SIZES,
    STUDY,
    DropoutStudyConfig,
    parse_rates,
    parse_temperatures,
)
from dlplayground.studies.dropout.datasets import load_study_data
from dlplayground.studies.dropout.figures import plot_added_variable, plot_correlations, plot_curves, plot_lead
from dlplayground.studies.dropout.measurement import measure_member
from dlplayground.studies.dropout.population import design_population
from dlplayground.studies.dropout.records import headline_metrics, raw_values
from dlplayground.studies.dropout.tables import (
    correlation_tables,
    group_table,
    incremental_table,
    member_tables,
    power_table,
    reliability_table,
    settings_table,
    strata_table,
)
from dlplayground.studies.dropout.verdict import VerdictRule, conclude
from dlplayground.studies.runner import common_parser, common_values, run_study

DEFAULT_THREADS = 1  # tiny models: intra-op threads only contend on a shared CPU (docs: 1.6-5x slower with 2)
_DATA_HOME = "scikit-learn data home"


def build_parser() -> argparse.ArgumentParser:
    parser = common_parser(STUDY, __doc__, default_threads=DEFAULT_THREADS,
                           threads_reason="its models are tiny, and more threads only contend on a shared CPU")
    data = parser.add_argument_group("data (nothing is downloaded)")
    data.add_argument("--dataset", default="all",
                      help=f"packaged dataset(s): {choices_text(DATASET_CHOICES)} (default all: both)")
    data.add_argument("--olivetti", type=Path, nargs="?", const=_DATA_HOME, default=None, metavar="PATH",
                      help="add the Olivetti faces (CNNs and MLPs on real 32x32 face images): scikit-learn's "
                           "olivetti_py3.pkz or the data home holding it; without PATH, scikit-learn's data home")
    data.add_argument("--cifar", type=Path, default=None, metavar="DIR",
                      help="add CIFAR-10 (CNNs and MLPs on real 32x32 RGB images): the cifar-10-batches-py folder, "
                           "its parent or the .tar.gz")
    data.add_argument("--cifar-per-class", type=int, default=DEFAULT_CIFAR_PER_CLASS,
                      help=f"CIFAR-10 images kept per class (default {DEFAULT_CIFAR_PER_CLASS})")
    sizes = parser.add_argument_group("sizes (--quick shrinks the defaults)")
    sizes.add_argument("--population", type=int, default=None,
                       help=f"number of models (>= {MIN_POPULATION}; default {DEFAULT_POPULATION}, "
                            f"{QUICK_POPULATION} with --quick; a verdict needs >= {MIN_POPULATION_FOR_VERDICT})")
    sizes.add_argument("--rates", default=None,
                       help=f"evaluation dropout rates in [0, 1), comma-separated (default {DEFAULT_RATES}; "
                            f"{QUICK_RATES} with --quick)")
    sizes.add_argument("--mc-rate", type=float, default=None,
                       help=f"the rate (one of --rates) of the MC-dropout predictive (default: the rate nearest "
                            f"{MC_RATE_TARGET})")
    sizes.add_argument("--passes", type=int, default=None,
                       help=f"stochastic passes per rate (default {DEFAULT_PASSES}, {QUICK_PASSES} with --quick)")
    sizes.add_argument("--bootstrap", type=int, default=None,
                       help=f"bootstrap resamples for the CIs (default {DEFAULT_BOOTSTRAP}, {QUICK_BOOTSTRAP} "
                            "with --quick)")
    rule = parser.add_argument_group("targets and the verdict rule")
    rule.add_argument("--kd-temperatures", default="1,4",
                      help="distillation temperatures; each model's is chosen on validation (default 1,4)")
    rule.add_argument("--tolerance-points", type=float, default=1.0,
                      help="accuracy drop allowed by prunability, in percentage points (default 1)")
    rule.add_argument("--min-effect", type=float, default=DEFAULT_MIN_EFFECT,
                      help=f"smallest incremental partial correlation that would matter (default {DEFAULT_MIN_EFFECT})")
    return parser


def _image_paths(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    olivetti = args.olivetti
    if olivetti is not None and str(olivetti) == _DATA_HOME:
        from dlplayground.data.olivetti import default_data_home

        olivetti = default_data_home()
    for flag, path in (("--olivetti", olivetti), ("--cifar", args.cifar)):
        if path is not None and not Path(path).expanduser().exists():
            raise UserInputError(f"{flag} {str(path)!r}: no such file or folder (nothing is downloaded)")
    return olivetti, args.cifar


def resolve(args: argparse.Namespace) -> DropoutStudyConfig:
    """Validate every flag before any model is trained, and fill in the quick/default sizes."""
    name = str(args.dataset).strip().lower()
    if name not in DATASET_CHOICES:
        raise UserInputError(f"--dataset {args.dataset!r} is unknown; choose {choices_text(DATASET_CHOICES)}")
    olivetti, cifar = _image_paths(args)
    datasets = (*(PACKAGED_DATASETS if name == "all" else (name,)),
                *(("olivetti",) if olivetti is not None else ()), *(("cifar10",) if cifar is not None else ()))
    if args.cifar_per_class < 4:
        raise UserInputError(f"--cifar-per-class must be >= 4 (one example per split), got {args.cifar_per_class}")
    population = args.population if args.population is not None else (
        QUICK_POPULATION if args.quick else DEFAULT_POPULATION)
    if population < MIN_POPULATION:
        raise UserInputError(
            f"--population {population} is too small: the correlations and their bootstrap CIs need at least "
            f"{MIN_POPULATION} models (a verdict needs >= {MIN_POPULATION_FOR_VERDICT}; the default is "
            f"{DEFAULT_POPULATION})")
    rates = parse_rates(args.rates if args.rates is not None else (QUICK_RATES if args.quick else DEFAULT_RATES))
    positive = [r for r in rates if r > 0]
    mc_rate = args.mc_rate if args.mc_rate is not None else min(positive, key=lambda r: abs(r - MC_RATE_TARGET))
    if mc_rate not in positive:
        raise UserInputError(f"--mc-rate {mc_rate} must be one of the positive --rates {list(positive)}")
    passes = args.passes if args.passes is not None else (QUICK_PASSES if args.quick else DEFAULT_PASSES)
    if passes < 2:
        raise UserInputError(f"--passes must be >= 2 (MC-dropout needs several passes per rate), got {passes}")
    resamples = args.bootstrap if args.bootstrap is not None else (
        QUICK_BOOTSTRAP if args.quick else DEFAULT_BOOTSTRAP)
    if resamples < MIN_BOOTSTRAP:
        raise UserInputError(f"--bootstrap must be >= {MIN_BOOTSTRAP} resamples for a percentile CI, got {resamples}")
    if not (0.0 <= args.tolerance_points < 100.0):
        raise UserInputError(f"--tolerance-points must be in [0, 100), got {args.tolerance_points}")
    if not (0.0 < args.min_effect < 1.0):
        raise UserInputError(f"--min-effect must be in (0, 1) (a correlation), got {args.min_effect}")
    return DropoutStudyConfig(
        **common_values(args, STUDY), datasets=datasets, olivetti=olivetti, cifar=cifar,
        cifar_per_class=int(args.cifar_per_class), population=population, rates=rates, mc_rate=float(mc_rate),
        passes=passes, bootstrap_resamples=resamples, min_effect=float(args.min_effect),
        kd_temperatures=parse_temperatures(args.kd_temperatures), tolerance_points=float(args.tolerance_points),
        **(QUICK_SIZES if args.quick else FULL_SIZES),
    )


def _data_source(datasets: dict, config: DropoutStudyConfig) -> str:
    text = "; ".join(d.description for d in datasets.values())
    if config.olivetti is None and config.cifar is None:
        text += ("; no real image set given (--olivetti / --cifar), so the packaged 8x8 digits are the only image "
                 "data (offline default)")
    return text


def body(config: DropoutStudyConfig, out_dir: Path) -> StudyResult:
    device = torch.device(config.device)
    datasets = {name: load_study_data(name, config.seed, olivetti=config.olivetti, cifar=config.cifar,
                                      cifar_per_class=config.cifar_per_class) for name in config.datasets}
    if config.olivetti is None and config.cifar is None:
        progress("no real image set given (--olivetti [PATH] / --cifar DIR): the population's only image data is "
                 "the packaged 8x8 digits (offline default)")
    for d in datasets.values():
        progress(f"{d.name}: " + ", ".join(f"{part} {getattr(d, part).size}" for part in
                                           ("fit", "validation", "predictor", "target")) + " examples")
    members = design_population(config, config.seed)
    threads = torch.get_num_threads()
    progress(f"{STUDY}: {len(members)} models on {', '.join(config.datasets)}; rates {list(config.rates)}, "
             f"{config.passes} passes, torch threads {threads}")

    # 1-4. train every model and measure predictors and targets on it, on disjoint splits
    score_rng = numpy_rng(config.seed + 1)
    results = []
    started = time.perf_counter()
    for m in track(members, desc="models", total=len(members), unit="model"):
        r = measure_member(m, datasets[m.dataset], config, device, score_rng)
        results.append(r)
        progress(f"model {m.index + 1}/{len(members)} {m.group} w={m.width} noise={m.label_noise} "
                 f"p_train={m.dropout}: clean {r.clean_accuracy:.3f} AUC {r.predictors.native.auc:.3f} "
                 f"MI {r.predictors.mc.mutual_information_nats:.3f} prune {r.targets.prune_oneshot.max_sparsity:.2f}/"
                 f"{r.targets.prune_finetuned.max_sparsity:.2f} gain {r.targets.distillation.gain:+.3f} "
                 f"({r.elapsed_s:.1f} s, {time.perf_counter() - started:.0f} s total)")
    measuring_s = time.perf_counter() - started

    # 5. correlate, and judge
    table = PopulationTable.from_results(results)
    boot = {"resamples": config.bootstrap_resamples, "level": config.ci_level, "seed": config.seed}
    pairs = correlate_pairs(table, **boot)
    groups = within_group_correlations(table, **boot)
    strata = clean_accuracy_strata(table, **boot)
    reliability = reliabilities(table, **boot)
    covariates = incremental_covariate_count(table)
    rule = VerdictRule(min_effect=config.min_effect, min_reliability=config.min_reliability, power=config.power,
                       level=config.ci_level, family_size=FAMILY_SIZE, min_population=MIN_POPULATION_FOR_VERDICT)
    conclusion = conclude(pairs, reliability, table.n, covariates, rule)
    sim_level = conclusion.level

    plot_lead(table, pairs, out_dir / "lead.png")
    plot_added_variable(table, out_dir / "added_variable.png")
    plot_curves(results, out_dir / "curves.png")
    plot_correlations(pairs, out_dir / "correlations.png")
    figures = [
        Figure("Mean accuracy under eval-dropout vs. each target", "lead.png",
               "One point per model, colour = dataset, marker = architecture; predictor on the predictor split, "
               "targets on the disjoint target split. Titles: Spearman rho (95 % CI) and the incremental partial "
               f"correlation given clean accuracy, random-pruning robustness and group ({sim_level:.2%} "
               "simultaneous CI) -- the verdict's number."),
        Figure("What eval-dropout adds (added-variable plot)", "added_variable.png",
               "Rank residuals of the predictor (x) and of each target (y), both given clean accuracy, random-pruning "
               "robustness and group: their correlation is the incremental partial correlation."),
        Figure("Mean accuracy vs. evaluation-time dropout rate", "curves.png",
               "Each line one model (accuracy of single passes / clean accuracy), colour = dataset. Left: the "
               "model's own Dropout layers at rate p; right: dropout inserted before every weight layer."),
        Figure("Correlation maps", "correlations.png",
               "Every predictor (rows) against every target (columns): Spearman rho and the incremental partial "
               "correlation, each with its 95 % bootstrap CI."),
    ]
    tables = [incremental_table(pairs, conclusion.judgements), power_table(table.n, covariates, rule, sim_level),
              reliability_table(reliability), strata_table(strata), group_table(groups),
              *correlation_tables(pairs, config), *member_tables(results), settings_table(config)]
    metrics = headline_metrics(results, conclusion, reliability, rule, measuring_s)
    return StudyResult(
        study=STUDY, question=__doc__.strip().split("\n")[0], answer=conclusion.answer, verdict=conclusion.verdict,
        data_source=_data_source(datasets, config), metrics=metrics.values, labels=metrics.labels,
        tables=tables, figures=figures,
        raw=raw_values(results, pairs, conclusion.judgements, reliability,
                       {"within_group": groups, "clean_strata": strata}, config, threads),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_study(STUDY, build_parser(), resolve, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
