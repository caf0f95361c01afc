"""Per-subgroup breakdown: a real run (Cleveland -> Hungary, pooled logreg) writes subgroup
columns to predictions.csv and its report shows the chosen model per sex and age band."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medtransfer import artifacts
from medtransfer.datasets import heart_disease
from medtransfer.evaluate import age_bands, subgroup_metrics
from medtransfer.report.html import write_report
from medtransfer.report.run import load_run
from medtransfer.report.sections import SUBGROUP_MIN_SIZE, SUBGROUP_RESAMPLES
from medtransfer.runs.fit import fit_run
from medtransfer.runs.frames import subgroup_columns
from medtransfer.runs.pipeline import TransferPipeline

BANDS = {"<40", "40-49", "50-59", "60-69", ">=70"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("subgroups") / "run"
    fit_run(TransferPipeline(method="pooled", classifier="logreg"),
            heart_disease("Cleveland"), heart_disease("Hungary"), out,
            target_labels=20, n_resamples=50)
    write_report(out)
    return out


def section_html(text: str) -> str:
    found = re.search(r"<section id='subgroups'>.*?</section>", text, re.DOTALL)
    assert found, "no Subgroups section"
    return found.group(0)


def first_cells(html: str) -> list[str]:
    return re.findall(r"<tr><td>(.*?)</td>", html)


@pytest.mark.slow
def test_predictions_carry_subgroup_columns(run_dir: Path) -> None:
    table = pd.read_csv(run_dir / "predictions.csv", dtype=str, keep_default_na=False)
    assert {"subgroup_site", "subgroup_sex", "subgroup_age"} <= set(table.columns)
    assert not [c for c in table.columns if c.startswith("subgroup_") and "id" in c]
    assert set(table["subgroup_site"]) == {"Hungary"}
    assert set(table["subgroup_sex"]) == {"Male", "Female"}
    assert set(table["subgroup_age"]) - {""} <= BANDS and len(set(table["subgroup_age"])) > 2
    # every model block carries the same subgroup of the same case
    target = heart_disease("Hungary")
    truth = pd.DataFrame({"sex": target.inputs["sex"].to_numpy(),
                          "age": age_bands(target.inputs["age"]).fillna("").to_numpy()},
                         index=target.ids.astype(str))
    for _, block in table.groupby("model"):
        assert block["subgroup_sex"].tolist() == truth.loc[block["id"], "sex"].tolist()
        assert block["subgroup_age"].tolist() == truth.loc[block["id"], "age"].tolist()


def test_subgroup_columns_skip_what_is_absent() -> None:
    domain = heart_disease("Hungary")
    renamed = domain.inputs.rename(columns={"sex": "SEX"}).drop(columns="age")
    columns = subgroup_columns(type(domain)(
        domain.name, "table", inputs=renamed, ids=domain.ids, labels=domain.labels,
        class_names=domain.class_names))
    assert list(columns.columns) == ["subgroup_sex"] and len(columns) == len(domain)


def test_report_shows_subgroups_of_the_chosen_model(run_dir: Path) -> None:
    text = (run_dir / "report.html").read_text()
    html = section_html(text)
    assert "<a href='#subgroups'>Subgroups</a>" in text
    assert "<h3>Sex</h3>" in html and "<h3>Age band</h3>" in html and "<h3>Site</h3>" in html
    cells = first_cells(html)
    assert {"Male", "Female", "Hungary"} <= set(cells)
    assert set(cells) <= {"Male", "Female", "Hungary", "&lt;40", "40-49", "50-59", "60-69",
                          "&gt;=70"}
    # numbers match subgroup_metrics on the chosen model's held-out labelled cases
    run = load_run(run_dir)
    model = run.models[run.chosen]
    mask = model.labelled
    expected = subgroup_metrics(
        model.y[mask], model.proba[mask], class_names=run.class_names,
        subgroups=model.subgroups[mask].reset_index(drop=True),
        n_resamples=SUBGROUP_RESAMPLES, random_state=int(run.manifest["seed"] or 0),
        min_size=SUBGROUP_MIN_SIZE).set_index(["attribute", "subgroup", "metric"])
    for sex in ("Male", "Female"):
        n = int((model.subgroups["sex"][mask] == sex).sum())
        row = re.search(rf"<tr><td>{sex}</td><td>(.*?)</td><td>(.*?)</td>", html)
        assert row and row.group(1).startswith(f"{n:,}")
        if n >= SUBGROUP_MIN_SIZE:
            auroc = expected.loc[("sex", sex, "auroc")]
            assert row.group(2).startswith(f"{auroc['value']:.3f} <span class=ci>(")
    # no patient ids anywhere in the section
    ids = set(model.ids)
    assert not ids & set(cells)
    assert not [i for i in ids if f"<td>{i}</td>" in html or f">{i}<" in html]


def test_small_groups_are_marked(run_dir: Path) -> None:
    html = section_html((run_dir / "report.html").read_text())
    run = load_run(run_dir)
    model = run.models[run.chosen]
    counts = {c: model.subgroups[c][model.labelled].value_counts() for c in model.subgroups}
    small = sum(int((n < SUBGROUP_MIN_SIZE).sum()) for n in counts.values())
    assert html.count("not scored</span>") == small
    assert np.all(counts["age"].index.isin(list(BANDS)))


@pytest.mark.slow
def test_a_group_below_min_size_is_listed_by_size_only(run_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    table = pd.read_csv(run / "predictions.csv", dtype=str, keep_default_na=False)
    first = table.groupby("model").head(3).index  # the same three cases in every block
    table.loc[first, "subgroup_sex"] = "Other"
    table.to_csv(run / "predictions.csv", index=False)
    manifest = json.loads((run / "manifest.json").read_text())
    artifacts.write_manifest(run, {**manifest, "files": {}})
    html = section_html(write_report(run, force=True).read_text())
    row = re.search(r"<tr><td>Other</td>(.*?)</tr>", html)
    assert row and row.group(1).startswith("<td>3 <span class=badge>fewer than")
    assert row.group(1).count("<td>—</td>") == 3
