"""The federated protocol on the heart hospitals: training, validation, audit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medtransfer.datasets import heart_disease
from medtransfer.evaluate.delong import delong_ci
from medtransfer.federated.coordinator import run_protocol
from medtransfer.federated.logistic import local_update, weighted_average
from medtransfer.federated.site import Site

SITES = ("Cleveland", "Hungary", "VA Long Beach", "Switzerland")
CONFIG = {"method": "coral", "rounds": 15, "local_epochs": 5, "learning_rate": 0.5,
          "proximal_mu": 0.0}


def in_process(sites: dict[str, Site]):
    def ask(kind, request, names):
        calls = {"schema": lambda s: s.schema(),
                 "statistics": lambda s: s.statistics(request["encoder"]),
                 "train": lambda s: s.train(request["weights"], request["plan"]),
                 "evaluate": lambda s: s.evaluate(request["weights"], request["plan"])}
        return {n: calls[kind](sites[n]) for n in names}

    return ask


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    audit = tmp_path_factory.mktemp("audit")
    sites = {s: Site(heart_disease(s), audit / f"{s}.jsonl") for s in SITES}
    result = run_protocol(in_process(sites), list(SITES), "VA Long Beach", CONFIG)
    return sites, result


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
    sites, _ = federation
    for site in sites.values():
        entries = site.audit.entries()
        kinds = {"schema", "statistics", "evaluate"} | (
            set() if site.name == "VA Long Beach" else {"train"})
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
            counts = [v for k, v in _items(entry["payload"]) if k in ("n", "n_positive",
                                                                       "n_negative", "missing")]
            assert all(c is None or c == 0 or c >= 10 for c in counts)


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
