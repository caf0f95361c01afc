"""EffectPipeline: a T-learner of TransferPipelines, on IWPC warfarin and heart disease."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from medtransfer.bench.warfarin import EXCLUDED_SITES, TARGET_SITES
from medtransfer.datasets.warfarin import warfarin
from medtransfer.errors import ArtifactError, DataError
from medtransfer.runs.effect import EffectPipeline
from medtransfer.runs.pipeline import TransferPipeline


def dose_model(method: str = "transfer_ridge") -> TransferPipeline:
    return TransferPipeline(method=method, classifier="logreg", task="regression",
                            target_transform="sqrt", progress=False)


@pytest.fixture(scope="module")
def populations():
    data = warfarin()
    site = data.metadata["site"].to_numpy()
    source = data.subset(np.flatnonzero(~np.isin(site, [*TARGET_SITES, *EXCLUDED_SITES])))
    return source, data.subset(np.flatnonzero(np.isin(site, TARGET_SITES)))


@pytest.fixture(scope="module")
def amiodarone(populations):
    source, target = populations
    return EffectPipeline("amiodarone", dose_model()).fit(source, target, target_labels=100)


@pytest.mark.slow
def test_amiodarone_lowers_the_dose_carried_to_the_east_asian_sites(amiodarone, populations):
    source, target = populations
    effect = amiodarone.predict(target)
    mu0, mu1 = amiodarone.predict_outcomes(target)
    np.testing.assert_allclose(effect, mu1 - mu0)
    # Amiodarone inhibits warfarin's metabolism: less dose for nearly every patient, several
    # mg/week at these sites (usual dose about 24 mg/week).
    assert np.mean(effect < 0) > 0.9
    assert -15 < effect.mean() < -4
    # The arms learn their own outcomes: the observed treated doses are lower.
    treated = (source.inputs["amiodarone"] == 1).to_numpy()
    assert np.median(source.labels[treated]) < np.median(source.labels[~treated])
    rows = amiodarone.n_rows_
    recorded_target = target.inputs["amiodarone"].notna().sum()
    assert rows["treatment_not_recorded"]["target"] == len(target) - recorded_target
    assert rows["control"]["target"] + rows["treated"]["target"] == 100
    assert rows["treated"]["source"] == int(treated.sum())
    # The treatment is not a feature of the arms' models.
    assert all("amiodarone" not in str(p.feature_spec_) for p in amiodarone.pipelines_.values())


def test_saved_effect_model_predicts_the_same_and_refuses_tampering(amiodarone, populations,
                                                                    tmp_path):
    _, target = populations
    path = amiodarone.save(tmp_path / "effect")
    loaded = EffectPipeline.load(path, progress=False)
    np.testing.assert_array_equal(loaded.predict(target), amiodarone.predict(target))
    assert loaded.treatment == "amiodarone" and loaded.n_rows_ == amiodarone.n_rows_
    with pytest.raises(ArtifactError, match="already exists"):
        amiodarone.save(path)
    manifest = path / "treated" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"regression"', '"classification"'))
    with pytest.raises(ArtifactError, match="sha256"):
        EffectPipeline.load(path)
    with pytest.raises(ArtifactError, match="not an EffectPipeline"):
        EffectPipeline.load(dose_model("source_only").fit(*populations).save(tmp_path / "plain"))


@pytest.mark.slow
def test_binary_outcome_gives_a_risk_difference(populations):
    source, target = (
        replace(d, labels=(d.labels > 30).astype(int), class_names=("<= 30", "> 30 mg/week"))
        for d in populations)
    model = EffectPipeline("amiodarone", TransferPipeline(method="pooled", classifier="logreg",
                                                          progress=False))
    effect = model.fit(source, target, target_labels=100).predict(target)
    mu0, mu1 = model.predict_outcomes(target)
    assert ((mu0 >= 0) & (mu0 <= 1) & (mu1 >= 0) & (mu1 <= 1)).all()
    np.testing.assert_allclose(effect, mu1 - mu0)
    # Amiodarone makes a weekly dose above 30 mg less likely.
    assert effect.mean() < -0.05


def test_bad_treatment_columns_are_named(populations):
    source, target = populations
    with pytest.raises(DataError, match=r"source .* has no column 'heparin'"):
        EffectPipeline("heparin", dose_model()).fit(source, target)
    coded = source.inputs.assign(amiodarone=source.inputs["amiodarone"].map({1.0: "yes"}))
    with pytest.raises(DataError, match=r"column 'amiodarone' holds \['yes'\]; expected 1"):
        EffectPipeline("amiodarone", dose_model()).fit(replace(source, inputs=coded), target)
    never = source.inputs.assign(amiodarone=0.0)
    target_never = target.inputs.assign(amiodarone=0.0)
    with pytest.raises(DataError, match=r"has no labelled treated rows.*outcomes in both"):
        EffectPipeline("amiodarone", dose_model()).fit(
            replace(source, inputs=never), replace(target, inputs=target_never), 20)
    with pytest.raises(NotFittedError, match="not fitted"):
        EffectPipeline("amiodarone").predict(target)


def test_a_rare_binary_outcome_is_predicted_above_its_estimated_prevalence():
    """The arms' risks are unweighted, so at 0.5 a rare event is predicted for almost no
    one; the factual scores use the mean predicted risk as the threshold instead."""
    from sklearn.metrics import balanced_accuracy_score

    from medtransfer.bench.effect_simulation import simulate_trial
    from medtransfer.runs.effect_scores import score_effect

    trial = simulate_trial(outcome="binary", random_state=3)
    rng = np.random.default_rng(0)

    def rare(domain):
        keep = (domain.labels == 0) | (rng.random(len(domain)) < 0.25)
        return domain.subset(np.flatnonzero(keep))

    source, target = rare(trial.source), rare(trial.target)
    template = TransferPipeline(method="source_only", classifier="logreg", progress=False)
    effect = EffectPipeline("treated", template, n_refits=0).fit(source, target)
    frame = effect.predict_frame(target)
    metrics = score_effect(effect, target, frame, n_resamples=20)
    treated = frame["treatment"].to_numpy() == 1
    risk = np.where(treated, frame["outcome_treated"], frame["outcome_control"])
    threshold = metrics["factual_threshold"]["value"]
    assert threshold == pytest.approx(risk.mean()) and threshold < 0.2
    at_half = balanced_accuracy_score(target.labels, risk > 0.5)
    assert metrics["factual"]["balanced_accuracy"]["value"] == pytest.approx(
        balanced_accuracy_score(target.labels, risk >= threshold))
    assert metrics["factual"]["balanced_accuracy"]["value"] > at_half + 0.05
