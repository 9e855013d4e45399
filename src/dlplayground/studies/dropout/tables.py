"""The study's tables, as raw values: numbers unrounded, intervals as ``[low, high]`` (the report rounds).

In the order a reader needs them: the incremental-value test (the core question), what this population can
resolve (power), each measure's spread and reliability, the clean-accuracy strata and the groups; then the
long ones -- every predictor x target pair (two tables), the models (recipe, predictors, targets) -- and the
settings. Each table keeps to about seven short columns so it fits a page; what a table leaves out is named in
its note and kept in the result's raw values.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlplayground.results import Table
from dlplayground.studies.dropout.analysis import (
    CLEAN,
    JUDGED,
    MAIN_TARGETS,
    PRIMARY,
    RANDOM_PRUNE,
    PairResult,
    Reliability,
    SubsetCorrelation,
)
from dlplayground.studies.dropout.config import MIN_POPULATION, DropoutStudyConfig
from dlplayground.studies.dropout.measurement import MemberResult
from dlplayground.studies.dropout.power import min_detectable, population_needed
from dlplayground.studies.dropout.verdict import Judgement, VerdictRule


def incremental_table(pairs: Sequence[PairResult], judgements: Sequence[Judgement]) -> Table:
    """The core question: what each judged predictor (and, for reference, each covariate) adds to each target."""
    status = {(j.predictor, j.target): j.status for j in judgements}
    rows = []
    for pred in (*JUDGED, RANDOM_PRUNE, CLEAN):
        for target in MAIN_TARGETS:
            p = next(q for q in pairs if q.predictor == pred and q.target == target)
            rows.append([pred, target, p.spearman.estimate, p.given_clean.estimate, p.incremental.estimate,
                         list(p.simultaneous), status.get((pred, target))])
    level = pairs[0].simultaneous_level if pairs else float("nan")
    n = pairs[0].spearman.n if pairs else 0
    return Table(
        "Incremental value: what each predictor adds beyond clean accuracy and random-pruning robustness",
        ["predictor", "target", "rho", "partial | clean", "incremental", f"{level:.2%} CI", "status"], rows,
        note=f"{n} models. rho = Spearman; partial | clean = given clean accuracy; incremental = Spearman partial "
             "correlation given clean accuracy, random-pruning robustness and the group indicators (a covariate is "
             f"not partialled out of itself: the reference rows use the others), with its {level:.2%} simultaneous "
             "interval. Status by the verdict rule (docs); the MC-dropout mutual information is expected to "
             "correlate negatively. The 95 % intervals and p-values are in the 'Every predictor x target' tables.")


def power_table(n: int, covariates: int, rule: VerdictRule, level: float) -> Table:
    """What this population can resolve, and how many models other effect sizes would need."""
    alpha = 1 - level
    rows = [["this population", n, covariates, level, min_detectable(n, covariates, alpha, rule.power), None]]
    for rho in sorted({0.2, rule.min_effect, 0.4, 0.5}):
        rows.append([f"detect or rule out rho = {rho:g}", population_needed(rho, covariates, alpha, rule.power),
                     covariates, level, rho, None])
    rows.append(["plain rho = 0.5 at 95 %, no covariates", population_needed(0.5, 0, 0.05, rule.power), 0, 0.95, 0.5,
                 None])
    for row in rows:
        row[-1] = rule.power
    return Table("What the data can resolve (power of the core test)",
                 ["case", "models", "covariates", "interval level", "|partial rho|", "power"], rows,
                 note="Fisher z with the Spearman variance (1 + rho^2/2)/(n - 3 - k) (Bonett & Wright 2000); the first "
                      "row is the smallest incremental correlation this run detects, the others the models needed.")


def reliability_table(reliability: Sequence[Reliability]) -> Table:
    rows = [[r.measure, r.minimum, r.median, r.maximum, r.sd,
             r.reliability.estimate if r.reliability is not None else None,
             [r.reliability.low, r.reliability.high] if r.reliability is not None else None] for r in reliability]
    return Table("Spread and split-half reliability of every measure",
                 ["measure", "min", "median", "max", "SD", "reliability", "reliability CI"], rows,
                 note="Each measure recomputed on the two stratified halves of its split; reliability = Spearman-Brown "
                      "2r/(1+r) of the correlation r between halves across models. A correlation between two measures "
                      "cannot exceed about sqrt(reliability x reliability). Measures without halves (covariates, "
                      "baselines) get the spread only. The count of distinct values and r itself are in the raw "
                      "values ('reliability').")


def subset_table(title: str, correlations: Sequence[SubsetCorrelation], note: str) -> Table:
    rows = [[c.subset, c.target, c.spearman.n, list(c.clean_range), c.spearman.estimate, c.spearman.ci,
             c.spearman.p_value] for c in correlations]
    return Table(title, ["subset", "target", "n", "clean acc range", "rho", "rho CI", "p"], rows,
                 note=f"{note} rho = Spearman, with its 95 % CI and p-value.")


def strata_table(correlations: Sequence[SubsetCorrelation]) -> Table:
    return subset_table(
        f"'{PRIMARY}' within clean-accuracy strata (the floor effect)", correlations,
        f"Models split into tertiles of clean accuracy (validation split); strata below {MIN_POPULATION} models are "
        "omitted. Within a stratum clean accuracy barely varies, so a correlation there is not the floor effect.")


def group_table(correlations: Sequence[SubsetCorrelation]) -> Table:
    return subset_table(
        f"'{PRIMARY}' within each dataset/architecture group", correlations,
        f"Groups below {MIN_POPULATION} models are omitted; pooled correlations can be driven by differences "
        "between groups, these cannot.")


def correlation_tables(pairs: Sequence[PairResult], config: DropoutStudyConfig) -> list[Table]:
    """Every predictor x target pair, in two tables: the plain and floor-adjusted correlations, then the partial
    ones given more (one table of all four would be twelve columns wide)."""
    n = pairs[0].spearman.n if pairs else 0
    common = (f"{n} models; {config.bootstrap_resamples} paired bootstrap resamples (models), {config.ci_level:.0%} "
              "percentile CIs. The random score shows what chance produces at this n.")
    plain = Table(
        "Every predictor x target: rho and the floor effect",
        ["predictor", "target", "rho", "rho CI", "p", "partial | clean", "partial CI"],
        [[p.predictor, p.target, p.spearman.estimate, p.spearman.ci, p.spearman.p_value, p.given_clean.estimate,
          p.given_clean.ci] for p in pairs],
        note=f"rho = Spearman, p its p-value; partial | clean = partial correlation given clean accuracy. {common}")
    partial = Table(
        "Every predictor x target: incremental and given everything",
        ["predictor", "target", "incremental", "incremental CI", "| everything", "| everything CI"],
        [[p.predictor, p.target, p.incremental.estimate, p.incremental.ci, p.given_all.estimate, p.given_all.ci]
         for p in pairs],
        note="incremental = partial correlation given clean accuracy, random-pruning robustness and group; "
             "| everything = given those and every design factor (training dropout, label noise, training fraction, "
             f"weight decay, width, training steps). {common}")
    return [plain, partial]


def member_tables(results: Sequence[MemberResult]) -> list[Table]:
    """One row per model, in three tables of a few columns: the recipe, the predictors, the targets."""
    recipe = Table(
        "Models: recipe", ["model", "group", "width", "label noise", "train n", "weight decay", "train dropout",
                           "train steps"],
        [[r.member.index, r.member.group, r.member.width, r.member.label_noise, r.n_train, r.member.weight_decay,
          r.member.dropout, r.member.train_steps] for r in results],
        note="label noise = share of training labels flipped; train n = training examples kept; train dropout = the "
             "model's own Dropout rate in training. Seeds, epochs and seconds per model are in the raw values.")
    predictors = Table(
        "Models: predictors", ["model", "clean acc", "chance acc", "AUC native", "AUC inserted", "MC mutual info",
                               "random-prune robustness"],
        [[r.member.index, r.clean_accuracy, r.chance_accuracy, r.predictors.native.auc, r.predictors.inserted.auc,
          r.predictors.mc.mutual_information_nats, r.predictors.random_prune_robustness] for r in results],
        note="clean and chance acc on the validation split; the rest on the predictor split. AUC = mean accuracy / "
             "clean over the eval-dropout rates (native: the model's own Dropout layers; inserted: before every "
             "weight layer); MC mutual info in nats. Training accuracy, MC accuracy and entropy, weight norm, the "
             "random score and every per-pass accuracy are in the raw values ('members').")
    targets = Table(
        "Models: targets", ["model", "prune one-shot", "prune fine-tuned", "KD temperature", "student acc (KD)",
                            "student acc (labels)", "distillation gain"],
        [[r.member.index, r.targets.prune_oneshot.max_sparsity, r.targets.prune_finetuned.max_sparsity,
          r.targets.distillation.chosen_temperature, r.targets.distillation.student[0],
          r.targets.distillation.scratch[0], r.targets.distillation.gain] for r in results],
        note="On the target split: prune = largest sparsity within the tolerance (fine-tuning kept where validation "
             "says it helps); the student learns from the teacher's soft outputs (KD, temperature chosen on "
             "validation) or from its training labels; gain = the difference. Teacher accuracy, retained accuracy, "
             "the fine-tuning choices and every curve are in the raw values ('members').")
    return [recipe, predictors, targets]


def settings_table(config: DropoutStudyConfig) -> Table:
    """The resolved config, one setting per row; a sequence is listed as text (a list cell reads as an interval)."""
    rows = [[name, ", ".join(str(v) for v in value) if isinstance(value, list) else value]
            for name, value in config.to_dict().items()]
    return Table("Settings", ["setting", "value"], rows,
                 note="The same values as the config recorded in result.json; sequences listed in order.")
