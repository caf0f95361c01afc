"""Which TRIPOD+AI items (Collins et al., BMJ 2024;385:e078378) a run's report covers."""

from __future__ import annotations

from medtransfer.report.markup import fmt, table
from medtransfer.report.run import RunData

# (item, topic, what in the run covers it, or None when the authors must report it)
ITEMS = (
    ("5", "Data sources: study design, setting, dates", "data"),
    ("6", "Participants: eligibility, where and when", None),
    ("8", "Outcome: definition and how assessed", "outcome"),
    ("9", "Predictors / inputs", "data"),
    ("10", "Sample size, and its justification", "sample_size"),
    ("11", "Missing data: how handled", None),
    ("12a", "Analytical methods: data preparation, model type and tuning", "model"),
    ("12e", "Model updating / recalibration for the new setting", "recalibration"),
    ("12f", "Performance measures: discrimination, calibration, clinical utility", "validation"),
    ("14", "Fairness: performance in subgroups", "subgroups"),
    ("20", "Participants: numbers, outcome events", "data"),
    ("23a", "Performance estimates with confidence intervals", "metrics"),
    ("23b", "Heterogeneity / subgroup results", "subgroups"),
    ("24", "Model updating results", "recalibration"),
    ("26", "Interpretation, limitations", "limitations"),
    ("-", "Data leakage between development and evaluation data", "leakage"),
    ("3c", "Ethics approval, consent", None),
    ("4", "Funding, conflicts of interest", None),
)


def covered(run: RunData, what: str | None) -> bool:
    """Whether the run's records cover one item."""
    m = run.manifest
    study = m.get("validation") if isinstance(m.get("validation"), dict) else {}
    return {
        None: False, "data": True, "outcome": True, "model": True, "limitations": True,
        "metrics": bool(m.get("metrics")),
        "sample_size": bool(study.get("sample_size")),
        "validation": bool(study.get("calibration")),
        "recalibration": any(n.endswith("+recalibrated") for n in run.models),
        "subgroups": any(not mp.subgroups.empty for mp in run.models.values()),
        "leakage": isinstance(m.get("leakage"), dict),
    }[what]


def tripod_checklist(run: RunData) -> str:
    """The TRIPOD+AI items, each marked covered by this report or for the authors to add."""
    rows = [[fmt(item), fmt(topic), "covered in this report" if covered(run, what)
             else "<em class=todo>to be reported by the authors</em>"]
            for item, topic, what in ITEMS]
    done = sum(covered(run, what) for _, _, what in ITEMS)
    return (f"<h3>TRIPOD+AI checklist ({done} of {len(ITEMS)} items covered)</h3>"
            + table(["Item", "Topic", "Status"], rows))
