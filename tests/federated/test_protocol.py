"""The federated protocol on the heart hospitals: training, validation, the correction
rounds (label shift, recalibration), audit."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from medtransfer.adapt.label_shift import bbse_prior, em_prior
from medtransfer.cli import app
from medtransfer.datasets import files_path, heart_disease
from medtransfer.errors import ConfigError, DataError
from medtransfer.evaluate.delong import delong_ci
from medtransfer.federated.coordinator import run_protocol
from medtransfer.federated.corrections import label_shift_model, recalibration_model
from medtransfer.federated.logistic import local_update, weighted_average
from medtransfer.federated.site import Site

SITES = ("Cleveland", "Hungary", "VA Long Beach", "Switzerland")
CONFIG = {"method": "coral", "rounds": 15, "local_epochs": 5, "learning_rate": 0.5,
          "proximal_mu": 0.0}


CORRECTED = {**CONFIG, "label_shift": "em", "recalibrate": "platt"}


def in_process(sites: dict[str, Site]):
    def ask(kind, request, names):
        return {n: sites[n].answer(kind, request) for n in names}

    return ask


def _run(config, tmp_path_factory):
    audit = tmp_path_factory.mktemp("audit")
    sites = {s: Site(heart_disease(s), audit / f"{s}.jsonl") for s in SITES}
    return sites, run_protocol(in_process(sites), list(SITES), "VA Long Beach", config)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return _run(CONFIG, tmp_path_factory)


@pytest.fixture(scope="module")
def corrected(tmp_path_factory):
    return _run(CORRECTED, tmp_path_factory)


@pytest.fixture(params=["plain", "corrected"])
def federation(request):
    return request.getfixturevalue(request.param)


def test_site_auroc_equals_the_pooled_computation_on_its_rows(federation):
    sites, result = federation
    target = sites["VA Long Beach"]
    Z, y, _ = target.adapted_rows({**result["plan"]})
    w = np.asarray(result["weights"])
    pooled = delong_ci(y, Z @ w[:-1] + w[-1])
    reported = result["target_auroc"]
    assert reported["auroc"] == pytest.approx(pooled["auroc"], abs=1e-12)
    assert reported["interval"][0] == pytest.approx(pooled["low"], abs=1e-9)
    assert reported["interval"][1] == pytest.approx(pooled["high"], abs=1e-9)
    assert 0.6 < reported["auroc"] < 0.95
    # Switzerland has 8 patients without disease: its AUROC is withheld
    assert "suppressed" in result["source_validation"]["sites"]["Switzerland"]


def test_no_message_leaving_a_site_holds_a_row_or_an_identifier(federation):
    sites, result = federation
    for site in sites.values():
        entries = site.audit.entries()
        target = site.name == "VA Long Beach"
        kinds = {"schema", "statistics", "evaluate"} | (set() if target else {"train"})
        if "label_shift" in result:
            kinds |= {"predictions", "em", "platt"} if target else {"confusion", "platt"}
        assert {e["kind"] for e in entries} == kinds
        n = len(site.domain)
        ids = {str(i) for i in site.domain.ids}
        rows = site.domain.inputs.astype(str).to_numpy()
        for entry in entries:
            text = json.dumps(entry["payload"])
            assert not _strings(entry["payload"]) & ids, f"{site.name}: an identifier left the site"
            assert all(len(v) != n for v in _lists(entry["payload"])), "a per-row vector"
            for row in rows:  # no raw row, as a sequence of its values, appears
                assert ", ".join(f'"{v}"' for v in row) not in text
            counts = [v for k, v in _items(entry["payload"]) if k in COUNTS]
            assert all(c is None or c == 0 or c >= 10 for c in counts)


COUNTS = ("n", "n_positive", "n_negative", "missing", "confusion", "class_counts",
          "predicted_counts")


def _pooled_rows(sites, plan, weights, names, held_out):
    """The head's logits and labels over the named sites' rows, pooled (test side only)."""
    scores, labels = [], []
    w = np.asarray(weights)
    for name in names:
        Z, y, _ = sites[name].adapted_rows(plan)
        index = sites[name].held_out(plan) if held_out else np.arange(len(y))
        scores.append(Z[index] @ w[:-1] + w[-1])
        labels.append(y[index])
    return np.concatenate(scores), np.concatenate(labels)


def _platt(score, y):
    fit = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(score[:, None], y)
    return np.array([fit.coef_[0, 0], fit.intercept_[0]])


def test_label_shift_and_recalibration_rounds_equal_the_pooled_computation(corrected):
    sites, result = corrected
    plan, weights, found = result["plan"], result["weights"], result["label_shift"]
    pooled = {name for names in found["columns"] for name in names}
    assert pooled and pooled | set(found["left_out"]) == set(result["sources"])
    # the calibration: Platt on the held-out rows of the sources that answered
    answered = found["calibration"]["sites"]
    score, y = _pooled_rows(sites, plan, weights, answered, held_out=True)
    calibration = np.array([found["calibration"]["a"], found["calibration"]["b"]])
    diffs = {"held-out platt": np.abs(calibration - _platt(score, y)).max()}
    source_prior = np.bincount(y, minlength=2) / len(y)
    # BBSE: each true class's column over the pooled held-out rows of the sources giving it
    conditional = np.zeros((2, 2))
    for j, names in enumerate(found["columns"]):
        score, y = _pooled_rows(sites, plan, weights, names, held_out=True)
        predicted = (expit(calibration[0] * score + calibration[1]) > 0.5).astype(int)
        conditional[:, j] = np.bincount(predicted[y == j], minlength=2) / (y == j).sum()
    target_score, target_y = _pooled_rows(sites, plan, weights, ["VA Long Beach"], False)
    p = expit(calibration[0] * target_score + calibration[1])
    proba = np.column_stack([1 - p, p])
    share = np.bincount(proba.argmax(axis=1), minlength=2) / len(p)
    pooled_bbse = bbse_prior(conditional * source_prior, share, source_prior)
    diffs["bbse"] = np.abs(found["estimates"]["bbse"] - pooled_bbse).max()
    diffs["em"] = np.abs(found["estimates"]["em"] - em_prior(proba, source_prior)).max()
    recalibration = result["recalibration"]
    diffs["target platt"] = np.abs(np.array([recalibration["a"], recalibration["b"]])
                                   - _platt(target_score, target_y)).max()
    print("protocol max abs difference, statistics vs pooled:", diffs, found["left_out"])
    assert max(diffs.values()) < 1e-6
    # the returned models predict through the library's own classes
    X = _encoded(sites["VA Long Beach"], result)
    adjusted = proba * (np.asarray(found["target_prior"]) / source_prior)
    np.testing.assert_allclose(label_shift_model(result).predict_proba(X),
                               adjusted / adjusted.sum(axis=1, keepdims=True), atol=1e-7)
    recalibrated = recalibration_model(result).transform(expit(target_score))[:, 1]
    np.testing.assert_allclose(recalibrated, expit(recalibration["a"] * target_score
                                                   + recalibration["b"]), atol=1e-9)


def _encoded(site, result):
    from medtransfer.features import TabularEncoder

    encoder = TabularEncoder.from_dict(result["plan"]["encoder"])
    names = [str(n) for n in encoder.get_feature_names_out()]
    return encoder.transform(site.domain.inputs)[:, [names.index(f) for f in result["features"]]]


@pytest.mark.parametrize(("flags", "message"), [
    (["--label-shift", "mlls"], r"label_shift='mlls' \(--label-shift\) is unknown; use one of "
     r"\('none', 'bbse', 'em'\)"),
    (["--recalibrate", "isotonic"], r"recalibrate='isotonic' \(--recalibrate\) is unknown; use "
     r"one of \('none', 'platt'\)"),
    (["--label-shift", "em", "--holdout", "1"], r"holdout=1.0 \(--holdout\) cannot give label "
     r"shift held-out source rows; use a share in \(0, 1\) such as 0.5"),
])
def test_unknown_corrections_are_refused_in_one_line(tmp_path, flags, message):
    args = ["federated", str(files_path("heart_disease_uci.csv")), "--label-col", "num",
            "--binary", "--site-col", "dataset", "--target-site", "Hungary", *flags,
            "-o", str(tmp_path / "fed")]
    result = CliRunner().invoke(app, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert re.fullmatch(f"error: {message}", lines[0]), lines[0]
    with pytest.raises(ConfigError, match=message):
        run_protocol(in_process({}), list(SITES), "Hungary", {**CONFIG, **_config(flags)})


def _config(flags):
    keys = {"--label-shift": "label_shift", "--recalibrate": "recalibrate", "--holdout": "holdout"}
    pairs = dict(zip(flags[::2], flags[1::2], strict=True))
    return {keys[k]: float(v) if k == "--holdout" else v for k, v in pairs.items()}


def test_a_site_that_cannot_hold_out_rows_by_class_says_so(tmp_path):
    domain = heart_disease("Hungary")
    one_case = replace(domain, labels=np.r_[np.zeros(len(domain) - 1, int), 1])
    site = Site(one_case, tmp_path / "audit.jsonl")
    with pytest.raises(DataError, match=r"^Hungary: cannot hold out 0.5 of its 293 rows "
                       r"stratified by class .*; choose another --holdout or leave the site out$"):
        site.held_out({"holdout": 0.5, "sources": ["Hungary"]})
    assert site.held_out({"holdout": 0.5, "sources": ["Cleveland"]}).size == 0


def test_fedavg_of_one_site_is_its_local_fit_and_fedprox_stays_near_the_anchor():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(float)
    w = local_update(np.zeros(4), X, y, epochs=200)
    assert w[0] > 1.0 and abs(w[1]) < 0.5
    np.testing.assert_allclose(weighted_average([(w, 200), (w, 50)]), w)
    anchor = np.zeros(4)
    prox = local_update(anchor, X, y, epochs=200, proximal_mu=1.0)
    assert np.linalg.norm(prox) < np.linalg.norm(w)


def _walk(value, key=None):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, k)
    elif isinstance(value, list):
        yield key, value
        for v in value:
            yield from _walk(v, key)
    else:
        yield key, value


def _strings(payload):
    return {v for _, v in _walk(payload) if isinstance(v, str)}


def _lists(payload):
    return [v for _, v in _walk(payload) if isinstance(v, list)]


def _items(payload):
    return [(k, v) for k, v in _walk(payload) if not isinstance(v, (list, dict))]
