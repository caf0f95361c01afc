"""fit_run featurises each domain once: scoring and the embedding reuse the fit's features."""

from __future__ import annotations

import numpy as np

import medtransfer.runs.pipeline as pipeline_module
from medtransfer.datasets import heart_disease
from medtransfer.runs.fit import fit_run
from medtransfer.runs.pipeline import TransferPipeline


def test_fit_run_featurises_source_and_target_once(tmp_path, monkeypatch):
    calls = []
    real_pair, real_one = pipeline_module.featurize_pair, pipeline_module.featurize

    def pair(*args, **kwargs):
        calls.append("pair")
        return real_pair(*args, **kwargs)

    def one(*args, **kwargs):
        calls.append("one")
        return real_one(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "featurize_pair", pair)
    monkeypatch.setattr(pipeline_module, "featurize", one)
    data = heart_disease()
    site = data.metadata["site"].to_numpy()
    source = data.subset(np.flatnonzero(site == "Cleveland"))
    target = data.subset(np.flatnonzero(site == "Hungary"))
    pipeline = TransferPipeline(method="coral", progress=False)
    result = fit_run(pipeline, source, target, tmp_path / "run", target_labels=10,
                     n_resamples=20)
    assert calls == ["pair"]
    fresh = real_one(target, pipeline.feature_spec_)
    held = result.predictions["id"].unique()
    assert len(held) == len(target) - 10
    np.testing.assert_allclose(pipeline.features(target), fresh)
