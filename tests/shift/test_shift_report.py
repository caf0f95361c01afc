"""measure_shift end to end on the real heart-disease sites, and its summary lines."""

import json

import numpy as np
import pandas as pd
import pytest

from medtransfer.data.domain import Domain
from medtransfer.datasets.heart import heart_disease
from medtransfer.errors import DataError
from medtransfer.shift.report import measure_shift
from medtransfer.shift.summary import format_p

NUMERIC = ["age", "trestbps", "chol", "thalch", "oldpeak", "ca"]


def encode(source: Domain, target: Domain) -> tuple[np.ndarray, np.ndarray]:
    """Numeric columns, median-imputed and standardised with source statistics."""
    s, t = source.inputs[NUMERIC].astype(float), target.inputs[NUMERIC].astype(float)
    median = s.median()
    s, t = s.fillna(median), t.fillna(median)
    mean, std = s.mean(), s.std()
    return ((s - mean) / std).to_numpy(), ((t - mean) / std).to_numpy()


@pytest.fixture(scope="module")
def cleveland_vs_switzerland():
    source, target = heart_disease("Cleveland"), heart_disease("Switzerland")
    return measure_shift(source, target, *encode(source, target), n_permutations=40)


@pytest.mark.slow
def test_heart_sites_show_a_significant_shift_of_every_kind(cleveland_vs_switzerland):
    report = cleveland_vs_switzerland.to_dict()
    assert report["mmd"]["p_value"] < 0.05 and report["classifier"]["auc"] > 0.9
    assert report["label_shift"]["target_prevalence_observed"][1] == pytest.approx(0.93, abs=0.01)
    assert report["label_shift"]["source_prevalence"][1] == pytest.approx(0.46, abs=0.01)
    ca = next(r for r in report["missingness"] if r["column"] == "ca")
    assert ca["flagged"]
    assert report["drift"][0]["q_value"] < 0.001
    assert report["attribution"][0]["column"] == "site"
    assert {r["class"] for r in report["per_class"]} == {"no disease", "disease"}
    json.dumps(report, allow_nan=False)


def test_summary_says_it_in_words(cleveland_vs_switzerland):
    lines = cleveland_vs_switzerland.summary()
    assert lines[0].startswith("strong covariate shift")
    assert "target prevalence of 'disease' 0.93 vs 0.46 in source (observed)" in lines
    assert "feature `ca` missing in 96% of target vs 2% of source" in lines
    assert any(line.startswith("most drifted features: `chol`") for line in lines)


def test_write_puts_json_and_figures_in_place(cleveland_vs_switzerland, tmp_path):
    written = cleveland_vs_switzerland.write(tmp_path / "out", tsne=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "embedding_pca.png", "shift.json"]
    assert [p.name for p in written] == ["shift.json", "embedding_pca.png"]
    saved = json.loads((tmp_path / "out" / "shift.json").read_text())
    assert saved["summary"] == cleveland_vs_switzerland.summary()


def test_unlabelled_feature_domains_need_no_table():
    rng = np.random.default_rng(0)
    make = lambda n, name: Domain(name, "image", rng.normal(size=(n, 4)),  # noqa: E731
                                  np.arange(n).astype(str))
    source, target = make(30, "a"), make(25, "b")
    report = measure_shift(source, target, source.inputs, target.inputs, n_permutations=30)
    d = report.to_dict()
    assert d["drift"] is None and d["label_shift"] is None and d["per_class"] is None
    assert report.summary()[0].startswith("no detectable covariate shift")


def test_feature_rows_must_match_the_domain():
    source = heart_disease("Switzerland")
    X = np.zeros((10, 3))
    with pytest.raises(DataError, match=r"source domain 'Switzerland' has 123 samples but 10"):
        measure_shift(source, source, X, X)


def test_label_shift_skipped_when_a_source_class_is_too_rare():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(29, int), 1]
    source = Domain("s", "table", pd.DataFrame({"x": rng.normal(size=30)}),
                    np.arange(30).astype(str), labels, ("no", "yes"))
    target = Domain("t", "table", pd.DataFrame({"x": rng.normal(size=30)}),
                    np.arange(30).astype(str))
    report = measure_shift(source, target, source.inputs.to_numpy(), target.inputs.to_numpy(),
                           n_permutations=20)
    assert "needs at least 2" in report.label_shift["skipped"]
    assert any(line.startswith("label shift not estimated") for line in report.summary())


def test_format_p():
    assert format_p(0.0342) == "p = 0.034"
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(1 / 201, 200) == "p ≤ 0.005 (floor of 200 permutations)"
