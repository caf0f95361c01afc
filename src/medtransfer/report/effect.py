"""The HTML report of a treatment-effect run: components, mean effect, factual scores, the
calibration of effects by quantile, policy value.

An effect run (``medtransfer fit --treatment-col``) predicts two outcomes per patient, not
one, so the diagnosis and dosing sections do not apply; everything shown here is read from
the run's verified manifest. Every string that reaches the page goes through
:mod:`medtransfer.report.markup`'s escaping.
"""

from __future__ import annotations

from importlib.resources import files
from string import Template

from medtransfer.report.markup import fmt, interval, render_data, section, table, table_of_contents
from medtransfer.report.sections import LABELS, REGRESSION_LABELS

POLICY_ROWS = {"policy": "Treat as recommended", "treat_all": "Treat all",
               "treat_none": "Treat none", "policy - treat_all": "Recommended minus treat all",
               "policy - treat_none": "Recommended minus treat none"}


def effect_html(manifest: dict) -> str:
    """The whole report of an effect run as one HTML string.

    Parameters
    ----------
    manifest : dict
        The run's verified manifest (it holds an ``effect`` entry).
    """
    effect, metrics = manifest["effect"], manifest.get("metrics") or {}
    body = "\n".join(part for part in (
        data_section(manifest), arms_section(manifest), effect_section(manifest),
        factual_section(metrics, manifest.get("task")), calibration_section(metrics),
        policy_section(metrics, effect),
    ) if part)
    src, tgt = (manifest.get("source") or {}), (manifest.get("target") or {})
    facts = {"Treatment": effect.get("treatment"), "Learner": effect.get("learner", "t"),
             "Method": manifest.get("chosen_method"),
             "Outcome": manifest.get("task"), "Better": effect.get("better") or "not given",
             "Seed": manifest.get("seed"), "Created": manifest.get("created"),
             "medtransfer": manifest.get("medtransfer_version")}
    template = Template(files("medtransfer.report").joinpath("templates/report.html").read_text())
    return template.substitute(
        title="Treatment-effect report: " + fmt(src.get("name")) + " &rarr; "
        + fmt(tgt.get("name")),
        subtitle=f"Effect of {fmt(effect.get('treatment'))} (1 vs 0) on a "
                 + ("continuous outcome" if manifest.get("task") == "regression"
                    else "binary outcome (a risk difference)"),
        facts="".join(f"<div><dt>{k}</dt><dd>{fmt(v)}</dd></div>" for k, v in facts.items()),
        toc=table_of_contents(body), body=body, version=fmt(manifest.get("medtransfer_version")),
    )


def data_section(manifest: dict) -> str:
    """Source and target sizes, and the rows left out for an unrecorded treatment."""
    rows = [[role.capitalize(), fmt((manifest.get(role) or {}).get("name")),
             fmt((manifest.get(role) or {}).get("n"))] for role in ("source", "target")]
    missing = (manifest["effect"].get("n_rows") or {}).get("treatment_not_recorded") or {}
    note = (f"<p class=note>Rows without a recorded treatment, left out of the arms: source "
            f"{fmt(missing.get('source'))}, target {fmt(missing.get('target'))}.</p>")
    return section("data", "Data", table(["Domain", "Name", "Rows"], rows) + note)


def arms_section(manifest: dict) -> str:
    """The learner, the one method every component fits, why, and each component's rows."""
    arms = manifest.get("components") or manifest.get("arms") or {}  # "arms": older runs
    rows = [[fmt(arm), fmt(record.get("chosen_method")),
             fmt((record.get("n_rows") or {}).get("source")),
             fmt((record.get("n_rows") or {}).get("target"))] for arm, record in arms.items()]
    selection = manifest.get("selection") or {}
    text = (f"<p>Learner <strong>{fmt(manifest.get('learner', 't'))}</strong>; every "
            f"component fits <strong>{fmt(selection.get('chosen_method'))}</strong>: "
            f"{fmt(selection.get('reason'))}.</p>"
            + table(["Component", "Method", "Source rows", "Labelled target rows"], rows))
    if selection.get("evidence"):
        text += "<h3>Evidence of auto</h3>" + render_data(selection["evidence"])
    return section("arms", "Arms and method", text)


