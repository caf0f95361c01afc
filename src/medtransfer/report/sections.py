"""The report's sections, each a function of the run returning an HTML fragment."""

from __future__ import annotations

import base64
import re
from html import escape

import numpy as np

from medtransfer.errors import DataError
from medtransfer.evaluate.bootstrap import evaluate_predictions
from medtransfer.evaluate.compare import compare_models
from medtransfer.evaluate.dosing import METRICS as VALUE_METRICS
from medtransfer.evaluate.dosing import dosing_metrics
from medtransfer.evaluate.resampling import (
    bootstrap_resamples,
    paired_difference,
    paired_p_value,
    percentile_interval,
)
from medtransfer.evaluate.subgroups import subgroup_metrics
from medtransfer.report import figures
from medtransfer.report.markup import (
    figure,
    fmt,
    interval,
    pvalue,
    render_data,
    section,
    table,
)
from medtransfer.report.run import BASELINE_ORDER, RECALIBRATED, ModelPredictions, RunData

LABELS = {
    "auroc": "AUROC", "auprc": "AUPRC", "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy", "sensitivity": "Sensitivity",
    "specificity": "Specificity", "ppv": "PPV", "npv": "NPV", "f1": "F1", "brier": "Brier",
}
REGRESSION_LABELS = {"mae": "MAE", "pw20": "PW20", "r2": "R²"}
MAX_EXAMPLES = 8
N_RESAMPLES = 500
SUBGROUP_RESAMPLES = 200
SUBGROUP_MIN_SIZE = 10
SUBGROUP_METRICS = ("auroc", "sensitivity", "specificity")
SUBGROUP_TITLES = {"site": "Site", "sex": "Sex", "age": "Age band"}
# per-case selection records (fold indices, out-of-fold predictions): bulky, shown as counts
PER_CASE_KEYS = ("folds", "oof")


def metric_labels(run: RunData) -> dict[str, str]:
    """Display names of the metrics of the run's task, in table order."""
    return REGRESSION_LABELS if run.is_regression else LABELS


def seed(run: RunData) -> int:
    """The run's seed, so the report's bootstrap figures are reproducible."""
    return int(run.manifest.get("seed") or 0)


def labelled(model: ModelPredictions) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of the cases with a known label."""
    mask = model.labelled
    return model.y[mask], model.proba[mask]


def values(model: ModelPredictions) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted values of the scored cases (regression)."""
    mask = model.scored
    return model.y[mask], model.predicted[mask]


def performance(run: RunData) -> dict[str, dict]:
    """Metrics with intervals per model: the manifest's, else computed from the predictions."""
    stored = run.manifest.get("metrics") or {}
    result = {}
    for name, model in run.models.items():
        computed = stored.get(name) or computed_metrics(run, model)
        if computed:
            result[name] = computed
    return result


def computed_metrics(run: RunData, model: ModelPredictions) -> dict | None:
    """A model's metrics with 95% bootstrap intervals, from its predictions; None if the
    cases cannot be scored (a single class; fewer than two values or non-positive ones)."""
    if run.is_regression:
        y, pred = values(model)
        if len(y) < 2:
            return None
        try:
            table = dosing_metrics(y, pred, n_bootstrap=N_RESAMPLES, random_state=seed(run))
        except DataError:
            return None  # PW20 needs positive true values
        return {r.metric: {"value": r.value, "low": r.ci_low, "high": r.ci_high}
                for r in table.itertuples()}
    y, p = labelled(model)
    if len(np.unique(y)) < 2:
        return None
    return evaluate_predictions(
        y, p, class_names=run.class_names, n_resamples=N_RESAMPLES, random_state=seed(run),
        threshold=run.manifest.get("threshold"),
    )


SUMMARY_KEYS = ("mean", "median", "q1", "q3")


