"""Report sections of an external-validation study: the leakage check first."""

from __future__ import annotations

from medtransfer.report.markup import fmt, section, table
from medtransfer.report.run import RunData

LEAKAGE_KINDS = {
    "exact": "Exact (same pixels / row)",
    "perceptual": "Perceptual hash",
    "feature": "Feature-space neighbour",
    "patient": "Same patient id",
}


def leakage_section(run: RunData) -> str:
    """Duplicates between source, labelled target and held-out target, as the run found them."""
    record = run.manifest.get("leakage")
    if not isinstance(record, dict):
        return section("leakage", "Leakage check", "<p class=note>This run was written "
                       "without a leakage check; refit it to check the held-out target for "
                       "copies of source or labelled target cases.</p>")
    pairs = [p for p in record.get("pairs") or [] if isinstance(p, dict)]
    kinds = [k for k in LEAKAGE_KINDS if any(k in p for p in pairs)]
    rows = [[fmt("within " + str(p.get("and"))) if p.get("between") == p.get("and")
             else f"{fmt(p.get('and'))} vs {fmt(p.get('between'))}",
             *[fmt(p.get(k)) if k in p else "—" for k in kinds], fmt(p.get("cases"))]
            for p in pairs]
    flagged = int(record.get("n_flagged") or 0)
    n_heldout = (record.get("roles") or {}).get("held-out target")
    if flagged:
        verdict = (f"<p class=alert><strong>Leakage: {fmt(flagged)} of {fmt(n_heldout)} "
                   "held-out target cases duplicate source, labelled target or other "
                   "held-out cases.</strong> "
                   + (f"{fmt(int(record.get('dropped') or 0))} were dropped before scoring "
                      "(--dedupe drop)." if record.get("dedupe") == "drop" else
                      "They were scored (--dedupe keep), so the held-out figures below are "
                      "optimistic; refit with --dedupe drop.") + "</p>")
    else:
        verdict = ("<p><strong>No held-out target case duplicates a source or labelled target "
                   "case, or another held-out case.</strong></p>")
    limits = record.get("thresholds") or {}
    note = ("<p class=note>Exact: same decoded pixels (sha256) or the same table row. "
            f"Perceptual: 256-bit DCT hash within {fmt(limits.get('perceptual_max_bits'))} "
            "bits (survives resizing and JPEG re-encoding). Feature-space: nearest neighbour "
            f"closer than {fmt(limits.get('feature_ratio'))} &times; the median "
            "nearest-neighbour distance among source cases (standardised features). Patient: "
            "the same patient id in both sets, when ids are recorded.</p>")
    return section("leakage", "Leakage check", verdict + table(
        ["Comparison", *[LEAKAGE_KINDS[k] for k in kinds], "Cases flagged"], rows) + note)