def effect_section(manifest: dict) -> str:
    """The mean effect over the held-out target rows with its interval."""
    mean = (manifest.get("metrics") or {}).get("mean_effect") or {}
    how = (f"from {fmt(mean.get('n_refits'))} {fmt(mean.get('interval'))}" if "low" in mean
           else "none: the arms were not refitted (--n-refits 0)")
    return section("effect", "Mean effect", (
        f"<p>Mean effect of {fmt(manifest['effect'].get('treatment'))} = 1 vs 0 on "
        f"{fmt(mean.get('n'))} held-out target rows: {interval(mean)}.</p>"
        f"<p class=note>Treated minus control, in the outcome's units; the 95% interval "
        f"{how}.</p>"))


def factual_section(metrics: dict, task: str | None) -> str:
    """Scores of the outcome predicted under the arm each held-out row had."""
    factual = metrics.get("factual")
    if not factual:
        return ""
    labels = REGRESSION_LABELS if task == "regression" else LABELS
    names = [m for m in labels if m in factual]
    threshold = metrics.get("factual_threshold")
    rule = ("" if not threshold else
            f"<p class=note>Event predicted where the risk is above "
            f"{fmt(threshold.get('value'))}: {fmt(threshold.get('rule'))}.</p>")
    return section("factual", "Factual outcome", (
        "<div class=scroll>" + table([labels[m] for m in names],
                                     [[interval(factual[m]) for m in names]], "metrics")
        + "</div><p class=note>The outcome predicted under the arm each held-out row had, "
        "against the outcome observed; a patient's effect itself is never observed.</p>"
        + rule))


def calibration_section(metrics: dict) -> str:
    """Observed against predicted effect in quantile bins of the predicted effect."""
    calibration = metrics.get("calibration_by_quantile")
    if not calibration:
        return ""
    rows = [[fmt(i + 1), f"{fmt(b.get('low'))} to {fmt(b.get('high'))}", fmt(b.get("n")),
             fmt(b.get("n_treated")), fmt(b.get("predicted")), interval(b.get("observed"))]
            for i, b in enumerate(calibration.get("bins") or [])]
    return section("calibration", "Calibration of effects by quantile", (
        table(["Bin", "Predicted effects", "Rows", "Treated", "Mean predicted",
               "Observed (95% CI)"], rows, "metrics")
        + f"<p class=note>The held-out rows with treatment and outcome recorded, binned by "
        f"their predicted effect; observed: {fmt(calibration.get('estimator'))}, with 95% "
        f"patient-grouped bootstrap intervals. {fmt(calibration.get('n_covered'))} of "
        f"{fmt(len(rows))} intervals hold their bin's mean predicted effect.</p>"))


def policy_section(metrics: dict, effect: dict) -> str:
    """The value of treating as recommended against treat-all and treat-none."""
    policy = metrics.get("policy_value")
    if policy is None:
        body = ("<p class=note>Not estimated: the run does not know which way the outcome is "
                "better. Fit with <code>--better higher|lower</code>, or run "
                "<code>medtransfer evaluate RUN TEST --better higher|lower</code>.</p>")
    elif "not_estimated" in policy:
        body = f"<p class=note>Not estimated: {fmt(policy['not_estimated'])}.</p>"
    else:
        body = policy_table(policy)
    return section("policy", "Policy value", body)


def policy_table(policy: dict) -> str:
    """IPW and DR values of each policy and the paired differences, with their notes."""
    rows = [[fmt(POLICY_ROWS.get(key, key)), interval(per.get("ipw")), interval(per.get("dr"))]
            for key, per in {**policy["values"], **policy["differences"]}.items()]
    propensity = policy.get("propensity") or {}
    trimmed = (f" {fmt(policy.get('n_clipped'))} propensities outside [0.05, 0.95] were "
               "trimmed to the bound (poor overlap)." if policy.get("n_clipped") else "")
    return (table(["Policy", "IPW", "Doubly robust"], rows, "metrics")
            + f"<p class=note>Mean outcome ({fmt(policy.get('better'))} is better) if the "
            f"{fmt(policy.get('n'))} held-out rows with treatment and outcome recorded were "
            f"treated by each policy, with 95% patient-grouped bootstrap intervals; the "
            f"differences are paired. Policy: {fmt(policy.get('policy'))}; it treats "
            f"{fmt(100 * policy.get('share_treated', float('nan')), 0)}% of the rows. "
            f"Propensity: {fmt(propensity.get('kind'))} (mean {fmt(propensity.get('mean'))}, "
            f"from {fmt(propensity.get('min'))} to {fmt(propensity.get('max'))}).{trimmed}</p>")

