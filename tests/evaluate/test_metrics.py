"""Clinical metrics against scikit-learn, on real heart-disease predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.metrics import classification_metrics, threshold_for_sensitivity

HEART = "/work/shared/data/heart_disease_uci.csv"
NUMERIC = ["age", "trestbps", "chol", "thalch", "oldpeak"]


def heart_predictions() -> tuple[np.ndarray, np.ndarray]:
    """Cleveland-trained logistic regression scored on Hungary: labels (num>0) and P(disease)."""
    df = pd.read_csv(HEART)
    X = pd.get_dummies(df[[*NUMERIC, "sex", "cp", "exang"]].astype({"exang": "string"}),
                       dtype=float)
    X = X.fillna(X.median())
    y = (df["num"] > 0).astype(int).to_numpy()
    src, tgt = (df["dataset"] == "Cleveland").to_numpy(), (df["dataset"] == "Hungary").to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(X[src], y[src])
    return y[tgt], model.predict_proba(X[tgt])


def test_binary_metrics_match_sklearn_on_real_predictions() -> None:
    y, p = heart_predictions()
    m = classification_metrics(y, p, class_names=["healthy", "disease"], threshold=0.4)
    pred = (p[:, 1] >= 0.4).astype(int)
    tn, fp, fn, _ = skm.confusion_matrix(y, pred).ravel()
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    assert m["auprc"] == pytest.approx(skm.average_precision_score(y, p[:, 1]))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
    assert m["specificity"] == pytest.approx(tn / (tn + fp))
    assert m["ppv"] == pytest.approx(skm.precision_score(y, pred))
    assert m["npv"] == pytest.approx(tn / (tn + fn))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, p[:, 1]))
    assert 0.7 < m["auroc"] < 0.95  # a real model transfers imperfectly


def test_ties_and_positive_column_alone_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    score = np.round(rng.random(200) * 0.5 + 0.4 * y, 1)  # heavy ties
    m = classification_metrics(y, score, class_names=["a", "b"])
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert m["auprc"] == pytest.approx(skm.average_precision_score(y, score))


def test_positive_index_zero_flips_the_task() -> None:
    y, p = heart_predictions()
    m = classification_metrics(y, p, class_names=["healthy", "disease"], positive=0)
    pred0 = p[:, 0] >= 0.5
    assert m["sensitivity"] == pytest.approx(skm.recall_score(y == 0, pred0))
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y == 0, p[:, 0]))


def test_multiclass_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) + 1.5 * np.eye(4)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    m = classification_metrics(y, p, class_names=list("abcd"))
    pred = p.argmax(1)
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, p))


def test_undefined_metrics_are_nan_not_errors() -> None:
    m = classification_metrics(np.ones(5, int), np.full(5, 0.7), class_names=["n", "p"])
    assert np.isnan(m["auroc"]) and np.isnan(m["specificity"])
    assert m["sensitivity"] == 1.0


def test_threshold_for_sensitivity_reaches_target_on_labelled_cases() -> None:
    y, p = heart_predictions()
    for target in (0.8, 0.9, 0.95):
        t = threshold_for_sensitivity(y, p, target=target)
        sens = classification_metrics(y, p, class_names=["h", "d"], threshold=t)["sensitivity"]
        assert sens >= target
        # the highest such threshold: any higher one loses sensitivity below target
        above = np.min(p[:, 1][p[:, 1] > t])
        higher = classification_metrics(y, p, class_names=["h", "d"], threshold=above)
        assert higher["sensitivity"] < target


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"proba": np.full((4, 3), 1 / 3)}, DataError, r"shape \(4, 3\).*one column per class"),
        ({"y_true": np.array([0, 1, 2, -1])}, DataError, r"integer codes 0..1.*unlabelled"),
        ({"proba": np.full((4, 2), 1.5)}, DataError, r"within \[0, 1\]"),
        ({"threshold": 1.5}, ConfigError, r"threshold=1.5 is not a probability"),
        ({"positive": 2}, ConfigError, r"positive=2 is not a class index"),
        ({"class_names": ["only"]}, ConfigError, r"at least two classes"),
    ],
)
def test_bad_input_is_named_in_the_error(kwargs, error, match) -> None:
    args = {"y_true": np.array([0, 1, 0, 1]), "proba": np.full((4, 2), 0.5),
            "class_names": ["a", "b"], **kwargs}
    with pytest.raises(error, match=match):
        classification_metrics(args.pop("y_true"), args.pop("proba"), **args)


def test_threshold_errors() -> None:
    p3 = np.full((4, 3), 1 / 3)
    with pytest.raises(ConfigError, match="binary tasks only"):
        classification_metrics(np.array([0, 1, 2, 0]), p3, class_names="abc", threshold=0.3)
    with pytest.raises(DataError, match="no positive sample"):
        threshold_for_sensitivity(np.zeros(4, int), np.full(4, 0.2))
    with pytest.raises(ConfigError, match=r"target sensitivity 1.2 must be in \(0, 1\]"):
        threshold_for_sensitivity(np.array([0, 1]), np.array([0.1, 0.9]), target=1.2)
