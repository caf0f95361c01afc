"""The tuned baselines of every suite: the same source-CV tuning of C that auto gives itself."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from tests.cli_output import one_clean_line
from typer.testing import CliRunner

from medtransfer.bench.competitors import SourceTuned, medtransfer_methods
from medtransfer.bench.core import Unit, run_suite
from medtransfer.bench.heart import HeartSuite
from medtransfer.bench.tables import markdown
from medtransfer.cli import app
from medtransfer.models.classifiers import make_classifier
from medtransfer.select.predictor import C_GRID


@pytest.fixture(scope="module")
def split():
    return HeartSuite(sites=("Cleveland", "Hungary")).split(Unit("Cleveland", "Hungary", 10, 0))


def test_source_only_tuned_is_logreg_at_the_c_the_source_cv_chose(split):
    tuned = SourceTuned("source_only", make_classifier("logreg", "classification", 0),
                        random_state=0).fit(split.X, split.y, sample_domain=split.sample_domain)
    scores = {s["value"]: s["mean"] for s in tuned.tuning_["scores"]}
    chosen = tuned.tuning_["value"]
    assert set(scores) == {1.0, *C_GRID} and scores[chosen] == max(scores.values())
    source = split.sample_domain > 0
    plain = make_classifier("logreg", "classification", 0).set_params(logisticregression__C=chosen)
    plain.fit(split.X[source], split.y[source])
    np.testing.assert_allclose(tuned.predict_proba(split.X[split.test]),
                               plain.predict_proba(split.X[split.test]), atol=1e-10)


def test_every_suite_gets_both_tuned_rows(tmp_path):
    assert {"source_only_tuned", "pooled_tuned"} <= set(medtransfer_methods("regression", 0, 0))
    suite = HeartSuite(sites=("Cleveland", "Hungary"))
    records = run_suite(suite, tmp_path, seeds=1, ks=[10], log=lambda line: None,
                        only=["pooled_tuned"])
    values = {(r["source"], r["method"]): r["value"] for r in records}
    split = suite.split(Unit("Hungary", "Cleveland", 10, 0))
    fitted = SourceTuned("pooled", random_state=0).fit(split.X, split.y,
                                                       sample_domain=split.sample_domain)
    expected = roc_auc_score(split.y_test, fitted.predict_proba(split.X[split.test])[:, 1])
    assert values[("Hungary", "pooled_tuned")] == pytest.approx(expected)
    assert "| pooled_tuned |" in (tmp_path / "heart.md").read_text()


def test_summary_flags_pairs_below_the_tuned_source_only():
    def rec(method, seed, value):
        return {"suite": "s", "source": "a", "target": "b", "k": 5, "seed": seed,
                "method": method, "metric": "auroc", "value": value}

    records = [rec("auto", s, 0.70) for s in range(2)]
    records += [rec("source_only", s, 0.69) for s in range(2)]
    records += [rec("source_only_tuned", s, 0.73) for s in range(2)]
    text = markdown(records, ["auroc"], (), ["source_only", "source_only_tuned"])
    assert "worse than source_only by more than 0.01: 0" in text
    assert "worse than source_only_tuned by more than 0.01: 1" in text
    assert "a -> b k=5: -0.030" in text
    assert "vs best baseline source_only_tuned 0.730" in text


def test_classifier_auto_chooses_the_family_per_unit_and_writes_its_own_files(split):
    suite = HeartSuite(sites=("Cleveland", "Hungary"), classifier="auto")
    assert suite.label == "heart.classifier-auto" and HeartSuite().label == "heart"
    assert suite.settings == {"classifier": "auto"}
    methods = medtransfer_methods("classification", 10, 0, estimator="auto")
    assert methods["auto"].estimator == "auto"
    tuned = methods["source_only_tuned"].fit(split.X, split.y, sample_domain=split.sample_domain)
    means = {f: r["mean"] for f, r in tuned.tuning_["families"].items()}
    assert tuned.tuning_["chosen"] == "logreg" == max(means, key=means.get)


def test_bench_classifier_is_one_line_where_a_suite_cannot_take_it(tmp_path):
    runner = CliRunner()
    line = one_clean_line(runner.invoke(app, ["bench", "--suite", "warfarin", "--classifier",
                                              "auto", "--out", str(tmp_path)]))
    assert "--classifier is taken by the heart suite only" in line
    line = one_clean_line(runner.invoke(app, ["bench", "--suite", "heart", "--classifier",
                                              "svn", "--out", str(tmp_path)]))
    assert "--classifier 'svn': expected auto or one of" in line