def summary_text(stats: dict) -> str:
    """Mean, median and interquartile range, from a dict with ``SUMMARY_KEYS``."""
    return (f"mean {fmt(float(stats['mean']), 1)}, median {fmt(float(stats['median']), 1)}, "
            f"IQR {fmt(float(stats['q1']), 1)} to {fmt(float(stats['q3']), 1)}")


def summary(y: np.ndarray) -> str:
    """Mean, median and interquartile range of some values."""
    if len(y) == 0:
        return "—"
    q1, median, q3 = np.percentile(y, [25, 50, 75])
    return summary_text({"mean": np.mean(y), "median": median, "q1": q1, "q3": q3})


def recorded_summary(info: dict) -> str:
    """A domain's outcome distribution as the manifest records it (``label_summary``)."""
    stats = info.get("label_summary") or {}
    if not all(isinstance(stats.get(k), int | float) for k in SUMMARY_KEYS):
        return "<span class=note>not recorded in the manifest</span>"
    return summary_text(stats)


def best_baseline(run: RunData, perf: dict[str, dict]) -> str | None:
    """The baseline with the lowest MAE, else the first one present; never the chosen model
    nor the baseline it stands for (``auto`` may have kept one)."""
    present = [b for b in BASELINE_ORDER if b in run.models and b not in (run.chosen,
                                                                          run.selected)]
    scored = [b for b in present if (perf.get(b) or {}).get("mae")]
    if scored:
        return min(scored, key=lambda b: perf[b]["mae"]["value"])
    return present[0] if present else None


def class_balance(info: dict) -> str:
    """A domain's recorded class counts with their shares."""
    counts = info.get("class_counts") or {}
    total = sum(counts.values()) or 1
    return ", ".join(f"{fmt(c)}: {fmt(n)} ({n / total:.0%})" for c, n in counts.items())


def data_section(run: RunData) -> str:
    """Domains, sizes and class balance (regression: the outcome's distribution)."""
    describe = recorded_summary if run.is_regression else class_balance
    rows = []
    for role in ("source", "target"):
        info = run.manifest.get(role) or {}
        rows.append([role.capitalize(), fmt(info.get("name")), fmt(info.get("n")),
                     fmt(info.get("n_labelled")) if role == "target" else "all", describe(info)])
    held_out = run.models[run.chosen]
    n_test = int(held_out.labelled.sum())
    if run.is_regression:
        name = (run.manifest.get("target") or {}).get("name")
        rows.append(["Target, held-out test cases", fmt(name), fmt(n_test), fmt(n_test),
                     summary(held_out.y[held_out.labelled])])
    note = (f"<p>Performance is measured on {fmt(n_test)} held-out "
            "labelled target cases that took no part in fitting or in choosing the method.</p>")
    balance = "Outcome distribution" if run.is_regression else "Class balance"
    return section("data", "Data", table(
        ["Domain", "Name", "Cases", "Labelled", balance], rows) + note)


def shift_section(run: RunData) -> str:
    """The shift measured between source and target, if the run recorded one."""
    if run.shift is None:
        return ""
    return section("shift", "Dataset shift", render_data(run.shift))


def selection_section(run: RunData) -> str:
    """Which method was chosen and the evidence for it."""
    chosen = run.chosen
    evidence = run.manifest.get("selection")
    picked = (f" (it selected <strong>{fmt(run.selected)}</strong>)"
              if run.selected != chosen else "")
    text = (f"<p>Method used: <strong>{fmt(chosen)}</strong>{picked} with "
            f"{'estimator' if run.is_regression else 'classifier'} "
            f"<strong>{fmt(run.manifest.get('classifier'))}</strong>"
            + (f" on backbone <strong>{fmt(run.manifest['backbone'])}</strong>"
               if run.manifest.get("backbone") else "") + ".</p>")
    if evidence:
        text += ("<p>Evidence from the labelled target cases only (the held-out test cases "
                 "were not used):</p>" + selection_summary(evidence)
                 + "<details><summary>Full selection evidence</summary>"
                 + render_data(without_per_case(evidence)) + "</details>")
    else:
        text += "<p class=note>The method was fixed by the user; no selection was run.</p>"
    return section("selection", "Method and why", text)


