"""Statistics-only adapters equal the pooled fits on the four heart-disease hospitals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from medtransfer.adapt.alignment import AlignedEstimator
from medtransfer.adapt.harmonize import ComBatHarmonized, SiteStandardized
from medtransfer.adapt.skada_adapters import CORALAdapter
from medtransfer.datasets import heart_disease
from medtransfer.errors import DataError
from medtransfer.federated import (
    combat_from_statistics,
    combine,
    compute_site_statistics,
    coral_from_statistics,
    encoder_digest,
    encoder_from_schemas,
    moments_of,
    shared_features,
    site_standardized_from_statistics,
    table_schema,
    with_head,
)
from medtransfer.federated.site_files import site_release
from medtransfer.federated.site_stats import SiteStatistics
from medtransfer.params import ParameterError

SITES = ("Cleveland", "Hungary", "VA Long Beach", "Switzerland")


@pytest.fixture(scope="module")
def hospitals():
    domains = [heart_disease(s) for s in SITES]
    encoder = encoder_from_schemas([table_schema(d.inputs, site=d.name) for d in domains])
    stats = [SiteStatistics.from_dict(site_release(d, encoder)) for d in domains]
    return domains, encoder, stats


def test_moments_combine_exactly_and_move_between_points():
    rng = np.random.default_rng(0)
    parts = [rng.normal(i, 1 + i, (40 + 10 * i, 4)) * [1, 100, 3, 7] for i in range(3)]
    pooled, combined = moments_of(np.vstack(parts)), combine([moments_of(p) for p in parts])
    for name in ("m2", "m3", "m4"):
        np.testing.assert_allclose(getattr(combined, name), getattr(pooled, name), rtol=1e-9)
    raw = pooled.about(np.zeros(4)).about(pooled.mean)
    np.testing.assert_allclose(raw.m4, pooled.m4, rtol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pooled", "from_stats"),
    [
        (lambda h: SiteStandardized(h), site_standardized_from_statistics),
        (lambda h: ComBatHarmonized(h), combat_from_statistics),
        (lambda h: AlignedEstimator(h, CORALAdapter(reg="auto")), coral_from_statistics),
    ],
    ids=["site_standardize", "combat", "coral"],
)
def test_statistics_only_adapter_equals_pooled_fit(hospitals, pooled, from_stats):
    domains, encoder, stats = hospitals
    features = shared_features(stats)
    names = list(encoder.get_feature_names_out())
    keep = [names.index(f) for f in features]
    X = np.vstack([encoder.transform(d.inputs)[:, keep] for d in domains])
    pairs = zip(domains, (1, 2, 3, -1), strict=True)
    codes = np.concatenate([np.full(len(d), c) for d, c in pairs])
    y = np.where(codes < 0, -1, np.concatenate([d.labels for d in domains]))
    head = LogisticRegression(max_iter=5000)
    reference = pooled(head).fit(X, y, sample_domain=codes)
    model = from_stats(stats[:3], stats[3], head)
    est = reference.estimator_
    model = with_head(model, est.coef_, est.intercept_, est.classes_)
    np.testing.assert_allclose(model.transform_domains(X, codes),
                               reference.transform_domains(X, codes), atol=1e-9)
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), atol=1e-12)


def test_small_cells_are_never_released(hospitals):
    domains, _, stats = hospitals
    for domain, site in zip(domains, stats, strict=True):
        counts = [v for v in site.missing.values() if v is not None]
        counts += [m.n for m in site.class_moments.values() if m is not None]
        assert all(c == 0 or c >= 10 for c in counts)
        assert site.privacy["suppressed_features"]  # every hospital has a rare category
        schema = table_schema(domain.inputs, site=domain.name)
        for column in schema["columns"].values():
            others = column.get("categories", {"present": column.get("present")}).values()
            cells = [column["missing"], *others]
            assert all(c is None or c == 0 or c >= 10 for c in cells)
            # one withheld cell would be recoverable from the total: never exactly one
            assert sum(c is None for c in cells) != 1


def test_gaussian_noise_moves_the_statistics_reproducibly(hospitals):
    domains, encoder, _ = hospitals
    X = encoder.transform(domains[0].inputs) / 100.0
    names = [str(n) for n in encoder.get_feature_names_out()]
    kwargs = {"site": "a", "epsilon": 1.0, "clip_norm": 5.0, "random_state": 3}
    noisy = compute_site_statistics(X, domains[0].labels, names, ["0", "1"], **kwargs)
    again = compute_site_statistics(X, domains[0].labels, names, ["0", "1"], **kwargs)
    exact = compute_site_statistics(X, domains[0].labels, names, ["0", "1"], site="a")
    assert noisy.privacy["dp"]["sigma"] > 0
    np.testing.assert_array_equal(noisy.moments.m2, again.moments.m2)
    assert not np.allclose(noisy.moments.mean, exact.moments.mean)


def test_bad_privacy_settings_and_mixed_encoders_are_refused(hospitals):
    domains, encoder, stats = hospitals
    X = encoder.transform(domains[0].inputs)
    with pytest.raises(ParameterError, match=r"^compute_site_statistics\(epsilon=0.5\): needs "
                       r"clip_norm B > 0 .*; e.g. clip_norm=5 on scaled features$"):
        compute_site_statistics(X, None, list(range(X.shape[1])), None, site="a", epsilon=0.5)
    with pytest.raises(ParameterError, match=r"^compute_site_statistics\(epsilon=3.0\): expected "
                       r"a number in \(0, 1\]; the classical Gaussian mechanism holds only there"):
        compute_site_statistics(X, None, [], None, site="a", epsilon=3.0, clip_norm=1.0)
    with pytest.raises(ParameterError, match=r"^compute_site_statistics\(delta=1.0\): expected "
                       r"a number in \(0, 1\); e.g. 1e-5$"):
        compute_site_statistics(X, None, [], None, site="a", epsilon=1.0, delta=1.0, clip_norm=1.0)
    with pytest.raises(ParameterError, match=r"^compute_site_statistics\(clip_norm=0.0\): "
                       r"expected a number > 0; every row is clipped"):
        compute_site_statistics(X, None, [], None, site="a", epsilon=1.0, clip_norm=0.0)
    other = SiteStatistics(**{**stats[1].__dict__, "encoder": "not-the-same"})
    with pytest.raises(DataError, match="different encoders"):
        shared_features([stats[0], other])
    assert stats[0].encoder == encoder_digest(encoder)
    frame = pd.DataFrame({"a": [1.0, 2.0] * 10})
    assert table_schema(frame, site="x")["columns"]["a"]["present"] == 20
