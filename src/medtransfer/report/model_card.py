"""Model card: intended use, data, development, performance and limitations.

Organised by the TRIPOD+AI reporting topics that a transfer run can fill in from its own
records (Collins et al., BMJ 2024;385:e078378); the rest is flagged for the authors to add.
"""

from __future__ import annotations

from html import escape

import numpy as np

from medtransfer.evaluate.calibration import expected_calibration_error
from medtransfer.report.markup import fmt, interval, section, table
from medtransfer.report.run import BASELINE_ORDER, RunData
from medtransfer.report.sections import metric_labels, summary
from medtransfer.report.tripod import tripod_checklist

HEADLINE = {"classification": ("auroc",), "regression": ("mae", "pw20", "r2")}

SMALL_TEST = 100
SMALL_LABELLED = 30
TO_ADD = "<em class=todo>to be completed by the authors</em>"
GENERAL_LIMITATIONS = (
    "Retrospective data from the listed sites only; not validated prospectively or at other "
    "sites, scanners or populations.",
    "Performance in subgroups (sex, age, ethnicity) is not guaranteed to match the overall "
    "figures.",
    "Decision support only: the output does not replace clinical judgement.",
)


def prevalence(info: dict) -> dict[str, float]:
    """Share of each class in a domain's recorded class counts."""
    counts = info.get("class_counts") or {}
    total = sum(counts.values())
    return {c: n / total for c, n in counts.items()} if total else {}


def limitations(run: RunData) -> list[str]:
    """Limitations that this run's own numbers reveal, then the ones every such run has."""
    found = []
    chosen = run.models[run.chosen]
    n_test = int(chosen.labelled.sum())
    n_lab = int((run.manifest.get("target") or {}).get("n_labelled") or 0)
    if n_test < SMALL_TEST:
        found.append(f"Only {n_test} held-out target cases: the intervals are wide.")
    if n_lab < SMALL_LABELLED:
        found.append(f"Only {n_lab} labelled target cases guided adaptation and selection.")
    src, tgt = prevalence(run.manifest.get("source") or {}), prevalence(run.manifest.get("target")
                                                                         or {})
    gaps = {c: tgt[c] - src[c] for c in src.keys() & tgt.keys()}
    if gaps and max(abs(g) for g in gaps.values()) > 0.1:
        worst = max(gaps, key=lambda c: abs(gaps[c]))
        found.append(f"Class balance differs between domains ({escape(worst)}: "
                     f"{src[worst]:.0%} in source, {tgt[worst]:.0%} in target); predicted "
                     "probabilities may need recalibration before use.")
    if run.selected in BASELINE_ORDER:
        found.append("No adaptation method was credibly better than a baseline, so a baseline "
                     f"({escape(run.selected)}) is used.")
    return [*found, *GENERAL_LIMITATIONS]


def performance_text(run: RunData, perf: dict[str, dict]) -> str:
    """The chosen model's headline metrics beside the baselines, and its calibration."""
    labels = metric_labels(run)
    parts = []
    for name in [run.chosen, *[b for b in BASELINE_ORDER if b != run.chosen]]:
        if name in perf:
            parts.append(f"{escape(name)}: " + ", ".join(
                f"{labels[m]} {interval(perf[name].get(m))}" for m in HEADLINE[run.task]))
    model = run.models[run.chosen]
    y, p = model.y[model.labelled], model.proba[model.labelled]
    if not run.is_regression and len(np.unique(y)) >= 2:
        parts.append(f"calibration of {escape(run.chosen)}: ECE "
                     f"{expected_calibration_error(y, p):.3f}")
    return "; ".join(parts) + ". See the metrics table for every measure."


def outcome(run: RunData) -> tuple[str, str]:
    """What the model estimates, and the outcome it was developed for."""
    if run.is_regression:
        model = run.models[run.chosen]
        return ("a continuous outcome (e.g. a weekly dose in mg)",
                "Continuous value; on the held-out target cases "
                f"{summary(model.y[model.labelled])}.")
    classes = ", ".join(escape(c) for c in run.class_names)
    return (f"the probability of each class ({classes})",
            f"{len(run.class_names)} classes: {classes}.")


def card_rows(run: RunData, perf: dict[str, dict]) -> list[list[str]]:
    """(topic, content) rows of the card."""
    m = run.manifest
    src, tgt = m.get("source") or {}, m.get("target") or {}
    estimate, described = outcome(run)
    n_test = int(run.models[run.chosen].labelled.sum())
    estimator = "estimator" if run.is_regression else "classifier"
    return [
        ["Intended use", f"Estimate {estimate} for cases from "
         f"{fmt(tgt.get('name'))}, by a model carried over from {fmt(src.get('name'))}. "
         "For research and decision support; intended users are clinicians and researchers."],
        ["Data sources", f"Source: {fmt(src.get('name'))} ({fmt(src.get('n'))} cases, all "
         f"labelled). Target: {fmt(tgt.get('name'))} ({fmt(tgt.get('n'))} cases, "
         f"{fmt(tgt.get('n_labelled'))} labelled for adaptation)."],
        ["Outcome", described],
        ["Sample size for evaluation", f"{n_test} held-out labelled target cases."],
        ["Model", f"Transfer method {fmt(run.chosen)}"
         + (f" (selected {fmt(run.selected)})" if run.selected != run.chosen else "")
         + f", {estimator} {fmt(m.get('classifier'))}"
         + (f", backbone {fmt(m['backbone'])}" if m.get("backbone") else "")
         + f"; seed {fmt(m.get('seed'))}; medtransfer {fmt(m.get('medtransfer_version'))}."],
        ["Model selection", "Chosen with the labelled target cases only; held-out cases were "
         "not used." if m.get("selection") else "Fixed by the user."],
        ["Performance (95% CI)", performance_text(run, perf)],
        ["Limitations", "<ul>" + "".join(f"<li>{t}</li>" for t in limitations(run))
         + "</ul>"],
        ["Missing data, fairness, ethics approval, funding", TO_ADD],
    ]


def model_card_section(run: RunData, perf: dict[str, dict]) -> str:
    """The model card as a report section."""
    intro = ("<p class=note>Items follow the TRIPOD+AI reporting topics that this run can fill "
             "in from its own records; complete the rest before publication.</p>")
    return section("card", "Model card",
                   intro + table(["Topic", "This model"], card_rows(run, perf), "card")
                   + tripod_checklist(run))
