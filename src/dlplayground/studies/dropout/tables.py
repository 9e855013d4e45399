"""The study's tables, as raw values: numbers unrounded, intervals as ``[low, high]`` (the report rounds).

In the order a reader needs them: the incremental-value test (the core question), what this population can
resolve (power), each measure's spread and reliability, the clean-accuracy strata and the groups; then the
long ones -- every predictor x target pair, one row per model -- and the settings.
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

MEMBER_COLUMNS = [
    "model", "group", "width", "label noise", "train n", "weight decay", "train dropout", "train steps", "epochs",
    "seed", "train acc", "clean acc (validation)", "chance acc", "gap", "AUC native", "AUC inserted",
    "MC predictive acc", "MC mutual information", "MC entropy", "random-prune robustness", "weight norm",
    "prune sparsity (one-shot)", "prune sparsity (fine-tuned)", "fine-tuning kept (levels)", "KD temperature",
    "student acc (KD)", "student acc (labels only)", "teacher acc (target split)", "distillation gain",
    "retained accuracy", "random score", "seconds",
]


def incremental_table(pairs: Sequence[PairResult], judgements: Sequence[Judgement]) -> Table:
    """The core question: what each judged predictor (and, for reference, each covariate) adds to each target."""
    status = {(j.predictor, j.target): j.status for j in judgements}
    rows = []
    for pred in (*JUDGED, RANDOM_PRUNE, CLEAN):
        for target in MAIN_TARGETS:
            p = next(q for q in pairs if q.predictor == pred and q.target == target)
            rows.append([pred, target, p.spearman.n, p.spearman.estimate, p.spearman.ci, p.given_clean.estimate,
                         p.given_clean.ci, p.incremental.estimate, p.incremental.ci, list(p.simultaneous),
                         p.incremental.p_value, status.get((pred, target))])
    level = pairs[0].simultaneous_level if pairs else float("nan")
    return Table(
        "Incremental value: what each predictor adds beyond clean accuracy and random-pruning robustness",
        ["predictor", "target", "n", "spearman", "spearman CI", "partial | clean acc", "CI",
         "incremental partial", "CI", f"simultaneous CI ({level:.2%})", "p", "status"], rows,
        note="Incremental partial = Spearman partial correlation given clean accuracy, random-pruning robustness and "
             "the group indicators (a covariate is not partialled out of itself: the reference rows use the "
             "others). Status by the verdict rule (docs), from the simultaneous interval; the MC-dropout mutual "
             "information is expected to correlate negatively.")


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
    rows = [[r.measure, r.n, r.minimum, r.median, r.maximum, r.sd, r.distinct,
             r.half_correlation.estimate if r.half_correlation is not None else None,
             r.reliability.estimate if r.reliability is not None else None,
             [r.reliability.low, r.reliability.high] if r.reliability is not None else None] for r in reliability]
    return Table("Spread and split-half reliability of every measure",
                 ["measure", "n", "min", "median", "max", "SD", "distinct values", "half-half spearman",
                  "reliability", "reliability CI"], rows,
                 note="Each measure recomputed on the two stratified halves of its split; reliability = Spearman-Brown "
                      "2r/(1+r) of the correlation between halves across models. A correlation between two measures "
                      "cannot exceed about sqrt(reliability x reliability). Measures without halves (covariates, "
                      "baselines) get the spread only.")


def subset_table(title: str, correlations: Sequence[SubsetCorrelation], note: str) -> Table:
    rows = [[c.subset, c.target, c.spearman.n, list(c.clean_range), c.spearman.estimate, c.spearman.ci,
             c.spearman.p_value] for c in correlations]
    return Table(title, ["subset", "target", "n", "clean accuracy range", "spearman", "spearman CI", "p"], rows,
                 note=note)


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


def correlation_table(pairs: Sequence[PairResult], config: DropoutStudyConfig) -> Table:
    rows = [[p.predictor, p.target, p.spearman.n, p.spearman.estimate, p.spearman.ci, p.spearman.p_value,
             p.given_clean.estimate, p.given_clean.ci, p.incremental.estimate, p.incremental.ci, p.given_all.estimate,
             p.given_all.ci] for p in pairs]
    return Table(
        "Every predictor against every target", ["predictor", "target", "n", "spearman", "spearman CI", "spearman p",
                                                 "partial | clean acc", "CI", "incremental partial", "CI",
                                                 "partial | everything", "CI"], rows,
        note=f"{config.bootstrap_resamples} paired bootstrap resamples (models), {config.ci_level:.0%} percentile "
             "CIs. 'Everything' = clean accuracy, random-pruning robustness, group and every design factor (training "
             "dropout, label noise, training fraction, weight decay, width, training steps). The random score shows "
             "what chance produces at this n.")


def member_table(results: Sequence[MemberResult]) -> Table:
    rows = []
    for r in results:
        m, pr, t = r.member, r.predictors, r.targets
        d = t.distillation
        rows.append([
            m.index, m.group, m.width, m.label_noise, r.n_train, m.weight_decay, m.dropout, m.train_steps, r.epochs,
            m.seed, r.train_accuracy, r.clean_accuracy, r.chance_accuracy, r.gap, pr.native.auc, pr.inserted.auc,
            pr.mc.accuracy, pr.mc.mutual_information_nats, pr.mc.entropy_nats, pr.random_prune_robustness,
            r.weight_norm, t.prune_oneshot.max_sparsity, t.prune_finetuned.max_sparsity,
            sum(t.prune_finetuned.kept_finetuning), d.chosen_temperature, d.student[0], d.scratch[0], d.teacher[0],
            d.gain, d.retained, r.random_score, r.elapsed_s,
        ])
    return Table("Population: one row per model", MEMBER_COLUMNS, rows,
                 note="train acc on the model's own (noisy) training labels; clean acc on the validation split; the "
                      "eval-dropout and MC-dropout columns on the predictor split; pruning and distillation on the "
                      "target split (fine-tuning kept where validation says it helps; temperature chosen on "
                      "validation). Per-pass and per-level curves are in the result's raw values.")


def settings_table(config: DropoutStudyConfig) -> Table:
    """The resolved config, one setting per row; a sequence is listed as text (a list cell reads as an interval)."""
    rows = [[name, ", ".join(str(v) for v in value) if isinstance(value, list) else value]
            for name, value in config.to_dict().items()]
    return Table("Settings", ["setting", "value"], rows,
                 note="The same values as the config recorded in result.json; sequences listed in order.")
