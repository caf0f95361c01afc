"""Plain-language lines summarising a shift report (the dict of ``ShiftReport.to_dict``)."""

from __future__ import annotations

ALPHA = 0.05
STRONG_AUC, MODERATE_AUC = 0.8, 0.65
SIMILAR_PREVALENCE = 0.05


def format_p(p: float, n_permutations: int | None = None, name: str = "p") -> str:
    """``p = 0.034``, ``p < 0.001`` or, at the permutation floor, ``p ≤ 0.005``."""
    if n_permutations and p <= 1.0 / (n_permutations + 1) + 1e-12:
        return f"{name} ≤ {p:.2g} (floor of {n_permutations} permutations)"
    return f"{name} < 0.001" if p < 0.001 else f"{name} = {p:.3f}"


def covariate_line(mmd: dict, clf: dict) -> str:
    """Is there a covariate shift, and how strong (by the domain classifier's AUROC)?"""
    tests = (f"MMD {format_p(mmd['p_value'], mmd['n_permutations'])}; domain classifier "
             f"AUROC {clf['auc']:.2f}, {format_p(clf['p_value'], clf['n_permutations'])}")
    if min(mmd["p_value"], clf["p_value"]) >= ALPHA:
        return f"no detectable covariate shift: {tests}"
    auc = clf["auc"]
    strength = "strong" if auc >= STRONG_AUC else "moderate" if auc >= MODERATE_AUC else "mild"
    return (f"{strength} covariate shift: {tests}; proxy A-distance "
            f"{clf['proxy_a_distance']:.2f}")


def _class(names, k: int) -> str:
    return repr(names[k]) if names and k < len(names) else f"class {k}"


def label_line(label: dict, names) -> str | None:
    """Target vs source class prevalence, observed where target labels exist."""
    if label is None:
        return None
    if "skipped" in label:
        return f"label shift not estimated: {label['skipped']}"
    p_s = label["source_prevalence"]
    observed = label["target_prevalence_observed"]
    p_t = observed or label["target_prevalence_estimate"]
    how = "observed" if observed else "estimated by BBSE without target labels"
    k = 1 if len(p_s) == 2 else max(range(len(p_s)), key=lambda i: abs(p_t[i] - p_s[i]))
    what = "prevalence" if len(p_s) == 2 else f"share of {_class(names, k)}"
    if len(p_s) == 2 and names:
        what = f"prevalence of {_class(names, k)}"
    similar = max(abs(a - b) for a, b in zip(p_s, p_t, strict=True)) < SIMILAR_PREVALENCE
    lead = "similar class balance: " if similar else ""
    return f"{lead}target {what} {p_t[k]:.2f} vs {p_s[k]:.2f} in source ({how})"


def missing_lines(rows: list[dict] | None, limit: int = 3) -> list[str]:
    """One line per flagged column, largest difference first."""
    flagged = [r for r in rows or [] if r["flagged"]][:limit]
    return [f"feature `{r['column']}` missing in {r['missing_target']:.0%} of target vs "
            f"{r['missing_source']:.0%} of source" for r in flagged]


def drift_line(rows: list[dict] | None, limit: int = 3) -> str | None:
    """The most drifted columns with their effect sizes and q-values."""
    if rows is None:
        return None
    top = [r for r in rows if r["q_value"] is not None and r["q_value"] < ALPHA][:limit]
    if not top:
        return "no single feature drifts significantly (Benjamini-Hochberg q ≥ 0.05)"
    parts = [f"`{r['column']}` ({'KS' if r['kind'] == 'numeric' else 'Cramér V'} "
             f"{r['effect']:.2f}, {format_p(r['q_value'], name='q')})" for r in top]
    return "most drifted features: " + ", ".join(parts)


def per_class_line(rows) -> str | None:
    """Classes whose features differ between domains (class-conditional shift)."""
    if not isinstance(rows, list):
        return None
    tested = [r for r in rows if r["q_value"] is not None]
    if not tested:
        return "class-conditional shift not tested: too few samples per class in a domain"
    hits = [r for r in tested if r["q_value"] < ALPHA]
    if not hits:
        return "no class-conditional shift detected within any class"
    return "class-conditional shift within " + ", ".join(
        f"{r['class']!r} ({format_p(r['q_value'], name='q')})" for r in hits)


def attribution_lines(rows: list[dict]) -> list[str]:
    """Columns that identify the domains, and the best single explanatory column."""
    lines = [f"`{r['column']}` ({r['origin']}) differs entirely between the domains"
             for r in rows if r["identifies_domain"]][:2]
    rest = [r for r in rows if not r["identifies_domain"] and r["auc"] is not None]
    if rest and rest[0]["auc"] >= 0.6:
        r = rest[0]
        lines.append(f"`{r['column']}` ({r['origin']}) alone separates the domains best "
                     f"(AUROC {r['auc']:.2f})")
    return lines


def summarise(report: dict) -> list[str]:
    """Plain-language findings of a shift report, most important first."""
    lines = [covariate_line(report["mmd"], report["classifier"])]
    lines.append(label_line(report["label_shift"], report.get("class_names")))
    lines += missing_lines(report["missingness"])
    lines.append(drift_line(report["drift"]))
    lines.append(per_class_line(report["per_class"]))
    lines += attribution_lines(report["attribution"])
    return [line for line in lines if line]
