"""The HTML report of a real regression run: warfarin dose, IWPC sites 1-2 -> site 3."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medtransfer import artifacts
from medtransfer.datasets import warfarin
from medtransfer.errors import ArtifactError
from medtransfer.evaluate.dosing import dosing_metrics
from medtransfer.models import IWPCPharmacogenetic
from medtransfer.report.html import write_report
from medtransfer.runs.fit import fit_run
from medtransfer.runs.pipeline import TransferPipeline

PATIENT_ID = re.compile(r"PA\d{6,}")  # PharmGKB subject ids of the IWPC data


def metric_row(text: str, model: str) -> str:
    """The cells of ``model``'s row in the metrics table."""
    metrics = text[text.index("<section id='metrics'>"):]
    return re.search(rf"<tr><td>{re.escape(model)}( <span class=badge>\w+</span>)?</td>(.*?)</tr>",
                     metrics).group(2)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("warfarin") / "run"
    pipeline = TransferPipeline(method="auto", method_params={"candidates": ["transfer_ridge"]},
                                classifier="logreg", task="regression", target_transform="sqrt")
    fit_run(pipeline, warfarin(site=[1, 2]), warfarin(site=[3]), run,
            target_labels=20, n_resamples=50)
    write_report(run)
    return run


@pytest.fixture(scope="module")
def with_reference(run_dir: Path, tmp_path_factory) -> Path:
    """The run plus a published dosing formula's predictions, some NaN (missing inputs), and
    no stored metrics for it: the report must score it itself."""
    run = tmp_path_factory.mktemp("warfarin_ref") / "run"
    shutil.copytree(run_dir, run)
    table = pd.read_csv(run / "predictions.csv", keep_default_na=False, dtype=str)
    block = table[table["model"] == "auto"].copy()
    target = warfarin(site=[3])
    dose = pd.Series(IWPCPharmacogenetic().predict(target.inputs), index=target.ids.astype(str))
    block["model"] = "iwpc_pharmacogenetic"
    block["prediction"] = dose.loc[block["id"]].to_numpy()
    pd.concat([table, block]).to_csv(run / "predictions.csv", index=False)
    manifest = json.loads((run / "manifest.json").read_text())
    artifacts.write_manifest(run, {**manifest, "files": {}})
    write_report(run, force=True)
    return run


@pytest.mark.slow
def test_regression_report_has_its_sections(run_dir: Path) -> None:
    text = (run_dir / "report.html").read_text()
    for anchor in ("data", "selection", "metrics", "scatter", "errors", "embedding", "card"):
        assert f"<section id='{anchor}'>" in text, anchor
    for anchor in ("roc", "calibration", "confusion"):  # classification only
        assert f"<section id='{anchor}'>" not in text, anchor
    choice = json.loads((run_dir / "manifest.json").read_text())["selection"]["choice"]
    decided = ([f"{choice} beat the best baseline"] if choice == "transfer_ridge" else
               ["no candidate beat the best baseline",
                "No adaptation method was credibly better than a baseline"])
    for phrase in ("Regression of a continuous outcome", "Outcome distribution",
                   "Target, held-out test cases", f"(it selected <strong>{choice}</strong>)",
                   "Paired comparison", "<th>MAE</th>", "<th>PW20</th>", "<th>R²</th>",
                   "Predicted against true", "Bland-Altman", "Intended use",
                   "Estimate a continuous outcome", *decided):
        assert phrase in text, phrase
    words = re.sub(r"base64,[A-Za-z0-9+/=]+", "", text)
    assert "AUROC" not in words and "ECE" not in words and "classifier" not in words
    assert len(re.findall(r"src='data:image/png;base64,", text)) == 3  # + the embedding
    # per-case selection records are summarised, not listed
    assert re.search(r"<th>oof</th><td>20 records</td>", text)


