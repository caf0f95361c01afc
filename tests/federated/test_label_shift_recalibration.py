"""Label-shift correction and Platt recalibration from released counts and sums equal the
pooled computations on the heart-disease hospitals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer.adapt.label_shift import LabelShiftCorrector, bbse_prior, em_prior
from medtransfer.datasets import heart_disease
from medtransfer.errors import DataError
from medtransfer.evaluate.calibration import Recalibrator
from medtransfer.federated import encoder_from_schemas, table_schema
from medtransfer.federated.label_shift import (
    confusion_release,
    em_release,
    label_shift_corrector,
    pool_confusion,
    pooled_em_round,
    prediction_release,
    target_prior_from_statistics,
)
from medtransfer.federated.recalibration import fit_platt, platt_recalibrator, platt_release

SITES = ("Cleveland", "Hungary", "VA Long Beach", "Switzerland")


@pytest.fixture(scope="module")
def hospitals():
    """A model trained at Cleveland; every other hospital's rows are held out from it."""
    domains = {s: heart_disease(s) for s in SITES}
    encoder = encoder_from_schemas([table_schema(d.inputs, site=s) for s, d in domains.items()])
    rows = {s: (encoder.transform(d.inputs), d.labels) for s, d in domains.items()}
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
    model.fit(*rows["Cleveland"])
    return model, rows


def _pooled_bbse(model, rows, sources, target):
    X = np.vstack([rows[s][0] for s in sources])
    y = np.concatenate([rows[s][1] for s in sources])
    joint = np.zeros((2, 2))
    np.add.at(joint, (model.predict(X), y), 1.0 / len(y))
    share = np.bincount(model.predict(rows[target][0]), minlength=2) / len(rows[target][1])
    prior = np.bincount(y, minlength=2) / len(y)
    return bbse_prior(joint, share, prior), prior


def test_label_shift_from_counts_equals_the_pooled_computation(hospitals):
    model, rows = hospitals
    sources, target = ["Hungary", "VA Long Beach"], "Switzerland"
    releases = [confusion_release(rows[s][1], model.predict(rows[s][0]), 2, site=s)
                for s in sources]
    proba_t = model.predict_proba(rows[target][0])

    def em_round(ratio):
        return pooled_em_round([em_release(proba_t, ratio.tolist(), site=target)])

    stats = target_prior_from_statistics(
        releases, [prediction_release(proba_t, site=target)], em_round)
    assert stats["columns"] == [sources, sources] and stats["left_out"] == {}
    bbse, source_prior = _pooled_bbse(model, rows, sources, target)
    em = em_prior(proba_t, source_prior)
    diffs = {"bbse": np.abs(stats["estimates"]["bbse"] - bbse).max(),
             "em": np.abs(stats["estimates"]["em"] - em).max(),
             "source_prior": np.abs(stats["source_prior"] - source_prior).max()}
    print("label shift max abs difference, statistics vs pooled:", diffs)
    assert max(diffs.values()) < 1e-12
    # Switzerland is 93% disease, the sources about half: the estimate moves towards it
    assert stats["estimates"]["bbse"][1] > source_prior[1] + 0.1
    corrector = label_shift_corrector(model, stats, method="em")
    assert isinstance(corrector, LabelShiftCorrector)
    adjusted = proba_t * (em / source_prior)
    adjusted /= adjusted.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(corrector.predict_proba(rows[target][0]), adjusted, atol=1e-7)
    assert (corrector.predict(rows[target][0]) == 1).mean() > (proba_t[:, 1] > 0.5).mean()