def selection_summary(evidence: dict) -> str:
    """The decision in one sentence, then one row per candidate against the baseline."""
    text = f"<p><strong>{escape(str(evidence.get('reason', '')))}</strong></p>"
    skipped = [s for s in evidence.get("skipped") or [] if isinstance(s, dict)]
    if skipped:
        text += ("<p>Not tried:</p><ul>" + "".join(
            f"<li>{escape(str(s.get('name')))}: {escape(str(s.get('reason')))}</li>"
            for s in skipped) + "</ul>")
    methods = evidence.get("methods")
    if not isinstance(methods, dict):
        return text
    compared = {**evidence.get("baseline_comparisons", {}), **evidence.get("comparisons", {})}
    rows = []
    for name, result in methods.items():
        diff = compared.get(name, {})
        rows.append([
            escape(name), fmt(result.get("score")), fmt(diff.get("mean")),
            fmt(diff.get("lower")), pvalue(diff.get("p_value")), fmt(result.get("time_s"), 1),
            escape(str(result.get("error") or "")),
        ])
    headers = ("method", "validation score", "difference vs baseline", "lower bound", "p",
               "seconds", "error")
    return text + table(headers, rows)


def without_per_case(value):
    """Selection evidence with its per-case records replaced by their counts."""
    if isinstance(value, dict):
        return {k: (f"{len(v)} records" if k in PER_CASE_KEYS and isinstance(v, list)
                    else without_per_case(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_per_case(v) for v in value]
    return value


def references(run: RunData) -> set[str]:
    """Models the run did not fit: fixed references (e.g. published formulas) scored beside."""
    fitted = run.manifest.get("models")
    if not isinstance(fitted, list):
        return set()
    return {n for n in run.models if n not in fitted and n != run.chosen
            and not n.endswith(RECALIBRATED)}


def metrics_section(run: RunData, perf: dict[str, dict]) -> str:
    """Metrics table with 95% intervals, the chosen model beside the baselines."""
    labels = metric_labels(run)
    names = [m for m in labels if any(m in v for v in perf.values())]
    fixed = references(run)
    rows = []
    for model, values in perf.items():
        tag = (" <span class=badge>chosen</span>" if model == run.chosen else
               " <span class=badge>reference</span>" if model in fixed else "")
        rows.append([f"{fmt(model)}{tag}", *[interval(values.get(m)) for m in names]])
    if run.is_regression:
        note = ("<p class=note>Point estimate with its 95% bootstrap interval (cases "
                "resampled). MAE: mean absolute error in the outcome's units (mg/week for "
                "warfarin doses), lower is better; PW20: share of cases predicted within ±20% "
                "of the true value, and R², higher is better."
                + (" <em>reference</em>: a fixed formula, not fitted by this run, scored on "
                   "the same cases." if fixed else "") + "</p>")
    else:
        note = ("<p class=note>Point estimate with its 95% stratified bootstrap interval. "
                "Brier: lower is better; all others: higher is better.</p>")
    return section("metrics", "Performance on held-out target cases",
                   "<div class=scroll>" + table(["Model", *[labels[m] for m in names]], rows,
                                                "metrics") + "</div>" + note
                   + comparison_table(run))


def comparison_table(run: RunData) -> str:
    """Paired differences between the chosen model and each baseline."""
    chosen = run.models[run.chosen]
    compare = compare_values if run.is_regression else compare_classes
    rows = []
    for name, other in run.models.items():
        if name == run.chosen or name.endswith(RECALIBRATED):
            continue
        if not np.array_equal(other.ids, chosen.ids):
            continue  # a paired comparison needs the very same cases
        rows += compare(run, chosen, other)
    if not rows:
        return ""
    if run.is_regression:
        headers = ["Baseline", "Metric", "Difference (95% CI)", "Bootstrap p"]
        note = ("<p class=note>Both models scored on the same resampled cases (paired "
                f"bootstrap, {N_RESAMPLES} resamples). A negative MAE difference and a positive "
                "PW20 difference favour the chosen model.</p>")
    else:
        headers = ["Baseline", "Metric", "Difference (95% CI)", "Bootstrap p", "DeLong p"]
        note = ("<p class=note>Both models scored on the same resampled cases (paired "
                f"bootstrap, {N_RESAMPLES} resamples); DeLong's test for AUROC.</p>")
    return ("<h3>Paired comparison: chosen model minus baseline</h3>" + table(headers, rows)
            + note)


def compare_classes(run: RunData, chosen: ModelPredictions,
                    other: ModelPredictions) -> list[list[str]]:
    """Rows of AUROC, balanced accuracy and Brier differences (classification)."""
    y, pa = labelled(chosen)
    if len(np.unique(y)) < 2:
        return []
    try:
        res = compare_models(y, pa, other.proba[chosen.labelled], class_names=run.class_names,
                             n_resamples=N_RESAMPLES, random_state=seed(run))
    except DataError:
        return []  # too few cases of a class for DeLong
    return [[fmt(other.name), LABELS[m], interval({"value": res[m]["difference"], **res[m]}),
             pvalue(res[m]["p_value"]), pvalue(res[m].get("delong_p"))]
            for m in ("auroc", "balanced_accuracy", "brier")]


def compare_values(run: RunData, chosen: ModelPredictions,
                   other: ModelPredictions) -> list[list[str]]:
    """Rows of MAE and PW20 differences on the cases both models predicted (regression)."""
    both = chosen.scored & other.scored
    y, pa, pb = chosen.y[both], chosen.predicted[both], other.predicted[both]
    if len(y) < 2:
        return []
    resamples = bootstrap_resamples(len(y), n_resamples=N_RESAMPLES, random_state=seed(run))
    rows = []
    for m in ("mae", "pw20"):
        metric = VALUE_METRICS[m]
        resampled = paired_difference(
            resamples, lambda idx, pred, metric=metric: metric(y[idx], pred[idx]), pa, pb)
        low, high = percentile_interval(resampled)
        difference = float(metric(y, pa) - metric(y, pb))
        rows.append([fmt(other.name), REGRESSION_LABELS[m],
                     interval({"value": difference, "low": low, "high": high}),
                     pvalue(paired_p_value(resampled))])
    return rows


def roc_section(run: RunData) -> str:
    """ROC curves with bootstrap bands (binary: every model; multi-class: one vs rest)."""
    curves = {}
    if len(run.class_names) == 2:
        for name, model in run.models.items():
            y, p = labelled(model)
            if len(np.unique(y)) == 2 and not name.endswith(RECALIBRATED):
                curves[name] = (y, p[:, 1])
    else:
        y, p = labelled(run.models[run.chosen])
        curves = {f"{c} vs rest": ((y == i).astype(int), p[:, i])
                  for i, c in enumerate(run.class_names) if 0 < np.sum(y == i) < len(y)}
    if not curves:
        return ""
    caption = "ROC curves with 95% bootstrap bands (200 stratified resamples)"
    return section("roc", "ROC curves", figure(
        figures.roc_figure(curves, seed(run)), caption))


def calibration_section(run: RunData) -> str:
    """Reliability diagrams, before and after recalibration when the run recalibrated."""
    panels: dict[str, dict] = {}
    for name, model in run.models.items():
        if name.endswith(RECALIBRATED) and name[: -len(RECALIBRATED)] in run.models:
            base = run.models[name[: -len(RECALIBRATED)]]
            panels[f"{base.name}: before / after recalibration"] = {
                "before": labelled(base), "after": labelled(model)}
    if not panels:
        panels["All models"] = {n: labelled(m) for n, m in run.models.items()}
    caption = ("Reliability diagrams, " + "; ".join(panels) +
               " (10 equal-width bins; ECE = expected calibration error)")
    return section("calibration", "Calibration", figure(
        figures.reliability_figure(panels), caption))


def confusion_section(run: RunData) -> str:
    """Confusion matrix of the chosen model's calls on the labelled cases."""
    model = run.models[run.chosen]
    codes = {c: i for i, c in enumerate(run.class_names)}
    k = len(run.class_names)
    matrix = np.zeros((k, k), dtype=int)
    for true, call in zip(model.y[model.labelled], model.predicted[model.labelled], strict=True):
        if call in codes:
            matrix[true, codes[call]] += 1
    return section("confusion", "Confusion matrix", figure(
        figures.confusion_figure(matrix, run.class_names),
        f"Chosen model ({run.chosen}): counts and share of each true class"))


def prediction_section(run: RunData, perf: dict[str, dict]) -> str:
    """Predicted against true values: the chosen model and the best baseline."""
    shown = [run.chosen, *filter(None, [best_baseline(run, perf)])]
    panels = {}
    for name in shown:
        y, pred = values(run.models[name])
        if len(y):
            pw = (perf.get(name) or {}).get("pw20")
            panels[name + (f" (PW20 {pw['value']:.0%})" if pw else "")] = (y, pred)
    if not panels:
        return ""
    caption = ("Predicted against true value on the held-out target cases: the chosen model "
               "and the best other baseline (lowest MAE); dashed: identity; shaded: within ±20% of "
               "the true value")
    return section("scatter", "Predicted against true", figure(
        figures.scatter_figure(panels, seed(run)), caption))


def error_section(run: RunData, perf: dict[str, dict]) -> str:
    """Agreement of the chosen model, and its error by range beside the baseline's."""
    shown = [run.chosen, *filter(None, [best_baseline(run, perf)])]
    pairs = {n: values(run.models[n]) for n in shown if len(values(run.models[n])[0]) > 1}
    if run.chosen not in pairs:
        return ""
    caption = ("Left: Bland-Altman plot of the chosen model (difference against mean, with "
               "the mean difference and 95% limits of agreement). Right: mean absolute error "
               "in five ranges of the true value (quantiles), beside the best baseline")
    return section("errors", "Errors by range", figure(
        figures.error_figure(pairs, seed(run)), caption))


EMBEDDING_AFTER_TITLES = {
    "mapped": "After adaptation",
    "reweighted": "After: source reweighted (area ∝ weight)",
    "unchanged": "After: features unchanged",
}
EMBEDDING_EFFECT_NOTES = {
    "mapped": "{method} moves the features: the right panel shows what its final model is "
              "trained on and applied to.",
    "reweighted": "{method} reweights the source samples; the features are unchanged, so both "
                  "panels show the same points, and on the right each source point's area is "
                  "proportional to its training weight.",
    "unchanged": "{method} does not change the features (it transfers model parameters, "
                 "weights training rows inside the model or corrects the class prior), so both "
                 "panels show the same points.",
    "baseline": "{method} is a baseline without adaptation: the features are unchanged, so both "
                "panels show the same points.",
}
EMBEDDING_PROJECTION_NOTES = {
    "shared": "Both panels use one PCA, fitted on the features before adaptation (each panel "
              "standardised over source and target together), so positions are comparable.",
    "separate": "{method} works in a space of its own, so the right panel has its own PCA, "
                "rotated to match the left as closely as possible.",
}


def embedding_section(run: RunData) -> str:
    """Source and target before and after adaptation, if the run saved an embedding."""
    embedding = run.embedding
    if embedding is None:
        return ""
    names = (str((run.manifest.get("source") or {}).get("name", "source")),
             str((run.manifest.get("target") or {}).get("name", "target")))
    notes = ["2-D embedding of the features of both domains"
             + ("." if embedding.effect is None else " that the method was given: the labelled "
                "source and all target samples (large domains randomly subsampled).")]
    effect = embedding.effect or ""
    if effect == "unchanged" and run.selected in BASELINE_ORDER:
        effect = "baseline"
    notes += [EMBEDDING_EFFECT_NOTES.get(effect),
              EMBEDDING_PROJECTION_NOTES.get(embedding.projection or "")]
    caption = " ".join(n.format(method=run.selected) for n in notes if n)
    uri = figures.embedding_figure(
        embedding.points, names, seed(run),
        after_title=EMBEDDING_AFTER_TITLES.get(embedding.effect or "", "After adaptation"),
        source_weight=embedding.source_weight if embedding.effect == "reweighted" else None,
        shared_axes=embedding.projection != "separate")
    return section("embedding", "Source and target, before and after adaptation",
                   figure(uri, caption))


def explain_section(run: RunData) -> str:
    """Grad-CAM examples; file names are not shown (they may carry identifiers)."""
    if not run.explain:
        return ""
    items = []
    for i, path in enumerate(run.explain[:MAX_EXAMPLES], start=1):
        uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        items.append(figure(uri, f"Example {i}"))
    return section("explain", "Where the model looks (Grad-CAM)",
                   "<div class=gallery>" + "".join(items) + "</div>")


def subgroup_order(value: str) -> tuple:
    """Sort key of a subgroup value: numeric bands by their bound ("<40" first), then text."""
    match = re.match(r"\s*(<|>=|>)?\s*(-?\d+(?:\.\d+)?)", value)
    if not match:
        return (1, 0.0, value)
    shift = {"<": -0.5, ">=": 0.5, ">": 0.5}.get(match.group(1) or "", 0.0)
    return (0, float(match.group(2)) + shift, value)


def subgroup_section(run: RunData) -> str:
    """The chosen model's AUROC, sensitivity and specificity within each subgroup (site,
    sex, age band) with 95% bootstrap intervals; classification runs with subgroup columns."""
    model = run.models[run.chosen]
    if run.is_regression or model.subgroups.empty or len(model.subgroups) != len(model.y):
        return ""
    mask = model.labelled
    if not mask.any():
        return ""
    groups = model.subgroups[mask].reset_index(drop=True)
    result = subgroup_metrics(
        model.y[mask], model.proba[mask], class_names=run.class_names, subgroups=groups,
        n_resamples=SUBGROUP_RESAMPLES, threshold=run.manifest.get("threshold"),
        random_state=seed(run), min_size=SUBGROUP_MIN_SIZE,
    )
    parts = []
    for attribute, rows in result.groupby("attribute", sort=False):
        body = []
        ordered = sorted(rows.groupby(["subgroup", "n"]), key=lambda g: subgroup_order(g[0][0]))
        for (value, n), cells in ordered:
            found = {r.metric: {"value": r.value, "low": r.low, "high": r.high}
                     for r in cells.itertuples()}
            small = (" <span class=badge>fewer than "
                     f"{SUBGROUP_MIN_SIZE}: not scored</span>" if n < SUBGROUP_MIN_SIZE else "")
            body.append([fmt(value), fmt(int(n)) + small,
                         *[interval(found.get(m)) for m in SUBGROUP_METRICS]])
        title = SUBGROUP_TITLES.get(str(attribute), str(attribute).replace("_", " ").capitalize())
        parts.append(f"<h3>{fmt(title)}</h3>" + table(
            [title, "n", *[LABELS[m] for m in SUBGROUP_METRICS]], body, "metrics"))
    if not parts:
        return ""
    note = (f"<p class=note>Chosen model ({fmt(run.chosen)}) on the held-out labelled target "
            f"cases, per subgroup: point estimate with its 95% bootstrap interval "
            f"({SUBGROUP_RESAMPLES} resamples). Subgroups of fewer than {SUBGROUP_MIN_SIZE} "
            "cases are listed with their size only; cases with an unknown value are in no "
            "subgroup. A metric that a subgroup cannot define (a single class) shows "
            "&mdash;.</p>")
    return section("subgroups", "Subgroups", "".join(parts) + note)