def test_regression_report_shows_the_runs_numbers(run_dir: Path) -> None:
    text = (run_dir / "report.html").read_text()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for model in ("auto", "source_only", "target_only", "pooled"):
        row = metric_row(text, model)
        assert row.count("class=ci") == 3, model
        for metric in ("mae", "pw20", "r2"):
            ci = manifest["metrics"][model][metric]
            assert f"{ci['value']:.3f} <span class=ci>({ci['low']:.3f}, {ci['high']:.3f})" in row
        card = re.search(r"<td>Performance \(95% CI\)</td><td>(.*?)</td></tr>", text).group(1)
        assert f"{model}: MAE {manifest['metrics'][model]['mae']['value']:.3f}" in card
    table = pd.read_csv(run_dir / "predictions.csv")
    dose = table.loc[table["model"] == "auto", "label"].to_numpy()
    q1, median, q3 = np.percentile(dose, [25, 50, 75])
    assert (f"mean {dose.mean():.1f}, median {median:.1f}, IQR {q1:.1f} to {q3:.1f}"
            in text)
    assert f"Performance is measured on {len(dose):,} held-out labelled target cases" in text


@pytest.mark.slow
def test_missing_metrics_are_computed_for_a_reference(with_reference: Path) -> None:
    text = (with_reference / "report.html").read_text()
    table = pd.read_csv(with_reference / "predictions.csv")
    block = table[table["model"] == "iwpc_pharmacogenetic"].dropna(subset=["prediction"])
    assert 0 < len(block) < (table["model"] == "auto").sum()  # some doses could not be computed
    expected = dosing_metrics(block["label"], block["prediction"], n_bootstrap=500,
                              random_state=0).set_index("metric")
    row = metric_row(text, "iwpc_pharmacogenetic")
    for metric in ("mae", "pw20", "r2"):
        r = expected.loc[metric]
        assert f"{r['value']:.3f} <span class=ci>({r['ci_low']:.3f}, {r['ci_high']:.3f})" in row
    assert "<td>iwpc_pharmacogenetic <span class=badge>reference</span></td>" in text
    assert "<td>iwpc_pharmacogenetic</td><td>MAE</td>" in text  # paired, on common cases


def test_no_patient_identifier_and_nothing_external(run_dir: Path, with_reference: Path) -> None:
    for run in (run_dir, with_reference):
        text = (run / "report.html").read_text()
        assert PATIENT_ID.search(text) is None  # neither test ids nor labelled ids
        assert "://" not in text
        assert re.search(r"(src|href)=['\"]?(https?:)?//", text) is None
        assert not list(run.glob(".report.html.*"))


@pytest.mark.slow
def test_regression_report_is_reproducible(run_dir: Path) -> None:
    first = (run_dir / "report.html").read_text()
    assert write_report(run_dir, force=True).read_text() == first


def test_broken_regression_runs_are_named(run_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    manifest = {**json.loads((run / "manifest.json").read_text()), "files": {}}
    artifacts.write_manifest(run, {**manifest, "task": "survival"})
    with pytest.raises(ArtifactError, match=r"'task' is 'survival'; expected one of"):
        write_report(run)
    artifacts.write_manifest(run, manifest)
    table = pd.read_csv(run / "predictions.csv", dtype=str, keep_default_na=False)
    table.loc[0, "prediction"] = "high"
    table.to_csv(run / "predictions.csv", index=False)
    artifacts.write_manifest(run, manifest)
    with pytest.raises(ArtifactError, match=r"'prediction' holds \['high'\], not numbers"):
        write_report(run)


def test_chromium_renders_the_regression_report(run_dir: Path, tmp_path: Path,
                                                chromium) -> None:
    pixels, dom, log = chromium.render(run_dir / "report.html", tmp_path / "shot")
    assert pixels.shape == (4000, 1280, 3)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500
    assert np.abs(pixels[20, 640].astype(int) - (0x1F, 0x5F, 0x8B)).max() < 10  # header drawn
    assert "Predicted against true" in dom and "Model card" in dom
    assert chromium.page_problems(log) == []
