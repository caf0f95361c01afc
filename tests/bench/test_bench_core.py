import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from medtransfer.bench.core import Unit, run_suite
from medtransfer.bench.heart import HeartSuite
from medtransfer.bench.tables import markdown, mean_interval
from medtransfer.models.classifiers import make_classifier
from medtransfer.params import ParameterError

KEYS = {"suite", "source", "target", "k", "seed", "method", "metric", "value"}


@pytest.fixture(scope="module")
def suite():
    return HeartSuite(sites=("Cleveland", "Hungary"))


def test_split_masks_every_test_label(suite):
    split = suite.split(Unit("Cleveland", "Hungary", 10, 0))
    target = np.flatnonzero(split.sample_domain < 0)
    assert np.all(split.y[split.test] == -1)
    assert np.isin(split.test, target).all()
    labelled = np.setdiff1d(target, split.test)
    assert len(labelled) == 10 and np.all(split.y[labelled] >= 0)
    assert len(split.y_test) == len(split.test)


@pytest.mark.slow
def test_records_are_real_aurocs_and_resume_does_no_work(suite, tmp_path):
    lines = []
    records = run_suite(suite, tmp_path, seeds=1, ks=[10], log=lines.append,
                        only=["source_only", "auto", "skada_coral"])
    assert len(lines) == 2 and {r["method"] for r in records} == {"source_only", "auto",
                                                                   "skada_coral"}
    assert all(set(r) >= KEYS and r["metric"] == "auroc" for r in records)
    assert all(0.5 < r["value"] <= 1 for r in records)  # these sites transfer well
    # source_only is a logistic regression on the (standardised) source rows: recompute it
    split = suite.split(Unit("Cleveland", "Hungary", 10, 0))
    ours = next(r["value"] for r in records if r["method"] == "source_only"
                and r["source"] == "Cleveland")
    source = split.sample_domain > 0
    fitted = make_classifier("logreg", "classification", 0).fit(split.X[source], split.y[source])
    expected = roc_auc_score(split.y_test, fitted.predict_proba(split.X[split.test])[:, 1])
    assert ours == pytest.approx(expected)
    assert json.loads((tmp_path / "heart.json").read_text()) == records
    assert "| source_only |" in (tmp_path / "heart.md").read_text()
    meta = json.loads((tmp_path / "heart.meta.json").read_text())
    assert {"date", "machine", "command", "medtransfer"} <= set(meta)

    again = []
    assert run_suite(suite, tmp_path, seeds=1, ks=[10], log=again.append) == records
    assert again == []  # every unit was read back, none refitted


def test_only_refits_one_competitor_and_keeps_the_others(suite, tmp_path):
    run_suite(suite, tmp_path, seeds=1, ks=[10], only=["source_only", "pooled"], log=print)
    records = run_suite(suite, tmp_path, seeds=1, ks=[10], only=["target_only"], log=print)
    assert sorted({r["method"] for r in records}) == ["pooled", "source_only", "target_only"]


def test_a_unit_locked_by_another_process_is_left_to_it(suite, tmp_path):
    unit = Unit("Cleveland", "Hungary", 10, 0)
    lock = tmp_path / "heart" / "units" / f"{unit.slug}.lock"
    lock.parent.mkdir(parents=True)
    lock.touch()
    lines = []
    assert run_suite(suite, tmp_path, seeds=1, ks=[10], only=["source_only"],
                     log=lines.append) == []
    assert not (tmp_path / "heart" / "units" / f"{unit.slug}.json").exists()
    assert "another process" in lines[-1] and lock.exists()


def test_a_failing_competitor_is_recorded_not_fatal(suite, tmp_path):
    class Broken(HeartSuite):
        def competitors(self, unit, split):
            return {"source_only": super().competitors(unit, split)["source_only"],
                    "broken": LogisticRegression(C=-1.0)}

    records = run_suite(Broken(sites=("Cleveland", "Hungary")), tmp_path, seeds=1, ks=[10],
                        log=print)
    broken = [r for r in records if r["method"] == "broken"]
    assert all(r["value"] is None and "C" in r["error"] for r in broken)
    assert "Failures" in (tmp_path / "heart.md").read_text()


def test_seeds_must_be_positive(suite, tmp_path):
    with pytest.raises(ParameterError, match=r"^run_suite\(seeds=0\): expected an integer >= 1; "
                       r"seeds 0..N-1 per pair and k, e.g. 10$"):
        run_suite(suite, tmp_path, seeds=0)


def test_paired_table_counts_wins_ties_losses():
    def rec(method, seed, value):
        return {"suite": "s", "source": "a", "target": "b", "k": 5, "seed": seed,
                "method": method, "metric": "auroc", "value": value}

    records = [rec("auto", s, v) for s, v in enumerate([0.80, 0.70, 0.60])]
    records += [rec("source_only", s, v) for s, v in enumerate([0.70, 0.702, 0.65])]
    text = markdown(records, ["auroc"], (), ["source_only"])
    # auto - source_only = +0.10 (win), -0.002 (tie within 0.005), -0.05 (loss)
    assert "| source_only | 0.016 [" in text and ", 1/1/1 |" in text
    assert "auto 0.700 vs best baseline source_only 0.684 (+0.016)" in text


def test_mean_interval_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(0).normal(size=50)
    mean, lo, hi = mean_interval(values)
    assert lo < mean < hi and mean_interval(values) == (mean, lo, hi)
