"""Write a run's self-contained HTML report (inline CSS, figures as base64 PNG)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from string import Template

from medtransfer.artifacts import check_writable, read_manifest, write_bytes
from medtransfer.report import sections
from medtransfer.report.effect import effect_html
from medtransfer.report.markup import fmt, table_of_contents
from medtransfer.report.model_card import model_card_section
from medtransfer.report.run import RunData, load_run
from medtransfer.report.validation import (
    calibration_study_section,
    leakage_section,
    plan_section,
    sample_size_section,
    utility_section,
)

REPORT = "report.html"


def build_html(run: RunData) -> str:
    """The whole report as one HTML string."""
    perf = sections.performance(run)
    if run.is_regression:
        task_parts = [sections.prediction_section(run, perf), sections.error_section(run, perf)]
    else:
        task_parts = [sections.roc_section(run), sections.calibration_section(run),
                      calibration_study_section(run), utility_section(run),
                      sample_size_section(run),
                      sections.confusion_section(run), sections.subgroup_section(run)]
    parts = [
        leakage_section(run), plan_section(run),
        sections.data_section(run), sections.shift_section(run),
        sections.selection_section(run), sections.metrics_section(run, perf),
        *task_parts, sections.embedding_section(run),
        sections.explain_section(run), model_card_section(run, perf),
    ]
    body = "\n".join(p for p in parts if p)
    m = run.manifest
    src, tgt = (m.get("source") or {}), (m.get("target") or {})
    facts = {"Method": run.chosen, **({"Selected": run.selected} if run.selected != run.chosen
                                      else {}),
             "Estimator" if run.is_regression else "Classifier": m.get("classifier"),
             "Seed": m.get("seed"), "Created": m.get("created"),
             "medtransfer": m.get("medtransfer_version")}
    outcome = ("a continuous outcome" if run.is_regression
               else ", ".join(fmt(c) for c in run.class_names))
    template = Template(files("medtransfer.report").joinpath("templates/report.html").read_text())
    return template.substitute(
        title="Transfer report: " + fmt(src.get("name")) + " &rarr; " + fmt(tgt.get("name")),
        subtitle=f"{fmt(run.task).capitalize()} of {outcome}",
        facts="".join(f"<div><dt>{k}</dt><dd>{fmt(v)}</dd></div>" for k, v in facts.items()),
        toc=table_of_contents(body), body=body, version=fmt(m.get("medtransfer_version")),
    )


def write_report(run_dir: Path, *, force: bool = False) -> Path:
    """Write ``run_dir/report.html``, one self-contained file, atomically.

    Parameters
    ----------
    run_dir : Path
        A run directory holding ``manifest.json`` and ``predictions.csv``; optional
        ``shift.json``, ``embedding.npz`` and ``explain/*.png`` are shown when present. A
        treatment-effect run gets :func:`~medtransfer.report.effect.effect_html`'s report.
    force : bool, default False
        Replace an existing ``report.html``.

    Returns
    -------
    Path
        The report's path.
    """
    path = Path(run_dir)
    if "effect" in read_manifest(path, verify=False):  # a treatment-effect run: its own report
        manifest = read_manifest(path, verify=True)
        check_writable(path / REPORT, force)
        text = effect_html(manifest)
    else:
        run = load_run(path)
        check_writable(run.path / REPORT, force)
        text = build_html(run)
    write_bytes(path / REPORT, text.encode("utf-8"))
    return path / REPORT