def test_small_confusion_cells_are_withheld_and_each_class_pooled_where_released(hospitals):
    model, rows = hospitals
    # Switzerland has 8 patients without disease: both class counts are withheld (the other
    # would give the small one away), so every cell is
    swiss = confusion_release(rows["Switzerland"][1], model.predict(rows["Switzerland"][0]), 2,
                              site="Switzerland")
    assert swiss["class_counts"] == [None, None]
    assert all(c is None for row in swiss["confusion"] for c in row)
    hungary = confusion_release(rows["Hungary"][1], model.predict(rows["Hungary"][0]), 2,
                                site="Hungary")
    pooled = pool_confusion([hungary, swiss])
    assert pooled.columns == [["Hungary"], ["Hungary"]]
    assert list(pooled.left_out) == ["Switzerland"]
    with pytest.raises(DataError, match=r"no source site \(\['Switzerland'\]\) released the "
                       r"confusion counts of true class 0 .*\(--holdout\)"):
        pool_confusion([swiss])
    # a site whose disease column has a small cell still gives its no-disease column
    y = np.r_[np.zeros(40, int), np.ones(30, int)]
    predicted = np.r_[np.zeros(25, int), np.ones(15, int), np.zeros(4, int), np.ones(26, int)]
    partial = confusion_release(y, predicted, 2, site="partial")
    assert partial["confusion"] == [[25, None], [15, None]]
    pooled = pool_confusion([hungary, partial])
    assert pooled.columns == [["Hungary", "partial"], ["Hungary"]]
    y_h, p_h = rows["Hungary"][1], model.predict(rows["Hungary"][0])
    no_disease = np.r_[p_h[y_h == 0], predicted[y == 0]]
    np.testing.assert_allclose(pooled.conditional[:, 0], np.bincount(no_disease) / no_disease.size)
    np.testing.assert_allclose(pooled.conditional[:, 1],
                               np.bincount(p_h[y_h == 1]) / (y_h == 1).sum())
    few = prediction_release(np.array([[0.9, 0.1]] * 5 + [[0.2, 0.8]] * 30), site="t")
    assert few["predicted_counts"] == [None, None]
    with pytest.raises(DataError, match=r"target site\(s\) \['t'\] withheld a predicted-class"):
        target_prior_from_statistics([hungary], [few])


def test_platt_by_federated_newton_equals_the_pooled_logistic_fit(hospitals):
    model, rows = hospitals
    sites = ["Hungary", "VA Long Beach", "Switzerland"]
    logits = {s: model.decision_function(rows[s][0]) for s in sites}

    def ask(params):
        return [platt_release(logits[s], rows[s][1], params, site=s) for s in sites]

    fit = fit_platt(ask)
    # Switzerland's 8 patients without disease: it withholds its sums
    assert fit["sites"] == sites[:2] and fit["left_out"] == ["Switzerland"]
    s = np.concatenate([logits[x] for x in sites[:2]])
    y = np.concatenate([rows[x][1] for x in sites[:2]])
    pooled = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(s[:, None], y)
    diff = max(abs(fit["a"] - pooled.coef_[0, 0]), abs(fit["b"] - pooled.intercept_[0]))
    print(f"Platt max abs difference, Newton on sums vs pooled LogisticRegression: {diff:.2e} "
          f"(a={fit['a']:.4f}, b={fit['b']:.4f}, {fit['rounds']} rounds)")
    assert diff < 1e-6 and fit["rounds"] < 15
    recalibrator = platt_recalibrator(fit["a"], fit["b"])
    assert isinstance(recalibrator, Recalibrator)
    proba = model.predict_proba(rows["Hungary"][0])
    np.testing.assert_allclose(recalibrator.transform(proba)[:, 1],
                               expit(fit["a"] * logits["Hungary"] + fit["b"]), atol=1e-9)


def test_platt_refuses_what_it_cannot_fit():
    y = np.r_[np.zeros(20), np.ones(20)]
    with pytest.raises(DataError, match="the score separates the classes perfectly or is the "
                       "same for every case; there is nothing to recalibrate"):
        fit_platt(lambda p: [platt_release(np.r_[-np.ones(20), np.ones(20)], y, p, site="a")])
    with pytest.raises(DataError, match="the Platt Hessian is singular"):
        fit_platt(lambda p: [platt_release(np.zeros(40), y, p, site="a")])
    with pytest.raises(DataError, match="every site withheld its Platt sums"):
        fit_platt(lambda p: [platt_release(np.zeros(25), np.r_[np.zeros(20), np.ones(5)], p,
                                           site="a")])
